/**
 * Light jobs (TypeScript drivers) on few cores (src/fs/pool.ts lightJobsWait): when the heavy
 * jobs and the main thread take every core, a vfat job waits for a heavy job's worker instead of
 * starting a worker of its own beside mke2fs; with cores to spare it runs alongside. Either way
 * both file systems come out whole.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FormatJob } from '../src/fs/driver.js';
import { closeWorkerPool, formatInWorkers, lightJobsWait } from '../src/fs/pool.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pool-light-'));
after(async () => {
  await closeWorkerPool();
  fs.rmSync(work, { recursive: true, force: true });
});
const MiB = 2 ** 20;

test('light jobs wait for a heavy job only when the cores are taken', () => {
  assert.equal(lightJobsWait(2, 1, 1), true, 'two cores: mke2fs and the read-ahead');
  assert.equal(lightJobsWait(2, 2, 1), true);
  assert.equal(lightJobsWait(3, 2, 1), true);
  assert.equal(lightJobsWait(4, 1, 1), false, 'a core to spare');
  assert.equal(lightJobsWait(1, 1, 2), true);
  assert.equal(lightJobsWait(2, 0, 2), false, 'no heavy job to wait for');
  assert.equal(lightJobsWait(2, 1, 0), false);
});

test('an ESP and an ext4 partition formatted by the pool: the ESP after mke2fs when it has to wait, both whole', { timeout: 120_000 }, async (t) => {
  const img = path.join(work, 'two.img');
  fs.writeFileSync(img, '');
  fs.truncateSync(img, 96 * MiB);
  const base = {
    fsUuid: '0a1b2c3d-4e5f-4061-8273-8495a6b7c8d9', sectorSize: 512, tree: null, sourceDateEpoch: 1700000000,
    extraOptions: [], discard: false, subvolumes: [], definitionFile: '/etc/repart.d/x.conf', windowZeroed: true,
  };
  const jobs: FormatJob[] = [
    { ...base, format: 'vfat', label: 'ESP', window: { path: img, offset: 0, size: 32 * MiB } },
    { ...base, format: 'ext4', label: 'root', window: { path: img, offset: 32 * MiB, size: 64 * MiB } },
  ];
  const seen: string[] = [];
  await formatInWorkers(jobs, { start: (i) => seen.push(`start ${jobs[i]!.format}`), done: (i) => seen.push(`done ${jobs[i]!.format}`) });
  if (lightJobsWait(Math.max(1, os.availableParallelism()), 1, 1)) {
    assert.deepEqual(seen, ['start ext4', 'done ext4', 'start vfat', 'done vfat'], 'the ESP waits for the ext4 job');
  } else {
    assert.deepEqual(seen.slice(0, 2), ['start ext4', 'start vfat'], 'both at once');
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
