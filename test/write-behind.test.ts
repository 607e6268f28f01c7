/**
 * Image runs written by another thread (src/fs/wasm/write-behind.ts via device.ts): whatever
 * the mix of queued long runs, short runs written in place, reads of bytes still queued, zeroing
 * and the writing thread stopping half way, the window ends up byte for byte as with direct
 * writes, and every read sees the bytes last written.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WindowDevice } from '../src/fs/wasm/device.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../src/fs/wasm/emscripten.js';
import { newWriteBehind, serveWrites } from '../src/fs/wasm/write-behind.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'write-behind-test-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const MiB = 2 ** 20;
const fail = (e: string) => new Error(e);

/** a small deterministic generator (mulberry32) */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function run(seed: number, stopAfter: number | null): Promise<void> {
  const size = 24 * MiB;
  const offset = MiB;
  const img = path.join(work, `img-${seed}`);
  fs.writeFileSync(img, '');
  fs.truncateSync(img, offset + size + MiB);
  const table = newWriteBehind();
  const writer = serveWrites(table, img);
  const dev = new WindowDevice({ path: img, offset, size }, fail, true, false, false, 0, table);
  const h = dev.open();
  let stopped: Promise<void> | null = null;
  const model = new Uint8Array(size);
  try {
    const r = rng(seed);
    const s = undefined as never;
    let pos = 0;
    for (let op = 0; op < 600; op++) {
      if (stopAfter !== null && op === stopAfter) stopped = writer.stop();
      const k = r();
      if (k < 0.55) {
        // mostly sequential 4 KiB blocks, as mke2fs writes: long runs gather, a jump flushes
        if (r() < 0.15) pos = Math.floor(r() * (size / 4096 - 64)) * 4096;
        const n = 4096 * (1 + Math.floor(r() * 16));
        const len = Math.min(n, size - pos);
        const buf = new Uint8Array(len).map(() => Math.floor(r() * 256));
        h.write(s, buf, 0, len, pos);
        model.set(buf, pos);
        pos = (pos + len) % size;
      } else if (k < 0.6) {
        // a run longer than a slot: written in place, after what is queued
        const p = Math.floor(r() * (size / 4096 - 600)) * 4096;
        const len = MiB + 4096 * Math.floor(r() * 100);
        const buf = new Uint8Array(len).fill(Math.floor(r() * 255) + 1);
        h.write(s, buf, 0, len, p);
        model.set(buf, p);
      } else if (k < 0.63) {
        const p = Math.floor(r() * (size / 4096 - 300)) * 4096;
        const len = 4096 * (1 + Math.floor(r() * 300));
        h.allocate!(s, p, len, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
        model.fill(0, p, p + len);
      } else {
        // reads, often of what was just written (still gathered or queued)
        const p = r() < 0.6 ? Math.max(0, pos - 4096 * Math.floor(r() * 64)) : Math.floor(r() * (size - 8192));
        const len = Math.min(4096 * (1 + Math.floor(r() * 40)), size - p);
        const buf = new Uint8Array(len);
        h.read(s, buf, 0, len, p);
        assert.deepEqual(buf, model.subarray(p, p + len), `op ${op}: read of ${len} at ${p}`);
      }
    }
    h.close(s);
  } finally {
    // a failed assertion must not leave the writing thread (and the test process) running
    await (stopped ?? writer.stop());
  }
  const fd = fs.openSync(img, 'r');
  const out = Buffer.alloc(size);
  fs.readSync(fd, out, 0, size, offset);
  fs.closeSync(fd);
  assert.ok(Buffer.compare(out, Buffer.from(model)) === 0, 'the window holds the last bytes written everywhere');
  const outside = Buffer.alloc(MiB);
  const fd2 = fs.openSync(img, 'r');
  fs.readSync(fd2, outside, 0, MiB, 0);
  fs.closeSync(fd2);
  assert.ok(outside.every((b) => b === 0), 'nothing written before the window');
}

test('queued runs, in-place runs, zeroing and reads: the window as with direct writes', { timeout: 60_000 }, async () => {
  for (const seed of [1, 2, 3]) await run(seed, null);
});

test('the writing thread stops half way: the worker writes the rest itself, in order', { timeout: 60_000 }, async () => {
  for (const seed of [4, 5]) await run(seed, 300);
});

test('a run the writing thread cannot write fails the device with its errno', { timeout: 30_000 }, async () => {
  const img = path.join(work, 'img-ro');
  fs.writeFileSync(img, Buffer.alloc(4 * MiB));
  const table = newWriteBehind();
  // the writing thread opens a path that is not there: ENOENT for every run
  const writer = serveWrites(table, path.join(work, 'missing', 'img'));
  const dev = new WindowDevice({ path: img, offset: 0, size: 4 * MiB }, fail, false, false, false, 0, table);
  const h = dev.open();
  const buf = new Uint8Array(256 * 1024).fill(7);
  h.write(undefined as never, buf, 0, buf.length, 0);
  assert.throws(() => h.close(undefined as never), /ENOENT/);
  await writer.stop();
});

test('a short run written in place over a queued one lands after it', { timeout: 30_000 }, async () => {
  const img = path.join(work, 'img-order');
  fs.writeFileSync(img, Buffer.alloc(4 * MiB));
  const table = newWriteBehind();
  // the writing thread takes tens of milliseconds to start: what follows is queued before it runs
  const writer = serveWrites(table, img);
  try {
    const dev = new WindowDevice({ path: img, offset: 0, size: 4 * MiB }, fail, false, false, false, 0, table);
    const h = dev.open();
    const s = undefined as never;
    h.write(s, new Uint8Array(512 * 1024).fill(1), 0, 512 * 1024, 0);
    // a jump: the long run is queued; then a short one over its middle, written in place
    h.write(s, new Uint8Array(4096).fill(2), 0, 4096, 2 * MiB);
    h.write(s, new Uint8Array(4096).fill(3), 0, 4096, 64 * 1024);
    h.close(s);
  } finally {
    await writer.stop();
  }
  const out = fs.readFileSync(img);
  assert.equal(out[64 * 1024], 3, 'the later short run, not the queued long one');
  assert.equal(out[64 * 1024 - 1], 1);
  assert.equal(out[2 * MiB], 2);
});
