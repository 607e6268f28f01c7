/**
 * Integration tier: what issue 18's speed work must not change and what bench/ reads. A build through
 * the worker pool with pre-warmed workers is byte-identical to one without the pre-warm and to
 * one in process; empty files read back empty and the image passes
 * e2fsck; the stats carry per-stage timings and the worker's phases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildImage, buildRequest } from '../../src/index.js';
import { closeWorkerPool, formatInWorkers } from '../../src/fs/pool.js';
import type { Formatter } from '../../src/build/request.js';
import { parseUuid } from '../../src/gpt/guid.js';

const SEED = parseUuid('e2a40bf9-73f1-4278-9160-49c031e7aef8')!;
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

function setup(): { dir: string; defs: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'perf-'));
  const tree = path.join(dir, 'tree');
  mkdirSync(path.join(tree, 'empty'), { recursive: true });
  for (let i = 0; i < 50; i++) writeFileSync(path.join(tree, 'empty', `e${i}`), '');
  writeFileSync(path.join(tree, 'data.txt'), 'some bytes\n'.repeat(1000));
  const defs = path.join(dir, 'defs');
  mkdirSync(defs);
  writeFileSync(path.join(defs, '00-esp.conf'), `[Partition]\nType=esp\nFormat=vfat\nSizeMinBytes=64M\nCopyFiles=${tree}/data.txt:/data.txt\n`);
  writeFileSync(path.join(defs, '10-root.conf'), `[Partition]\nType=root\nFormat=ext4\nMinimize=guess\nCopyFiles=${tree}:/usr\n`);
  return { dir, defs };
}

async function build(defs: string, image: string, formatter?: Formatter) {
  return buildImage(buildRequest(image, { definitions: [defs], empty: 'create', size: 'auto', dryRun: false, seed: SEED, sourceDateEpoch: 1700000000, formatter }));
}

test('pre-warmed workers, plain workers and in-process formatting give the same image; stats carry stages and phases', { timeout: 180_000 }, async () => {
  const { dir, defs } = setup();
  try {
    assert.ok(formatInWorkers.prewarm, 'the worker pool offers a pre-warm');
    const warm = await build(defs, path.join(dir, 'warm.raw'), formatInWorkers);
    await closeWorkerPool();
    const plain = await build(defs, path.join(dir, 'plain.raw'), (jobs, ev) => formatInWorkers(jobs, ev));
    await closeWorkerPool();
    await build(defs, path.join(dir, 'inproc.raw'));
    assert.equal(sha(path.join(dir, 'warm.raw')), sha(path.join(dir, 'plain.raw')));
    assert.equal(sha(path.join(dir, 'warm.raw')), sha(path.join(dir, 'inproc.raw')));

    const names = warm.stats?.stages?.map((s) => s.stage) ?? [];
    for (const n of ['read definitions', 'prewarm', 'trees', 'minimize', 'plan', 'format', 'write table']) assert.ok(names.includes(n), `stage ${n} timed: ${names}`);
    assert.ok(!plain.stats?.stages?.some((s) => s.stage === 'prewarm'), 'no pre-warm without the hook');
    assert.ok((warm.stats?.startupMs ?? 0) > 0);
    const root = warm.stats!.partitions.find((p) => p.format === 'ext4')!;
    assert.ok(root.phases && root.phases.run! > 0 && root.phases.total! >= root.phases.run!, JSON.stringify(root.phases));
    assert.ok((warm.stats?.partitions.find((p) => p.format === 'vfat')?.phases?.total ?? 0) > 0, 'vfat timed too');
  } finally {
    await closeWorkerPool();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('empty files come out empty and the file system checks clean', { timeout: 120_000 }, async (t) => {
  if (spawnSync('e2fsck', ['-V']).error || spawnSync('debugfs', ['-V']).error) { t.skip('e2fsprogs not installed'); return; }
  const { dir, defs } = setup();
  try {
    const image = path.join(dir, 'img.raw');
    const r = await build(defs, image, formatInWorkers);
    const row = r.rows.find((x) => x.type.startsWith('root'))!;
    const fsImg = path.join(dir, 'root.ext4');
    const all = readFileSync(image);
    writeFileSync(fsImg, all.subarray(Number(row.offset), Number(row.offset) + Number(row.rawSize)));
    const fsck = spawnSync('e2fsck', ['-fn', fsImg], { encoding: 'utf8' });
    assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
    const ls = spawnSync('debugfs', ['-R', 'ls /usr/empty', fsImg], { encoding: 'utf8' });
    for (let i = 0; i < 50; i++) assert.match(ls.stdout, new RegExp(`\\be${i}\\b`), `e${i} in ${ls.stdout}`);
    for (const i of [0, 17, 49]) {
      const st2 = spawnSync('debugfs', ['-R', `stat /usr/empty/e${i}`, fsImg], { encoding: 'utf8' });
      assert.match(st2.stdout, /Type: regular/, st2.stdout);
      assert.match(st2.stdout, /Size: 0\b/, st2.stdout);
    }
    const cat = spawnSync('debugfs', ['-R', 'cat /usr/data.txt', fsImg]);
    assert.equal(cat.stdout.toString(), 'some bytes\n'.repeat(1000));
  } finally {
    await closeWorkerPool();
    rmSync(dir, { recursive: true, force: true });
  }
});
