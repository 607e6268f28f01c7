/**
 * The committed WebAssembly mkfs.xfs (wasm/xfs/trixie/, tools/build-xfs-wasm.sh): checksums
 * match, Debian sources and our shims/patches are recorded, licenses are shipped, and the
 * module loads and reports its version for both --compat modes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTool, toolArtifact, WASM_DIR } from '../src/fs/wasm/host.js';

const XFS = path.join(WASM_DIR, 'xfs', 'trixie');

test('wasm/xfs/trixie/SHA256SUMS matches mkfs.xfs.cjs and mkfs.xfs.wasm', () => {
  const lines = fs.readFileSync(path.join(XFS, 'SHA256SUMS'), 'utf8').trim().split('\n');
  const names = new Set<string>();
  for (const line of lines) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    assert.ok(m, `bad line: ${line}`);
    names.add(m[2]!);
    const actual = crypto.createHash('sha256').update(fs.readFileSync(path.join(XFS, m[2]!))).digest('hex');
    assert.equal(actual, m[1], `${m[2]} does not match SHA256SUMS (rebuild with tools/build-xfs-wasm.sh)`);
  }
  assert.deepEqual([...names].sort(), ['mkfs.xfs.cjs', 'mkfs.xfs.wasm']);
});

test('wasm/xfs/trixie/SOURCES pins the Debian sources, toolchain and every shim and patch', () => {
  const src = fs.readFileSync(path.join(XFS, 'SOURCES'), 'utf8');
  assert.match(src, /^debian-suite: trixie$/m);
  assert.match(src, /^xfsprogs: 6\.13\.0-2\+deb13u1$/m);
  assert.match(src, /^libinih: 59-1/m);
  assert.match(src, /^emscripten: 3\.1\.6/m);
  assert.match(src, /^ {2}[0-9a-f]{64} {2}xfsprogs_6\.13\.0\.orig\.tar\.xz$/m);
  assert.match(src, /^ {2}[0-9a-f]{64} {2}xfsprogs_6\.13\.0-2\+deb13u1\.debian\.tar\.xz$/m);
  // each shim/patch listed with the hash of the file as committed
  const shims = [...src.matchAll(/^ {2}([0-9a-f]{64}) {2}((?:xfs|shim|glue)\/\S+)$/gm)];
  assert.ok(shims.length >= 10, 'shims and patches are listed');
  // -p <directory> (262): our population code, the patch that includes it, the mtime glue
  for (const f of ['xfs/ext/populate_dir.c', 'xfs/patches/trixie-populate-dir.patch', 'xfs/glue/mtime.js']) {
    assert.ok(shims.some(([, , rel]) => rel === f), `${f} is listed`);
  }
  for (const [, sum, rel] of shims) {
    const actual = crypto.createHash('sha256').update(fs.readFileSync(path.join(WASM_DIR, rel!))).digest('hex');
    assert.equal(actual, sum, `${rel} changed since the build (rebuild with tools/build-xfs-wasm.sh)`);
  }
  for (const p of fs.readdirSync(path.join(WASM_DIR, 'xfs', 'patches'))) {
    assert.match(fs.readFileSync(path.join(WASM_DIR, 'xfs', 'patches', p), 'utf8'), /^Subject: /, `${p} explains itself`);
  }
  for (const f of ['GPL-2.0', 'LGPL-2.1', 'xfsprogs-debian-copyright', 'libinih-LICENSE.txt']) {
    assert.ok(fs.statSync(path.join(XFS, 'licenses', f)).size > 500, f);
  }
});

test('mkfs.xfs loads and reports 6.13.0; both tool sets run that build (sid 7.2.0 sources unavailable)', async () => {
  assert.equal(toolArtifact('mkfs.xfs', 'trixie'), 'xfs/trixie/mkfs.xfs');
  assert.equal(toolArtifact('mkfs.xfs', 'sid'), 'xfs/trixie/mkfs.xfs');
  const r = await runTool({ tool: 'mkfs.xfs', toolSet: 'sid', argv0: 'mkfs.xfs', args: ['-V'], env: {} });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /mkfs\.xfs version 6\.13\.0/);
});
