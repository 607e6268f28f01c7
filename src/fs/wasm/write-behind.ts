/**
 * Image writes of a formatting worker done by another thread (issue 18). The tool's thread
 * gathers its writes into 1 MiB runs (device.ts); copying each run into the page cache
 * (pwrite) is about a tenth of an ext4 job on a real tree, on the thread everything waits for,
 * while the machine's other core is mostly idle. So the runs are gathered straight into slots of
 * a SharedArrayBuffer, and a writing thread started by the main thread writes them, in the
 * order given, one at a time.
 *
 * Order and visibility, as with direct writes: the writing thread writes the slots strictly in
 * submission order (so a later run over the same bytes lands last); a worker's read of image
 * bytes is read from the file and then overlaid with every run still queued, oldest first (a
 * slot is only reused by the worker itself, so what it holds is what the file will hold); before
 * any write it makes itself (zeroing, runs larger than a slot), the worker waits until the queue
 * is empty, and before a short run it writes itself (device.ts), until the queued runs that run
 * overlaps are written. A failed write is remembered (its errno) and thrown at the worker's next
 * wait, which comes at the latest when the tool closes or syncs the
 * device: a run that could not be written fails the job, as before, only a little later.
 *
 * Ring of SLOTS slots: HEAD counts runs submitted (worker), TAIL runs written (writing thread).
 * Once the writing thread stops (the build is over, perhaps failed on another job while this
 * one still runs; or it could not start), STOPPED says so, after its last TAIL: the worker then
 * writes what is queued, in order, and every later run, itself. It never waits on a thread that
 * is gone.
 */
import * as fs from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { Worker } from 'node:worker_threads';

export const SLOT_SIZE = 1024 * 1024;
const SLOTS = 8;
const HEAD = 0;
const TAIL = 1;
/** the first failed write's errno (negative, as libuv gives it), 0 if none */
const ERR = 2;
const STOPPED = 3;
/** 1 while the writing thread waits for a submission (the worker notifies only then) */
const IDLE = 4;
/** the main thread asks the writing thread to finish */
const STOP = 5;
const CTRL = 6;
/** how long the worker sleeps between looks at STOPPED while it waits */
const WAIT_MS = 50;

/** What a job carries to the worker: control words, each slot's position and length, the slots. */
export interface WriteBehindTable {
  ctrl: SharedArrayBuffer;
  meta: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

export function newWriteBehind(): WriteBehindTable {
  return { ctrl: new SharedArrayBuffer(CTRL * 4), meta: new SharedArrayBuffer(SLOTS * 2 * 8), data: new SharedArrayBuffer(SLOTS * SLOT_SIZE) };
}

/** The worker's side: a slot to gather into, submitting it, and waiting for the queue. */
export class WriteQueue {
  private readonly ctrl: Int32Array;
  private readonly meta: Float64Array;
  private readonly slots: Buffer[];

  constructor(
    t: WriteBehindTable,
    private readonly fail: (errno: string) => Error,
    /** writes on this thread (all of it, or throws), once the writing thread has stopped */
    private readonly writeHere: (buf: Buffer, len: number, pos: number) => void,
  ) {
    this.ctrl = new Int32Array(t.ctrl);
    this.meta = new Float64Array(t.meta);
    this.slots = Array.from({ length: SLOTS }, (_, i) => Buffer.from(t.data, i * SLOT_SIZE, SLOT_SIZE));
  }

  /** The slot the next run gathers into (free: waits for the writing thread if all are queued). */
  next(): Buffer {
    const c = this.ctrl;
    const head = c[HEAD]!;
    for (;;) {
      const tail = Atomics.load(c, TAIL);
      if (head - tail < SLOTS) break;
      if (this.serveHere()) continue;
      Atomics.wait(c, TAIL, tail, WAIT_MS);
    }
    return this.slots[head % SLOTS]!;
  }

  /** Queue the slot `next()` gave, holding `len` bytes for image offset `pos`. */
  submit(pos: number, len: number): void {
    const c = this.ctrl;
    const s = c[HEAD]! % SLOTS;
    this.meta[2 * s] = pos;
    this.meta[2 * s + 1] = len;
    Atomics.add(c, HEAD, 1);
    if (!this.serveHere() && Atomics.exchange(c, IDLE, 0) === 1) Atomics.notify(c, HEAD);
  }

  /** The first run not yet written: take it before reading the file, for overlay(). */
  pending(): number {
    return Atomics.load(this.ctrl, TAIL);
  }

  /**
   * Overlay `buf[off, off+len)`, just read from image offset `pos`, with the runs queued from
   * `since` (pending() before the read: the runs before it were in the file by then; a later
   * one may have been half written while the file was read), oldest first: the bytes the file
   * holds once they are written.
   */
  overlay(buf: Uint8Array, off: number, len: number, pos: number, since: number): void {
    const head = this.ctrl[HEAD]!;
    for (let q = since; q < head; q++) {
      const s = q % SLOTS;
      const p = this.meta[2 * s]!;
      const from = Math.max(p, pos);
      const to = Math.min(p + this.meta[2 * s + 1]!, pos + len);
      if (from < to) buf.set(this.slots[s]!.subarray(from - p, to - p), off + (from - pos));
    }
  }

  /** Nobody serves the queue any more: write it here, in order. False while the writing thread serves. */
  private serveHere(): boolean {
    const c = this.ctrl;
    if (Atomics.load(c, STOPPED) === 0) return false;
    for (let q = Atomics.load(c, TAIL); q < c[HEAD]!; q++) {
      const s = q % SLOTS;
      if (Atomics.load(c, ERR) === 0) {
        try {
          this.writeHere(this.slots[s]!, this.meta[2 * s + 1]!, this.meta[2 * s]!);
        } catch (e) {
          Atomics.store(c, ERR, (e as NodeJS.ErrnoException).errno ?? -5);
        }
      }
      Atomics.store(c, TAIL, q + 1);
    }
    return true;
  }

  /** Whether a queued run overlaps [pos, pos+len) of the image. */
  covers(pos: number, len: number): boolean {
    const c = this.ctrl;
    const head = c[HEAD]!;
    for (let q = Atomics.load(c, TAIL); q < head; q++) {
      const s = q % SLOTS;
      const p = this.meta[2 * s]!;
      if (pos < p + this.meta[2 * s + 1]! && p < pos + len) return true;
    }
    return false;
  }

  /** Wait until every queued run is written; a failed one is thrown here. */
  drain(): void {
    const c = this.ctrl;
    const head = c[HEAD]!;
    for (;;) {
      const tail = Atomics.load(c, TAIL);
      if (tail === head) break;
      if (this.serveHere()) continue;
      Atomics.wait(c, TAIL, tail, WAIT_MS);
    }
    this.check();
  }

  /** Throws the errno of a run the writing thread could not write, if any. */
  check(): void {
    const e = Atomics.load(this.ctrl, ERR);
    if (e !== 0) throw this.fail(getSystemErrorName(e));
  }
}

/**
 * The writing thread's loop (write-behind-worker.ts): write the runs the worker queues into the
 * image file at `path`, in order, blocking between them, until asked to stop (and the queue is
 * empty); then say STOPPED. A failed write is recorded for the worker, never thrown.
 */
export function serveLoop(t: WriteBehindTable, path: string): void {
  const c = new Int32Array(t.ctrl);
  const meta = new Float64Array(t.meta);
  let fd = -1;
  let done = 0;
  try {
    for (;;) {
      const head = Atomics.load(c, HEAD);
      if (done < head) {
        const s = done % SLOTS;
        const pos = meta[2 * s]!;
        const len = meta[2 * s + 1]!;
        if (Atomics.load(c, ERR) === 0) {
          try {
            if (fd < 0) fd = fs.openSync(path, fs.constants.O_WRONLY);
            const buf = Buffer.from(t.data, s * SLOT_SIZE, len);
            for (let w = 0; w < len; ) w += fs.writeSync(fd, buf, w, len - w, pos + w);
          } catch (e) {
            Atomics.store(c, ERR, (e as NodeJS.ErrnoException).errno ?? -5);
          }
        }
        done++;
        Atomics.store(c, TAIL, done);
        Atomics.notify(c, TAIL);
        continue;
      }
      if (Atomics.load(c, STOP) === 1) break;
      // say so before the last look at HEAD: a submission after it finds IDLE set and notifies
      Atomics.store(c, IDLE, 1);
      if (Atomics.load(c, HEAD) !== head || Atomics.load(c, STOP) === 1) continue;
      Atomics.wait(c, HEAD, head, 1000);
    }
  } finally {
    if (fd >= 0) fs.closeSync(fd);
    stopped(t);
  }
}

/** From here on the worker writes for itself (serveHere); after the writer's last TAIL. */
function stopped(t: WriteBehindTable): void {
  const c = new Int32Array(t.ctrl);
  Atomics.store(c, STOPPED, 1);
  Atomics.notify(c, TAIL);
}

/**
 * The main thread's side: a thread that writes the runs a worker queues into the image file at
 * `path` (a thread of its own blocks between runs and wakes within microseconds; the main
 * thread's event loop is neither as quick to wake nor free of the read-ahead). stop(): once the
 * job is over; it resolves when the thread has written what was queued. Never rejects: if the
 * thread cannot run, the worker writes for itself.
 */
export function serveWrites(t: WriteBehindTable, path: string): { stop(): Promise<void> } {
  const c = new Int32Array(t.ctrl);
  let w: Worker;
  let exited: Promise<void>;
  try {
    w = new Worker(new URL('./write-behind-worker.js', import.meta.url), { workerData: { t, path } });
    exited = new Promise((resolve) => {
      w.once('error', () => {});
      w.once('exit', () => {
        stopped(t);
        resolve();
      });
    });
  } catch {
    stopped(t);
    exited = Promise.resolve();
  }
  return {
    stop(): Promise<void> {
      Atomics.store(c, STOP, 1);
      Atomics.notify(c, HEAD);
      return exited;
    },
  };
}
