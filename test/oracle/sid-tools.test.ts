/**
 * sid's tool versions under --compat=262 (wasm/sid/erofs: erofs-utils 1.9.4, wasm/sid/squashfs:
 * squashfs-tools 4.7.5), against Debian sid, whose systemd-repart 262 runs them:
 *  - whole images through the CLI against sid's systemd-repart: erofs (and so the verity root
 *    hash and the UUIDs derived from it: nixpkgs' verityStore pair) and squashfs, byte for byte,
 *    JSON equal;
 *  - our mkfs.erofs/mksquashfs against sid's native ones (`reference-repart --exec`) on the same
 *    tree, arguments and SOURCE_DATE_EPOCH, with each compression repart users pick;
 *  - --compat=257 still runs trixie's builds (1.8.6/4.6.1), whose bytes differ from sid's.
 * Skipped without root or the oracle (referenceSkipReason).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REFERENCE, referenceSkipReason, runOurs, runReference } from '../helpers/reference.js';
import { toolArtifact, toolSetFor } from '../../src/fs/wasm/host.js';

const SEED = '3b8f0a52-6c1d-4e7f-9a20-5d4c3b2a1f0e';
const EPOCH = '1735689600';
const skip = referenceSkipReason('sid') ?? false;

function makeTree(root: string): void {
  mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  mkdirSync(path.join(root, 'usr/share/doc/x'), { recursive: true });
  mkdirSync(path.join(root, 'nix/store/abc-hello/bin'), { recursive: true });
  writeFileSync(path.join(root, 'usr/bin/tool'), '#!/bin/sh\necho hi\n');
  chmodSync(path.join(root, 'usr/bin/tool'), 0o4755);
  symlinkSync('tool', path.join(root, 'usr/bin/alias'));
  linkSync(path.join(root, 'usr/bin/tool'), path.join(root, 'usr/bin/tool2'));
  // compressible text and incompressible bytes, large enough for several erofs pclusters
  const lines = Array.from({ length: 20000 }, (_, i) => `line ${i} of a compressible document\n`).join('');
  writeFileSync(path.join(root, 'usr/share/doc/x/README'), lines);
  let x = 0x12345678;
  const noise = Buffer.alloc(300_000);
  for (let i = 0; i < noise.length; i++) { x = (x * 1103515245 + 12345) >>> 0; noise[i] = x >>> 24; }
  writeFileSync(path.join(root, 'nix/store/abc-hello/bin/hello'), noise);
  writeFileSync(path.join(root, 'empty'), '');
}

function setup(defs: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sid-tools-'));
  makeTree(path.join(dir, 'tree'));
  mkdirSync(path.join(dir, 'defs'));
  for (const [n, c] of Object.entries(defs)) writeFileSync(path.join(dir, 'defs', n), c.replaceAll('%DIR%', dir));
  return dir;
}

/** The same call through sid's systemd-repart 262 and ours (default --compat, 262). */
function both(dir: string, extra: string[] = []): { ref: string; ours: string; refJson: unknown[]; ourJson: unknown[] } {
  const args = ['--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short', ...extra];
  const env = { SOURCE_DATE_EPOCH: EPOCH };
  const r = runReference('sid', [...args, 'ref.raw'], dir, env);
  assert.equal(r.status, 0, r.stderr);
  const o = runOurs(['--quiet', ...args, 'ours.raw'], dir, env);
  assert.equal(o.status, 0, o.stderr);
  const norm = (s: string, n: string) => JSON.parse(s.replaceAll(n, 'IMG')) as unknown[];
  const refJson = norm(r.stdout, 'ref.raw');
  const ourJson = norm(o.stdout, 'ours.raw');
  assert.deepEqual(ourJson, refJson, 'JSON (sizes, UUIDs, root hashes)');
  return { ref: path.join(dir, 'ref.raw'), ours: path.join(dir, 'ours.raw'), refJson, ourJson };
}

function differingBytes(a: string, b: string): number {
  const r = spawnSync('cmp', ['-l', a, b], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return r.stdout.split('\n').filter(Boolean).length;
}

/** A tool of sid's tree, with `dir` visible inside. */
function sidNative(dir: string, tool: string, args: string[]): void {
  const r = spawnSync(REFERENCE, ['--exec', tool, ...args], {
    cwd: dir, encoding: 'utf8', timeout: 5 * 60 * 1000, env: { ...process.env, REFERENCE_SUITE: 'sid', SOURCE_DATE_EPOCH: EPOCH },
  });
  assert.equal(r.status, 0, `${tool}: ${r.stdout}${r.stderr}`);
}

describe('sid tool versions under --compat=262', () => {
  it('262 selects the sid builds, 257 keeps trixie\'s', () => {
    assert.equal(toolArtifact('mkfs.erofs', toolSetFor(262)), 'sid/erofs/mkfs.erofs');
    assert.equal(toolArtifact('mksquashfs', toolSetFor(262)), 'sid/squashfs/mksquashfs');
    assert.equal(toolArtifact('mkfs.erofs', toolSetFor(257)), 'erofs/mkfs.erofs');
    assert.equal(toolArtifact('mksquashfs', toolSetFor(257)), 'squashfs/mksquashfs');
  });

  it('nixpkgs verityStore pair (erofs Verity=data + Verity=hash, Minimize=best): root hash, UUIDs and the whole image equal 262\'s', { skip, timeout: 600_000 }, () => {
    const dir = setup({
      '10-store-verity.conf': '[Partition]\nType=usr-verity\nLabel=store-verity\nVerity=hash\nVerityMatchKey=store\nMinimize=best\n',
      '20-store.conf': '[Partition]\nType=usr\nLabel=store\nFormat=erofs\nCopyFiles=%DIR%/tree:/\nVerity=data\nVerityMatchKey=store\nMinimize=best\n',
    });
    try {
      const { ref, ours, ourJson } = both(dir);
      const [h, d] = ourJson as { roothash?: string; uuid: string }[];
      assert.match(h!.roothash ?? '', /^[0-9a-f]{64}$/);
      assert.equal(d!.roothash, h!.roothash);
      assert.equal(differingBytes(ref, ours), 0, 'bytes differing from 262\'s image');
      // the same pair under --compat=257 runs erofs-utils 1.8.6: another erofs, another root hash
      const o = runOurs(['--quiet', '--compat=257', '--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short', 'old.raw'],
        dir, { SOURCE_DATE_EPOCH: EPOCH });
      assert.equal(o.status, 0, o.stderr);
      const old = JSON.parse(o.stdout) as { roothash?: string }[];
      assert.notEqual(old[0]!.roothash, h!.roothash, '1.8.6 and 1.9.4 give different erofs bytes for this tree');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });

  for (const c of [
    { fmt: 'erofs', compression: '' },
    { fmt: 'erofs', compression: 'Compression=lz4hc\nCompressionLevel=12\n' },
    { fmt: 'erofs', compression: 'Compression=zstd\n' },
    { fmt: 'squashfs', compression: '' },
    { fmt: 'squashfs', compression: 'Compression=zstd\n' },
    { fmt: 'squashfs', compression: 'Compression=xz\n' },
  ]) {
    const name = `${c.fmt}${c.compression ? ' ' + c.compression.trim().replace(/\n/g, ' ') : ''}`;
    it(`${name}, Minimize=best, a partition after it: the whole image equals 262's`, { skip, timeout: 600_000 }, () => {
      const dir = setup({
        '10-usr.conf': `[Partition]\nType=usr\nFormat=${c.fmt}\nCopyFiles=%DIR%/tree:/\nMinimize=best\n${c.compression}`,
        '20-home.conf': '[Partition]\nType=home\nSizeMinBytes=20M\n',
      });
      try {
        const { ref, ours } = both(dir);
        assert.equal(differingBytes(ref, ours), 0, 'bytes differing from 262\'s image');
      } finally { rmSync(dir, { recursive: true, force: true }); }
    });
  }

  it('squashfs: our mksquashfs (4.7.5) writes what sid\'s native mksquashfs writes, lzo, lz4 and gzip levels too', { skip, timeout: 600_000 }, () => {
    const dir = setup({});
    try {
      for (const comp of [[], ['-comp', 'lzo'], ['-comp', 'lz4'], ['-comp', 'gzip', '-Xcompression-level', '1']]) {
        const conf = comp.length ? `Compression=${comp[1]}\n${comp[3] ? `CompressionLevel=${comp[3]}\n` : ''}` : '';
        rmSync(path.join(dir, 'defs'), { recursive: true, force: true });
        mkdirSync(path.join(dir, 'defs'));
        // AddValidateFS=no: the same tree as the native run's (no user.validatefs.* on the root)
        writeFileSync(path.join(dir, 'defs/10-usr.conf'), `[Partition]\nType=usr\nFormat=squashfs\nCopyFiles=${dir}/tree:/\nMinimize=best\nAddValidateFS=no\n${conf}`);
        rmSync(path.join(dir, 'ours.raw'), { force: true });
        const o = runOurs(['--quiet', '--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short', 'ours.raw'], dir, { SOURCE_DATE_EPOCH: EPOCH });
        assert.equal(o.status, 0, o.stderr);
        const [p] = JSON.parse(o.stdout) as { offset: number; raw_size: number }[];
        rmSync(path.join(dir, 'native.sqfs'), { force: true });
        sidNative(dir, 'mksquashfs', [path.join(dir, 'tree'), path.join(dir, 'native.sqfs'), '-noappend', ...comp]);
        const native = readFileSync(path.join(dir, 'native.sqfs'));
        const ours = readFileSync(path.join(dir, 'ours.raw')).subarray(p!.offset, p!.offset + native.length);
        assert.ok(native.length <= p!.raw_size, `native ${native.length} bytes fit the partition (${p!.raw_size})`);
        assert.ok(ours.equals(native), `mksquashfs ${comp.join(' ') || '(gzip)'}: byte-identical to sid's native mksquashfs`);
      }
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
