/**
 * erofs and squashfs under 262 against sid's systemd-repart 262 (erofs-utils 1.9.4,
 * squashfs-tools 4.7.5), whole images byte for byte and JSON equal:
 *  - without CopyFiles= (an empty file system), with only MakeDirectories=/MakeSymlinks=, under
 *    each Minimize=;
 *  - every Compression= the tools offer, on a tree with files over 64 KiB (lz4 compresses those
 *    with other hash and table choices on 32-bit hosts: wasm/rofs/patches/lz4-x86_64-output.patch);
 *  - Verity=data on erofs without Minimize= in fixed partitions: the tree covers the erofs
 *    image, not the partition (also 257, trixie);
 *  - mksquashfs -comp lz4 and mkfs.erofs -zlz4 against sid's native tools.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REFERENCE, referenceSkipReason, runOurs, runReference, type Suite } from '../helpers/reference.js';

const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';
const EPOCH = '1700000000';
const sid = referenceSkipReason('sid') ?? false;

function makeTree(root: string): void {
  mkdirSync(path.join(root, 'usr/share/doc'), { recursive: true });
  mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  writeFileSync(path.join(root, 'usr/share/doc/README'), Array.from({ length: 20000 }, (_, i) => `line ${i} of a compressible document\n`).join(''));
  let x = 0x12345678;
  const noise = Buffer.alloc(300_000);
  for (let i = 0; i < noise.length; i++) { x = (x * 1103515245 + 12345) >>> 0; noise[i] = x >>> 24; }
  writeFileSync(path.join(root, 'usr/bin/noise'), noise);
  writeFileSync(path.join(root, 'usr/bin/small'), '#!/bin/sh\necho hi\n');
}

function setup(defs: Record<string, string>, tree = true): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rofs-parity-'));
  if (tree) makeTree(path.join(dir, 'tree'));
  mkdirSync(path.join(dir, 'defs'));
  for (const [n, c] of Object.entries(defs)) writeFileSync(path.join(dir, 'defs', n), c.replaceAll('%DIR%', dir));
  return dir;
}

/** The same call through systemd-repart (suite) and ours; JSON and the whole image equal. */
function same(suite: Suite, dir: string, extra: string[] = []): unknown[] {
  const args = ['--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short', '--dry-run=no', ...extra];
  const env = { SOURCE_DATE_EPOCH: EPOCH };
  const r = runReference(suite, [...args, 'ref.raw'], dir, env);
  assert.equal(r.status, 0, r.stderr);
  const o = runOurs([...(suite === 'trixie' ? ['--compat=257'] : []), '--quiet', ...args, 'ours.raw'], dir, env);
  assert.equal(o.status, 0, o.stderr);
  const norm = (s: string, n: string) => JSON.parse(s.replaceAll(n, 'IMG')) as unknown[];
  const rows = norm(o.stdout, 'ours.raw');
  assert.deepEqual(rows, norm(r.stdout, 'ref.raw'), 'JSON');
  assert.ok(readFileSync(path.join(dir, 'ours.raw')).equals(readFileSync(path.join(dir, 'ref.raw'))), 'the whole image equals repart\'s');
  return rows;
}

describe('erofs/squashfs vs systemd-repart 262 (sid tools)', () => {
  for (const fmt of ['erofs', 'squashfs']) {
    it(`${fmt} without CopyFiles=: empty, and with only MakeDirectories=/MakeSymlinks=, under Minimize=off/guess/best`, { skip: sid, timeout: 10 * 60 * 1000 }, () => {
      for (const minimize of ['off', 'guess', 'best']) {
        for (const content of ['', 'MakeDirectories=/usr /etc/a/b\nMakeSymlinks=/bin:usr/bin\n']) {
          const dir = setup({
            '10-usr.conf': `[Partition]\nType=usr\nFormat=${fmt}\nMinimize=${minimize}\nLabel=the-usr\n${content}`,
            '20-home.conf': '[Partition]\nType=home\nSizeMinBytes=2M\n',
          }, false);
          try { same('sid', dir); } finally { rmSync(dir, { recursive: true, force: true }); }
        }
      }
    });
  }

  for (const [fmt, comps] of [['erofs', ['lz4', 'lz4hc', 'zstd', 'lzma', 'deflate']], ['squashfs', ['gzip', 'lz4', 'lzo', 'lzma', 'xz', 'zstd']]] as const) {
    for (const comp of comps) {
      it(`${fmt} Compression=${comp}, Minimize=best: the whole image equals 262's`, { skip: sid, timeout: 10 * 60 * 1000 }, () => {
        const dir = setup({ '10-usr.conf': `[Partition]\nType=usr\nFormat=${fmt}\nCopyFiles=%DIR%/tree:/\nMinimize=best\nCompression=${comp}\n` });
        try { same('sid', dir); } finally { rmSync(dir, { recursive: true, force: true }); }
      });
    }
  }

  it('mksquashfs -comp lz4 and mkfs.erofs -zlz4: byte-identical to sid\'s native tools', { skip: sid, timeout: 10 * 60 * 1000 }, () => {
    const dir = setup({});
    try {
      const cases: [string, string, string[]][] = [
        ['squashfs', 'Compression=lz4\n', ['mksquashfs', path.join(dir, 'tree'), path.join(dir, 'native.img'), '-noappend', '-comp', 'lz4']],
        ['erofs', 'Compression=lz4\n', ['mkfs.erofs', '-U', '6aecae46-c226-41bf-b68e-e48d70216d8f', '-zlz4', path.join(dir, 'native.img'), path.join(dir, 'tree')]],
      ];
      for (const [fmt, conf, native] of cases) {
        rmSync(path.join(dir, 'defs'), { recursive: true, force: true });
        mkdirSync(path.join(dir, 'defs'));
        // AddValidateFS=no: the same tree as the native run's; the fs UUID as repart derives it for this seed
        writeFileSync(path.join(dir, 'defs/10-usr.conf'), `[Partition]\nType=usr\nFormat=${fmt}\nCopyFiles=${dir}/tree:/\nMinimize=best\nAddValidateFS=no\n${conf}`);
        rmSync(path.join(dir, 'ours.raw'), { force: true });
        const o = runOurs(['--quiet', '--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short', 'ours.raw'], dir, { SOURCE_DATE_EPOCH: EPOCH });
        assert.equal(o.status, 0, o.stderr);
        const [p] = JSON.parse(o.stdout) as { offset: number; raw_size: number }[];
        rmSync(path.join(dir, 'native.img'), { force: true });
        const n = spawnSync(REFERENCE, ['--exec', ...native], { cwd: dir, encoding: 'utf8', env: { ...process.env, REFERENCE_SUITE: 'sid', SOURCE_DATE_EPOCH: EPOCH } });
        assert.equal(n.status, 0, n.stdout + n.stderr);
        const theirs = readFileSync(path.join(dir, 'native.img'));
        const ours = readFileSync(path.join(dir, 'ours.raw')).subarray(p!.offset, p!.offset + theirs.length);
        assert.ok(theirs.length <= p!.raw_size, `native ${theirs.length} bytes fit the partition (${p!.raw_size})`);
        assert.ok(ours.equals(theirs), `${native[0]} lz4: byte-identical to sid's`);
      }
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

for (const suite of ['sid', 'trixie'] as Suite[]) {
  describe(`Verity=data on erofs without Minimize= vs systemd-repart ${suite === 'sid' ? '262' : '257'}`, () => {
    it('fixed partition sizes: the hash tree covers the erofs image (root hash, UUIDs, the whole image equal)', { skip: referenceSkipReason(suite) ?? false, timeout: 10 * 60 * 1000 }, () => {
      const dir = setup({
        '10-root.conf': '[Partition]\nType=root\nFormat=erofs\nCopyFiles=%DIR%/tree:/\nVerity=data\nVerityMatchKey=root\nSizeMinBytes=4M\nSizeMaxBytes=4M\n',
        '20-root-verity.conf': '[Partition]\nType=root-verity\nVerity=hash\nVerityMatchKey=root\nSizeMinBytes=1M\nSizeMaxBytes=1M\n',
      });
      try {
        const rows = same(suite, dir) as { roothash?: string }[];
        assert.match(rows[0]!.roothash ?? '', /^[0-9a-f]{64}$/);
        // and the dry run prints the same root hash
        const args = ['--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short', '--dry-run=yes'];
        const r = runReference(suite, [...args, 'ref2.raw'], dir, { SOURCE_DATE_EPOCH: EPOCH });
        const o = runOurs([...(suite === 'trixie' ? ['--compat=257'] : []), '--quiet', ...args, 'ours2.raw'], dir, { SOURCE_DATE_EPOCH: EPOCH });
        assert.equal(o.status, r.status, o.stderr);
        assert.equal(o.stdout.replaceAll('ours2.raw', 'IMG'), r.stdout.replaceAll('ref2.raw', 'IMG'), 'dry-run JSON');
      } finally { rmSync(dir, { recursive: true, force: true }); }
    });
  });
}
