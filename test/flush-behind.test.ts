/**
 * Flush-behind (src/image/flush-behind.ts): the image is written back while the tools run, and a
 * write-back error is never lost — Linux reports it to one fsync only, so the commit must fail
 * with it and leave no image behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { FlushBehind } from '../src/image/flush-behind.js';
import { ImageWriter } from '../src/image/build.js';
import { RepartError } from '../src/errors.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'flush-behind-'));

test('flush-behind writes a file back and keeps its bytes; stop() waits for the write-back in flight', async () => {
  const dir = tmp();
  try {
    const f = path.join(dir, 'img');
    const fd = openSync(f, 'w+');
    const fb = new FlushBehind(fd, 5);
    const block = Buffer.alloc(1 << 20, 0xa5);
    for (let i = 0; i < 8; i++) {
      writeSync(fd, block, 0, block.length, i * block.length);
      fb.flush();
      await new Promise((r) => setTimeout(r, 2));
    }
    await fb.stop();
    assert.equal(fb.takeError(), null);
    closeSync(fd); // nothing may be in flight on it any more
    assert.equal(statSync(f).size, 8 << 20);
    assert.ok(readFileSync(f).every((b) => b === 0xa5));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a write-back error is kept (once) until it is taken; flushing stops after stop()', async () => {
  const dir = tmp();
  try {
    // fdatasync() on a FIFO fails with EINVAL: a real error from the real call
    const fifo = path.join(dir, 'fifo');
    const mk = spawnSync('mkfifo', [fifo]);
    assert.equal(mk.status, 0, 'mkfifo');
    const fd = openSync(fifo, 'r+');
    try {
      const fb = new FlushBehind(fd, 1000);
      fb.flush();
      await fb.stop();
      const e = fb.takeError();
      assert.equal(e?.code, 'EINVAL');
      assert.equal(fb.takeError(), null, 'taken once');
      fb.flush();
      await fb.stop();
      assert.equal(fb.takeError(), null, 'no write-back after stop()');
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a new image whose write-back failed is not committed: E_IMAGE_IO, no image, no temporary file', async () => {
  const dir = tmp();
  try {
    const target = path.join(dir, 'disk.raw');
    const w = ImageWriter.open({ target, mode: 'create', imageSize: 1n << 20n });
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5 });
    const fb = w.flushBehind((_fd, done) => setImmediate(() => done(eio)));
    fb.flush();
    await fb.stop();
    assert.throws(() => w.commit(), (e: unknown) => e instanceof RepartError && e.code === 'E_IMAGE_IO' && /EIO/.test(e.message));
    w.abort();
    assert.ok(!existsSync(target), 'no image');
    assert.deepEqual(readdirSync(dir), [], 'no temporary file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
