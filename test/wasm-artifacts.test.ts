/**
 * The committed WebAssembly builds: checksums match, sources and licenses are recorded, the
 * build never runs from npm, and the modules load and run (`-V`) in this Node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_TOOL_SET, WASM_DIR, runTool, toolSetFor } from '../src/fs/wasm/host.js';
import { DEFAULT_SYSTEMD_VERSION } from '../src/fs/wasm/common.js';

const ROOT = path.resolve(WASM_DIR, '..');

/** Every line of <dir>/SHA256SUMS matches its file; returns the names listed. */
function checkSums(dir: string): Set<string> {
  const sums = fs.readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8').trim().split('\n');
  const names = new Set<string>();
  for (const line of sums) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    assert.ok(m, `bad line: ${line}`);
    const [, sum, name] = m;
    names.add(name!);
    const actual = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, name!))).digest('hex');
    assert.equal(actual, sum, `${name} does not match SHA256SUMS (rebuild with tools/build-wasm.sh install)`);
  }
  return names;
}

function checkPatches(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const p of fs.readdirSync(dir)) {
    assert.match(fs.readFileSync(path.join(dir, p), 'utf8'), /^Subject: /, `${p} explains itself`);
  }
}

test('wasm/SHA256SUMS matches every committed artifact', () => {
  const names = checkSums(WASM_DIR);
  for (const f of ['mke2fs.cjs', 'mke2fs.wasm', 'mkfs.btrfs.cjs', 'mkfs.btrfs.wasm', 'mke2fs.conf']) assert.ok(names.has(f), f);
});

test('wasm/SOURCES pins the Debian source versions; license texts are shipped', () => {
  const src = fs.readFileSync(path.join(WASM_DIR, 'SOURCES'), 'utf8');
  assert.match(src, /^debian-suite: trixie$/m);
  assert.match(src, /^e2fsprogs: 1\.47\.2-3$/m);
  assert.match(src, /^btrfs-progs: 6\.14-1$/m);
  assert.match(src, /^emscripten: 3\.1\.6/m);
  for (const f of ['e2fsprogs-NOTICE', 'btrfs-progs-COPYING', 'zlib-LICENSE']) {
    assert.ok(fs.statSync(path.join(WASM_DIR, 'licenses', f)).size > 500, f);
  }
  checkPatches(path.join(WASM_DIR, 'patches'));
});

// The sid set (systemd-repart 262, the default --compat): e2fsprogs 1.47.4 only, for now
// (btrfs-progs 7.3's sources are not on the build's mirror; see wasm/sid/README.md).
const SID = path.join(WASM_DIR, 'sid');

test('wasm/sid/SHA256SUMS matches every artifact of the sid set', () => {
  const names = checkSums(SID);
  for (const f of ['mke2fs.cjs', 'mke2fs.wasm', 'mke2fs.conf']) assert.ok(names.has(f), f);
  // sid's /etc/mke2fs.conf is e2fsprogs' misc/mke2fs.conf.in, as trixie's is: same text
  assert.equal(fs.readFileSync(path.join(SID, 'mke2fs.conf'), 'utf8'), fs.readFileSync(path.join(WASM_DIR, 'mke2fs.conf'), 'utf8'));
});

test('wasm/sid/SOURCES pins sid\'s source versions, with the same toolchain; license texts are shipped', () => {
  const src = fs.readFileSync(path.join(SID, 'SOURCES'), 'utf8');
  const trixie = fs.readFileSync(path.join(WASM_DIR, 'SOURCES'), 'utf8');
  assert.match(src, /^debian-suite: sid$/m);
  assert.match(src, /^e2fsprogs: 1\.47\.4-1$/m);
  for (const k of ['emscripten', 'clang', 'binaryen']) {
    const re = new RegExp(`^${k}: (.+)$`, 'm');
    assert.equal(re.exec(src)?.[1], re.exec(trixie)?.[1], `${k}: the same toolchain as the trixie set`);
  }
  assert.match(src, /^ {2}[0-9a-f]{64} {2}e2fsprogs_1\.47\.4\.orig\.tar\.gz$/m);
  assert.match(src, /^ {2}[0-9a-f]{64} {2}e2fsprogs_1\.47\.4-1\.debian\.tar\.xz$/m);
  for (const f of ['e2fsprogs-NOTICE', 'e2fsprogs-debian-copyright']) {
    assert.ok(fs.statSync(path.join(SID, 'licenses', f)).size > 500, f);
  }
  checkPatches(path.join(SID, 'patches'));
});

test('the wasm build is a developer tool: no npm script runs it', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  for (const [name, cmd] of Object.entries(pkg.scripts)) assert.doesNotMatch(cmd, /build-wasm|emcc|emconfigure/, name);
});

test('both tools load and report their versions; the sid set is selected for systemd >= 258', async () => {
  const e = await runTool({ tool: 'mke2fs', toolSet: 'trixie', argv0: 'mke2fs', args: ['-V'], env: {} });
  assert.equal(e.status, 0, e.stderr);
  assert.match(e.stderr, /mke2fs 1\.47\.2 \(1-Jan-2025\)/);
  const s = await runTool({ tool: 'mke2fs', toolSet: toolSetFor(262), argv0: 'mke2fs', args: ['-V'], env: {} });
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stderr, /mke2fs 1\.47\.4 /);
  assert.equal(toolSetFor(257), 'trixie');
  assert.equal(toolSetFor(258), 'sid');
  assert.equal(DEFAULT_TOOL_SET, toolSetFor(DEFAULT_SYSTEMD_VERSION));
  for (const set of ['trixie', 'sid'] as const) {
    const b = await runTool({ tool: 'mkfs.btrfs', toolSet: set, argv0: 'mkfs.btrfs', args: ['--version'], env: {} });
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stdout + b.stderr, /v6\.14/);
  }
});
