/**
 * The window device's write-back buffer (src/fs/wasm/write-back.ts), against a plain model of
 * the file: whatever mix of writes, reads and flushes a tool makes, the file ends up holding what
 * the writes say, in their order, and every read answered from the buffer is what the file would
 * have said.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BLOCK, Held, WriteBack } from '../src/fs/wasm/write-back.js';

/** a tiny deterministic PRNG (xorshift32) so a failure can be replayed */
function rng(seed: number): (n: number) => number {
  let x = seed >>> 0 || 1;
  return (n) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

interface Out {
  pos: number;
  size: number;
  views: number;
}

/** A WriteBack over an in-memory "file", recording each write it makes. */
function harness(capacity: number, fileSize: number) {
  const file = Buffer.alloc(fileSize);
  const outs: Out[] = [];
  const wb = new WriteBack(capacity, (views, pos) => {
    let p = pos;
    for (const v of views) {
      file.set(v, p);
      p += v.length;
    }
    outs.push({ pos, size: p - pos, views: views.length });
  });
  return { file, outs, wb };
}

test('write-back: any mix of writes, reads and flushes leaves the file as the writes say, and held reads are right', () => {
  for (const seed of [1, 2, 3, 42, 1234]) {
    const r = rng(seed);
    const size = 64 * BLOCK;
    const model = Buffer.alloc(size);
    const { file, wb } = harness(16 * BLOCK, size);
    let served = 0;
    let parts = 0;
    for (let step = 0; step < 4000; step++) {
      const k = r(100);
      if (k < 60) {
        // writes: whole blocks (mostly, as mke2fs), runs of them, or unaligned pieces (as mksquashfs)
        const aligned = r(4) !== 0;
        const pos = aligned ? r(64) * BLOCK : r(size - 1);
        const n = aligned ? (1 + r(3)) * BLOCK : 1 + r(3 * BLOCK);
        const len = Math.min(n, size - pos);
        const data = Buffer.alloc(len);
        for (let i = 0; i < len; i++) data[i] = r(256);
        const src = Buffer.concat([Buffer.alloc(7), data]); // an offset into the source, as the tools pass
        assert.equal(wb.write(src, 7, len, pos), true);
        data.copy(model, pos);
      } else if (k < 99) {
        // reads: of a block or part of one (as mke2fs reads back its metadata), or anywhere
        const inBlock = r(2) === 0;
        const pos = inBlock ? r(64) * BLOCK + 512 * r(8) : r(size - 1);
        const len = inBlock ? 512 * (1 + r(8 - (pos % BLOCK) / 512)) : 1 + r(Math.min(2 * BLOCK, size - pos));
        const dst = Buffer.alloc(len + 3, 0xee);
        const h = wb.read(dst, 3, len, pos);
        if (h === Held.All) {
          served++;
          assert.deepEqual(dst.subarray(3), model.subarray(pos, pos + len), `seed ${seed} step ${step}: a held read`);
          assert.deepEqual(dst.subarray(0, 3), Buffer.alloc(3, 0xee), 'nothing before the read touched');
        } else {
          if (h === Held.Part) {
            parts++;
            wb.flush();
          }
          // what the device does next: read the file, which must be current for this range
          assert.deepEqual(file.subarray(pos, pos + len), model.subarray(pos, pos + len), `seed ${seed} step ${step}: the file under a read`);
        }
      } else wb.flush();
    }
    wb.flush();
    assert.ok(wb.empty);
    assert.deepEqual(file, model, `seed ${seed}: the file at the end`);
    // both answers were exercised, not only the file
    assert.ok(served >= 30, `seed ${seed}: reads answered from the buffer: ${served}`);
    assert.ok(parts >= 30, `seed ${seed}: reads of blocks held in part: ${parts}`);
  }
});

test('write-back: interleaved block writes go out sorted, gathered, at most 1 MiB at a time', () => {
  const { file, outs, wb } = harness(4 * 1024 * 1024, 64 * 1024 * 1024);
  const block = (b: number) => Buffer.alloc(BLOCK, b & 0xff);
  // file data block by block at 1 MiB, an inode table block at 64 KiB written again and again
  // between them (as unix_io's cache evicts it), then a directory block at 32 MiB
  for (let i = 0; i < 600; i++) {
    assert.ok(wb.write(block(i), 0, BLOCK, 1024 * 1024 + i * BLOCK));
    if (i % 50 === 0) assert.ok(wb.write(block(1000 + i), 0, BLOCK, 65536));
  }
  assert.ok(wb.write(block(7), 0, BLOCK, 32 * 1024 * 1024));
  assert.equal(outs.length, 0, 'nothing written while it fits');
  wb.flush();
  assert.deepEqual(outs.map((o) => [o.pos, o.size]), [
    [65536, BLOCK],
    [1024 * 1024, 1024 * 1024],
    [2 * 1024 * 1024, 1024 * 1024],
    [3 * 1024 * 1024, (600 - 512) * BLOCK],
    [32 * 1024 * 1024, BLOCK],
  ]);
  assert.equal(file[65536], (1000 + 550) & 0xff, 'the last write of a rewritten block wins');
  for (let i = 0; i < 600; i++) assert.equal(file[1024 * 1024 + i * BLOCK + 100], i & 0xff);
});

test('write-back: a full buffer flushes, a write larger than it is refused after a flush', () => {
  const { outs, wb } = harness(4 * BLOCK, 1024 * BLOCK);
  for (let i = 0; i < 4; i++) wb.write(Buffer.alloc(BLOCK, 1), 0, BLOCK, i * 2 * BLOCK);
  assert.equal(outs.length, 0);
  wb.write(Buffer.alloc(BLOCK, 2), 0, BLOCK, 100 * BLOCK);
  assert.equal(outs.length, 4, 'the four held runs went out when the fifth did not fit');
  assert.equal(wb.write(Buffer.alloc(5 * BLOCK), 0, 5 * BLOCK, 200 * BLOCK), false);
  assert.equal(outs.length, 5);
  assert.ok(wb.empty);
});

test('write-back: a read over blocks held only in part is not answered from the buffer', () => {
  const { wb } = harness(16 * BLOCK, 64 * BLOCK);
  wb.write(Buffer.alloc(100, 9), 0, 100, BLOCK + 50);
  wb.write(Buffer.alloc(BLOCK, 8), 0, BLOCK, 3 * BLOCK);
  const dst = Buffer.alloc(BLOCK);
  assert.equal(wb.read(dst, 0, 10, BLOCK + 60), Held.Part);
  assert.equal(wb.read(dst, 0, BLOCK, 2 * BLOCK), Held.None);
  assert.equal(wb.read(dst, 0, BLOCK, 3 * BLOCK), Held.All);
  assert.ok(dst.every((x) => x === 8));
  assert.equal(wb.read(Buffer.alloc(2 * BLOCK), 0, 2 * BLOCK, 2 * BLOCK), Held.Part, 'one block held, one not');
});
