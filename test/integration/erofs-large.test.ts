/**
 * A compressed erofs file past 2 GiB (wasm/rofs/patches/erofs-utils-*-mt-segment-errors-and-buffers.patch).
 *
 * mkfs.erofs compresses a file in 16 MiB segments, each into a buffer that was malloc'ed at the
 * segment's full size; every segment is compressed before any is written, and a wasm32 heap has
 * 2 GiB of addresses, so from segment 126 (1.97 GiB) malloc failed. The writer then dropped the
 * failed segments' errors: the file came out as zeros from there and mkfs.erofs exited 0. A sparse
 * 2.5 GiB file with random data at its start, past 2 GiB and at its end: the incompressible
 * blocks are stored as they are, so each must be found in the image, at 257 (1.8.6) and 262
 * (1.9.4). (Byte equality with systemd-repart: test/oracle/large-sparse.test.ts.)
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { erofsDriver } from '../../src/fs/erofs/index.js';
import { closeWorkerPool } from '../../src/fs/pool.js';
import { rofsJob, markedImage, MiB } from '../erofs-helpers.js';
import { hostTree } from '../wasm-helpers.js';
import { writeSparseFile } from '../helpers/fs-jobs.js';

const GiB = 1024 * MiB;
const work = mkdtempSync(path.join(os.tmpdir(), 'erofs-large-'));
after(async () => {
  await closeWorkerPool();
  rmSync(work, { recursive: true, force: true });
});

test('a compressed file of 2.5 GiB keeps its data past 2 GiB (no segment lost to the wasm32 heap, none dropped silently)', { timeout: 240_000 }, async () => {
  const dir = path.join(work, 'tree');
  mkdirSync(dir);
  const size = 2.5 * GiB + 12345;
  const runs: [number, Buffer][] = [[0, randomBytes(64 * 1024)], [2.25 * GiB, randomBytes(256 * 1024)], [size - 40_000, randomBytes(40_000)]];
  writeSparseFile(path.join(dir, 'big'), size, runs);
  for (const version of [257, 262]) {
    const img = markedImage(work, `big-${version}.img`, 64 * MiB);
    await erofsDriver.format(rofsJob('erofs', { window: { path: img, offset: 0, size: 64 * MiB }, tree: hostTree(dir), compression: 'lz4hc', systemdVersion: version }));
    const bytes = readFileSync(img);
    for (const [at, b] of runs) {
      // a block-aligned 4 KiB of the run: a pcluster that did not compress is stored raw
      const from = (4096 - (at % 4096)) % 4096;
      assert.ok(bytes.includes(b.subarray(from, from + 4096)), `${version}: the data at ${at} is not in the image`);
    }
  }
});
