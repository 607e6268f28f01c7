/**
 * Light jobs (TypeScript drivers) on few cores (src/fs/pool.ts lightJobsHere): when the heavy
 * jobs and the main thread take every core, a vfat job runs on the main thread beside mke2fs
 * instead of starting a worker of its own (or waiting for mke2fs's); with cores to spare it gets
 * a worker. Either way both file systems come out whole.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FormatJob } from '../src/fs/driver.js';
import { RepartError } from '../src/errors.js';
import { closeWorkerPool, formatInWorkers, lightJobsHere } from '../src/fs/pool.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pool-light-'));
after(async () => {
  await closeWorkerPool();
  fs.rmSync(work, { recursive: true, force: true });
});
const MiB = 2 ** 20;

/** A sparse 96 MiB image file for two windows. */
function freshImage(name: string): string {
  const img = path.join(work, name);
  fs.writeFileSync(img, '');
  fs.truncateSync(img, 96 * MiB);
  return img;
}

/** An empty file system of `format` in [offset, offset + size) of `img`. */
function job(format: string, label: string, img: string, offset: number, size: number): FormatJob {
  return {
    format, label, window: { path: img, offset, size },
    fsUuid: '0a1b2c3d-4e5f-4061-8273-8495a6b7c8d9', sectorSize: 512, tree: null, sourceDateEpoch: 1700000000,
    extraOptions: [], discard: false, subvolumes: [], definitionFile: '/etc/repart.d/x.conf', windowZeroed: true,
  };
}

test('light jobs run on the main thread only when the cores are taken', () => {
  assert.equal(lightJobsHere(2, 1, 1), true, 'two cores: mke2fs and the read-ahead');
  assert.equal(lightJobsHere(2, 2, 1), true);
  assert.equal(lightJobsHere(3, 2, 1), true);
  assert.equal(lightJobsHere(4, 1, 1), false, 'a core to spare');
  assert.equal(lightJobsHere(1, 1, 2), true);
  assert.equal(lightJobsHere(2, 0, 2), false, 'no heavy job to wait for');
  assert.equal(lightJobsHere(2, 1, 0), false);
});

test('an ESP and an ext4 partition formatted by the pool: the ESP on this thread beside mke2fs when the cores are taken, both whole', { timeout: 120_000 }, async (t) => {
  const img = freshImage('two.img');
  const jobs: FormatJob[] = [
    job('vfat', 'ESP', img, 0, 32 * MiB),
    job('ext4', 'root', img, 32 * MiB, 64 * MiB),
  ];
  const seen: string[] = [];
  const outs = await formatInWorkers(jobs, { start: (i) => seen.push(`start ${jobs[i]!.format}`), done: (i) => seen.push(`done ${jobs[i]!.format}`) });
  assert.equal(outs.length, 2);
  assert.deepEqual(seen.slice(0, 2), ['start ext4', 'start vfat'], 'both at once');
  if (lightJobsHere(Math.max(1, os.availableParallelism()), 1, 1)) {
    // formatted here: done long before a worker started and ran mke2fs, and timed by this thread
    assert.deepEqual(seen.slice(2), ['done vfat', 'done ext4'], 'the ESP does not wait for the ext4 job');
    assert.ok(outs[0]!.phases && outs[0]!.phases.total! > 0, 'the job reports its phases as a worker would');
  }
  const part = (offset: number, size: number, name: string) => {
    const p = path.join(work, name);
    execFileSync('dd', [`if=${img}`, `of=${p}`, 'bs=1M', `skip=${offset / MiB}`, `count=${size / MiB}`, 'status=none']);
    return p;
  };
  const esp = part(0, 32 * MiB, 'esp.img');
  const root = part(32 * MiB, 64 * MiB, 'root.img');
  try {
    execFileSync('fsck.fat', ['-n', esp], { stdio: 'pipe' });
    execFileSync('e2fsck', ['-fn', root], { stdio: 'pipe' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return t.skip('fsck.fat or e2fsck not installed');
    throw e;
  }
});

test('a light job failing on this thread fails the run as its worker would: the typed error, the job named', { timeout: 120_000 }, async () => {
  const img = freshImage('fail.img');
  const jobs: FormatJob[] = [
    job('ext4', 'root', img, 32 * MiB, 64 * MiB),
    // far too small for a FAT: mkfs.vfat's own refusal
    job('vfat', 'ESP', img, 0, 16 * 1024),
  ];
  await assert.rejects(formatInWorkers(jobs), (e: Error & { code?: string; jobIndex?: number; where?: unknown }) => {
    assert.ok(e instanceof RepartError, String(e));
    assert.equal(e.code, 'E_FS_NO_SPACE');
    assert.equal((e as { jobIndex?: number }).jobIndex, 1);
    assert.deepEqual(e.where, { file: '/etc/repart.d/x.conf' });
    return true;
  });
});
