/**
 * The committed WebAssembly builds: checksums match, sources and licenses are recorded, the
 * build never runs from npm, and the modules load and run (`-V`) in this Node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WASM_DIR, runTool } from '../src/fs/wasm/host.js';

const ROOT = path.resolve(WASM_DIR, '..');

test('wasm/SHA256SUMS matches every committed artifact', () => {
  const sums = fs.readFileSync(path.join(WASM_DIR, 'SHA256SUMS'), 'utf8').trim().split('\n');
  const names = new Set<string>();
  for (const line of sums) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    assert.ok(m, `bad line: ${line}`);
    const [, sum, name] = m;
    names.add(name!);
    const actual = crypto.createHash('sha256').update(fs.readFileSync(path.join(WASM_DIR, name!))).digest('hex');
    assert.equal(actual, sum, `${name} does not match SHA256SUMS (rebuild with tools/build-wasm.sh install)`);
  }
  for (const f of ['mke2fs.cjs', 'mke2fs.wasm', 'mkfs.btrfs.cjs', 'mkfs.btrfs.wasm', 'mke2fs.conf']) assert.ok(names.has(f), f);
});

test('wasm/SOURCES pins the Debian source versions; license texts are shipped', () => {
  const src = fs.readFileSync(path.join(WASM_DIR, 'SOURCES'), 'utf8');
  assert.match(src, /^e2fsprogs: 1\.47\.2-3$/m);
  assert.match(src, /^btrfs-progs: 6\.14-1$/m);
  assert.match(src, /^emscripten: 3\.1\.6/m);
  for (const f of ['e2fsprogs-NOTICE', 'btrfs-progs-COPYING', 'zlib-LICENSE']) {
    assert.ok(fs.statSync(path.join(WASM_DIR, 'licenses', f)).size > 500, f);
  }
  for (const p of fs.readdirSync(path.join(WASM_DIR, 'patches'))) {
    assert.match(fs.readFileSync(path.join(WASM_DIR, 'patches', p), 'utf8'), /^Subject: /, `${p} explains itself`);
  }
});

test('the wasm build is a developer tool: no npm script runs it', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  for (const [name, cmd] of Object.entries(pkg.scripts)) assert.doesNotMatch(cmd, /build-wasm|emcc|emconfigure/, name);
});

test('both tools load and report their versions', async () => {
  const e = await runTool({ tool: 'mke2fs', argv0: 'mke2fs', args: ['-V'], env: {} });
  assert.equal(e.status, 0, e.stderr);
  assert.match(e.stderr, /mke2fs 1\.47\.2 \(1-Jan-2025\)/);
  const b = await runTool({ tool: 'mkfs.btrfs', argv0: 'mkfs.btrfs', args: ['--version'], env: {} });
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout + b.stderr, /v6\.14/);
});
