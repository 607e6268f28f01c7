/**
 * Oracle tier: the block count (and the bytes) of ext2/ext3/ext4 at sizes that are not a
 * multiple of 64 KiB, against native mkfs.ext2/3/4 of sid (262's arguments) and trixie (257's).
 *
 * Issue 14: the WebAssembly mke2fs saw sysconf(_SC_PAGESIZE) = 64 KiB (wasm's memory page) and
 * rounded the device's block count down to 16 blocks, so a 12539-block partition got 12528
 * (TEST-58's ext_reproducibility, verity). wasm/shim/pagesize.c reports Linux's 4 KiB.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ext4Driver, mke2fsArgs, mke2fsEnv } from '../../src/fs/ext4/index.js';
import { closeWorkerPool } from '../../src/fs/pool.js';
import { REFERENCE, referenceSkipReason } from '../helpers/reference.js';
import { ext4Job, MiB, sparseImage } from '../helpers/fs-jobs.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ext4-sizes-'));
after(async () => {
  await closeWorkerPool();
  fs.rmSync(work, { recursive: true, force: true });
});

const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? 'needs root (the oracle)' : referenceSkipReason('sid') ?? referenceSkipReason('trixie');

// odd sizes from 2 MiB to 2 GiB: 1 to 15 blocks past a 64 KiB boundary, and TEST-58's 50M partition
const SIZES = [2 * MiB + 3 * 4096, 7 * MiB + 4096, 17 * MiB + 11 * 4096, 100312 * 512, 129 * MiB + 15 * 4096, 333 * MiB + 5 * 4096, 2048 * MiB - 4096];

const header = (p: string) => execFileSync('dumpe2fs', ['-h', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
const field = (h: string, k: string) => new RegExp(`^${k}:\\s+(.*)$`, 'm').exec(h)?.[1];

for (const format of ['ext4', 'ext3', 'ext2'] as const) {
  for (const version of [262, 257]) {
    test(`${format}, ${version}: the same block count as native mkfs.${format} at sizes off 64 KiB`, { skip: skip ?? false, timeout: 10 * 60_000 }, async () => {
      for (const size of SIZES) {
        const mine = sparseImage(work, 'mine.img', size);
        const j = ext4Job({ format, window: { path: mine, offset: 0, size }, systemdVersion: version });
        await ext4Driver.format(j);
        const ref = sparseImage(work, 'ref.img', size);
        const args = mke2fsArgs(j).map((a) => (a === '/dev/repart-partition' ? ref : a));
        const env: NodeJS.ProcessEnv = { ...process.env, ...mke2fsEnv(j), REFERENCE_BIND: work, REFERENCE_SUITE: version >= 258 ? 'sid' : 'trixie' };
        delete env.MKE2FS_CONFIG; // the chroot's own /etc/mke2fs.conf
        execFileSync(REFERENCE, ['--exec', `mkfs.${format}`, ...args], { env, cwd: work, stdio: 'pipe' });
        const [hm, hr] = [header(mine), header(ref)];
        assert.equal(field(hm, 'Block count'), field(hr, 'Block count'), `${format} v${version} at ${size} bytes: block count`);
        if (version >= 260) {
          // 262 passes hash_seed=: native and ours are byte for byte the same
          const cmp = spawnSync('cmp', [mine, ref], { encoding: 'utf8' });
          assert.equal(cmp.status, 0, `${format} v${version} at ${size} bytes: ${cmp.stdout}`);
        } else {
          // 257 lets mke2fs pick a random hash seed: the headers but for seed and checksum
          const mask = (t: string) => t.replace(/^(Directory Hash Seed|Checksum):.*$/gm, '');
          assert.equal(mask(hm), mask(hr), `${format} v${version} at ${size} bytes: dumpe2fs -h`);
        }
      }
    });
  }
}
