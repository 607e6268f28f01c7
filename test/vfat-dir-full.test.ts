/**
 * A vfat directory that cannot take a long name even after mcopy's one-cluster grow is a failure
 * of its own (E_FS_DIR_FULL), told apart by its code — not by its message — so that sizing by the
 * real writer (fitsWithTool) takes it as "too small" (a larger volume has larger clusters).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { buildTree } from '../src/tree/build.js';
import { vfatDriver } from '../src/fs/vfat/index.js';
import { fitsWithTool, probeJob } from '../src/plan/minimize/probe.js';
import { FsError } from '../src/errors.js';

test('vfat: a directory full after one grow fails with E_FS_DIR_FULL; the probe calls it too small', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vfat-dir-full-'));
  try {
    // 512-byte clusters (1 MiB volume): ".", "..", 12 short names and a 250-character name (21
    // slots) need more than the two clusters the directory has after one grow
    mkdirSync(join(dir, 'src', 'd'), { recursive: true });
    for (let i = 0; i < 12; i++) writeFileSync(join(dir, 'src', 'd', `A${i}`), '');
    writeFileSync(join(dir, 'src', 'd', 'z'.repeat(250)), '');
    const epoch = 1700000000;
    const tree = await buildTree({ copySource: '/', copyFiles: [{ source: join(dir, 'src'), target: '/' }], excludeFiles: [], excludeFilesTarget: [], makeDirectories: [], makeSymlinks: [], subvolumes: [], owner: { uid: 0, gid: 0 }, now: { sec: epoch, nsec: 0 }, sourceDateEpoch: epoch });
    const img = join(dir, 'fs.img');
    writeFileSync(img, '');
    truncateSync(img, 1 << 20);
    await assert.rejects(vfatDriver.format(probeJob('vfat', tree, { path: img, offset: 0, size: 1 << 20 })), (e: unknown) => e instanceof FsError && e.code === 'E_FS_DIR_FULL');
    assert.equal(await fitsWithTool('vfat', tree, 1 << 20, { scratchDir: dir }), false);
    assert.equal(await fitsWithTool('vfat', tree, 512 << 20, { scratchDir: dir }), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
