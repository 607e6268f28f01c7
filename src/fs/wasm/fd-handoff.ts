/**
 * Source files opened by the main thread's read-ahead (src/build/readahead.ts), handed to the
 * formatting worker (issue 18). Worker threads share the process's descriptor table: the
 * read-ahead already opens each host file as scanned (src/io/open-verified.ts: no symlink
 * followed, dev/ino compared) and checks its size against the scan, so the worker can take that
 * descriptor instead of paying open + fstat again on the thread that runs the tool. What the
 * worker reads is still only the scanned inode; everything after the open (exact size, short
 * reads, growth while read, holes) is checked by source-file.ts as for a file it opened itself.
 *
 * One Int32 slot per record of the packed tree (src/tree/packed.ts), indexed by the record that
 * holds a file's data (hard links share it: the tool opens each inode once). A slot is
 *   0       nothing offered (yet),
 *   fd + 1  an open, verified descriptor waiting for the worker,
 *   PASSED  the worker got to this file (took the descriptor, or opened the file itself).
 * Ownership moves with an atomic exchange: whoever swaps a descriptor out of a slot closes it,
 * so it is closed exactly once. The read-ahead offers with compare-and-swap from 0 only: a file
 * the worker has passed is closed by the read-ahead, never left behind.
 *
 * Handed back: the worker does not check and close a descriptor it took (fstat for the size, a
 * Stats object, close(2): about as much as the open was), it hands it back through a ring
 * (RING entries: record numbers) and the read-ahead's thread checks the size still is the
 * planned one, closes it, and records the first that is not (FAIL_*). The worker waits for the
 * ring to be empty when the tool is done (finish()) and fails the run with that file as it would
 * have at close. Once the read-ahead has stopped (STOPPED), the worker checks and closes for
 * itself. A returned slot reads RETURNED - fd.
 *
 * Bounded: at most `max` descriptors wait at once (slot HELD counts them); at the bound the
 * read-ahead waits until the worker has taken half of them, polling on a short timer (the worker
 * notifies nobody: nothing per file on its thread but two atomic operations; and
 * Atomics.waitAsync does not keep Node's event loop alive).
 *
 * The bytes too: the read-ahead has read each file it offers, and on a warm page cache that read
 * is all the work there is (the kernel's copy out of the page cache, ~1 GB/s on the bench
 * machine: a quarter of mke2fs's time on a 231 MB tree). With an arena (a ring of `arena`
 * bytes at the end of the table), a file of at most a quarter of it is read into the arena, and
 * its position is published with the descriptor (a second slot per record, position + 1, stored
 * before the descriptor's compare-and-swap makes both visible); the worker then copies the bytes
 * into the tool's memory instead of reading the file again. They are the bytes of the scanned
 * inode, read through the verified descriptor to the planned size; the checks after the read
 * (the size at close) are unchanged. The region is reused once the descriptor comes back
 * (sweep), or at once when the offer fails. Only the read-ahead's thread allocates and frees:
 * regions are taken in file order and come back in about that order; the ring's tail is the
 * oldest region still in use, so at most `arena` bytes are ahead of the tool.
 */
import { closeSync, fstatSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export const PASSED = -1;
/** a slot at or below this holds a descriptor handed back: RETURNED - fd */
const RETURNED = -2;
/** header: descriptors the table holds (offered, or handed back and not closed yet), their bound */
const HELD = 0;
const MAX = 1;
/** ring of handed-back records: written (worker), checked (read-ahead) */
const RW = 2;
const RR = 3;
/** the read-ahead checks no more: the worker does */
const STOPPED = 4;
/** the first handed-back file whose size was not the planned one: record + 1 (its size at FAIL_SIZE) */
const FAIL_REC = 5;
const FAIL_SIZE_F64 = 3; // bytes 24..31 (Int32 slots 6 and 7)
/** records in the table, and the arena's size in bytes (0: no arena) */
const RECORDS = 8;
const ARENA = 9;
const RING_AT = 10;
const RING = 1024;
const HEADER = RING_AT + RING;
/** the arena's byte offset in a table of `records` records (after both slot arrays, 8-aligned) */
const arenaAt = (records: number): number => Math.ceil(((HEADER + 2 * records) * 4) / 8) * 8;
/** a file goes through the arena if it takes at most this share of it (larger ones would stall the ring) */
const ARENA_SHARE = 4;

/** The shared table as posted with a job (a SharedArrayBuffer is seen by both threads as it is). */
export type HandoffTable = SharedArrayBuffer;

/**
 * A table for a tree of `records` records: at most `max` descriptors waiting, and an arena of
 * `arena` bytes for the files' bytes (0: descriptors only). Untouched arena pages cost nothing:
 * a tree of empty files never touches them.
 */
export function newHandoffTable(records: number, max: number, arena = 0): HandoffTable {
  const sab = new SharedArrayBuffer(arenaAt(records) + arena);
  const t = new Int32Array(sab);
  t[MAX] = Math.min(max, RING / 2);
  t[RECORDS] = records;
  t[ARENA] = arena;
  return sab;
}

/** The arena's bytes (empty without one). */
function arenaOf(sab: HandoffTable): Uint8Array {
  const t = new Int32Array(sab, 0, HEADER);
  return new Uint8Array(sab, arenaAt(t[RECORDS]!), t[ARENA]!);
}

/** A file handed back whose size when checked was not the planned one. */
export interface HandedBackChange {
  rec: number;
  size: number;
}

/**
 * Check and close handed-back descriptors from the ring position `RR` up to `RW` (the read-ahead,
 * or the worker once the read-ahead has stopped). `planned(rec)`: the size the scan recorded.
 */
function sweep(t: Int32Array, f: Float64Array, planned: (rec: number) => number, freed?: (at: number) => void): void {
  const w = Atomics.load(t, RW);
  for (let r = Atomics.load(t, RR); r < w; r++) {
    const rec = t[RING_AT + (r % RING)]!;
    // the worker is done with the bytes it took from the arena (read-ahead's side only)
    if (freed) {
      const at = Atomics.exchange(t, HEADER + t[RECORDS]! + rec, 0);
      if (at > 0) freed(at - 1);
    }
    const v = Atomics.exchange(t, HEADER + rec, PASSED);
    if (v <= RETURNED) {
      const fd = RETURNED - v;
      // as source-file.ts checked at close: a file that grew (or shrank) while it was read
      let size = planned(rec);
      try {
        size = fstatSync(fd).size;
      } finally {
        closeSync(fd);
        Atomics.sub(t, HELD, 1);
      }
      if (size !== planned(rec) && Atomics.compareExchange(t, FAIL_REC, 0, rec + 1) === 0) f[FAIL_SIZE_F64] = size;
    }
    Atomics.store(t, RR, r + 1);
    Atomics.notify(t, RR);
  }
}

/** The worker's side: take the descriptor offered for a record, if any; the slot is passed from then on. */
export class HandoffTaker {
  private readonly t: Int32Array;
  private readonly f: Float64Array;
  constructor(sab: HandoffTable, private readonly planned: (rec: number) => number) {
    this.t = new Int32Array(sab);
    this.f = new Float64Array(sab, 0, 4);
  }

  /**
   * An open descriptor of the scanned file of record `i`, or -1. Given back when done
   * (giveBack), or, `closesItself`, checked and closed by the caller.
   */
  take(i: number, closesItself = false): number {
    const v = Atomics.exchange(this.t, HEADER + i, PASSED);
    if (v <= 0) return -1;
    if (closesItself) Atomics.sub(this.t, HELD, 1);
    return v - 1;
  }

  /**
   * The bytes of record `i` (its planned size) as read with the descriptor just taken, if they
   * went through the arena; valid until the descriptor is given back (giveBack). Not for a
   * caller that closes the descriptor itself: the region would only come back with the job's end.
   */
  bytes(i: number): Uint8Array | null {
    const at = Atomics.load(this.t, HEADER + this.t[RECORDS]! + i);
    if (at <= 0) return null;
    this.arena ??= arenaOf(this.t.buffer as SharedArrayBuffer);
    return this.arena.subarray(at - 1, at - 1 + this.planned(i));
  }
  private arena: Uint8Array | null = null;

  /** Done reading record `i` through `fd`: it is checked and closed for us (see the header). */
  giveBack(i: number, fd: number): void {
    const t = this.t;
    const w = t[RW]!;
    // not with the bound at half the ring or less; but an entry is never overwritten
    for (let r = Atomics.load(t, RR); w - r >= RING; r = Atomics.load(t, RR)) {
      if (Atomics.load(t, STOPPED) === 1) sweep(t, this.f, this.planned);
      else Atomics.wait(t, RR, r, 20);
    }
    Atomics.store(t, HEADER + i, RETURNED - fd);
    t[RING_AT + (w % RING)] = i;
    Atomics.store(t, RW, w + 1);
    if (Atomics.load(t, STOPPED) === 1) sweep(t, this.f, this.planned);
  }

  /** Wait until every descriptor handed back is checked and closed; the first file that changed size, if any. */
  finish(): HandedBackChange | null {
    const t = this.t;
    const w = t[RW]!;
    for (;;) {
      const r = Atomics.load(t, RR);
      if (r >= w) break;
      if (Atomics.load(t, STOPPED) === 1) sweep(t, this.f, this.planned);
      else Atomics.wait(t, RR, r, 20);
    }
    const rec = Atomics.load(t, FAIL_REC);
    return rec === 0 ? null : { rec: rec - 1, size: this.f[FAIL_SIZE_F64]! };
  }
}

/** The read-ahead's side: offer descriptors, wait for room, check and close what comes back, close what was never taken. */
export class HandoffGiver {
  private readonly t: Int32Array;
  private readonly f: Float64Array;
  /** records offered, to close what the worker did not take (not every record of the tree) */
  private readonly offered: number[] = [];
  /** the arena (empty: none) */
  readonly arena: Uint8Array;
  /** regions of the arena, oldest first, from the oldest still in use (start: virtual, never wraps; position = start mod size) */
  private readonly regions: { start: number; used: boolean }[] = [];
  /** the regions in use, by position */
  private readonly byAt = new Map<number, { start: number; used: boolean }>();
  /** the virtual end of the newest region */
  private head = 0;
  private readonly freedAt = (at: number): void => this.release(at);

  constructor(sab: HandoffTable, private readonly close: (fd: number) => void, private readonly planned: (rec: number) => number) {
    this.t = new Int32Array(sab);
    this.f = new Float64Array(sab, 0, 4);
    this.arena = arenaOf(sab);
  }

  /** Whether a file of `size` bytes goes through the arena (reserve). */
  fitsArena(size: number): boolean {
    return size > 0 && size <= this.arena.length / ARENA_SHARE;
  }

  /**
   * A region of `size` bytes of the arena (fitsArena), its position; waits while the ring is
   * full (regions come back as the worker hands descriptors back), -1 if `gone()` meanwhile.
   */
  async reserve(size: number, gone: () => boolean, pollMs = 2): Promise<number> {
    const n = this.arena.length;
    for (;;) {
      const at = this.head % n;
      // a region never wraps: it starts over at position 0 when the rest is too short
      const start = at + size > n ? this.head + (n - at) : this.head;
      const tail = this.regions.length ? this.regions[0]!.start : this.head;
      if (start + size - tail <= n) {
        const r = { start, used: true };
        this.regions.push(r);
        this.byAt.set(start % n, r);
        this.head = start + size;
        return start % n;
      }
      if (gone()) return -1;
      await sleep(pollMs);
      this.sweep();
    }
  }

  /** A region is free again (its read failed, the offer did not go through, or the worker is done with it). */
  release(at: number): void {
    const r = this.byAt.get(at);
    if (!r) return;
    this.byAt.delete(at);
    r.used = false;
    while (this.regions.length && !this.regions[0]!.used) this.regions.shift();
  }

  /** the worker got to this record already: nothing to read ahead or offer */
  passed(i: number): boolean {
    return Atomics.load(this.t, HEADER + i) === PASSED;
  }

  /** offered already (a hard link's other name), or passed: nothing to read ahead or offer */
  settled(i: number): boolean {
    return Atomics.load(this.t, HEADER + i) !== 0;
  }

  /** Give `fd` (opened as scanned, size as planned) for record `i`; closed here if the worker passed it meanwhile. */
  offer(i: number, fd: number, at = -1): void {
    const t = this.t;
    // Offered or passed already (a hard link's other name read at the same time): the record's
    // position slot may be the first offer's and must stay as it is.
    if (Atomics.load(t, HEADER + i) !== 0) {
      this.close(fd);
      if (at >= 0) this.release(at);
      return;
    }
    Atomics.add(t, HELD, 1);
    // published by the exchange below: a worker that takes the descriptor sees the position
    // (the slot was 0 just now, so no other offer of this record has gone through)
    if (at >= 0) Atomics.store(t, HEADER + t[RECORDS]! + i, at + 1);
    if (Atomics.compareExchange(t, HEADER + i, 0, fd + 1) !== 0) {
      // the worker passed it meanwhile (without taking anything)
      Atomics.sub(t, HELD, 1);
      this.close(fd);
      if (at >= 0) {
        Atomics.store(t, HEADER + t[RECORDS]! + i, 0);
        this.release(at);
      }
      return;
    }
    this.offered.push(i);
  }

  /** Check and close what the worker handed back so far. */
  sweep(): void {
    sweep(this.t, this.f, this.planned, this.freedAt);
  }

  /** Resolves at once below the bound; at the bound, once half of it is left, or `gone()` says to stop waiting (checked every `pollMs`). */
  async room(gone: () => boolean, pollMs = 2): Promise<void> {
    const t = this.t;
    if (Atomics.load(t, HELD) < t[MAX]!) return;
    while (Atomics.load(t, HELD) > t[MAX]! >> 1 && !gone()) {
      await sleep(pollMs);
      this.sweep();
    }
  }

  /**
   * The job is over (or given up): check what came back, tell the worker it checks for itself
   * from now on, and close every descriptor still waiting to be taken.
   */
  closeRest(): void {
    const t = this.t;
    this.sweep();
    Atomics.store(t, STOPPED, 1);
    Atomics.notify(t, RR);
    // a handback racing with the store above: the worker sweeps after it, and so do we (the
    // slot exchange makes each descriptor closed once)
    this.sweep();
    for (const i of this.offered) {
      // only descriptors still offered: one handed back is the sweep's
      const v = Atomics.load(t, HEADER + i);
      if (v > 0 && Atomics.compareExchange(t, HEADER + i, v, PASSED) === v) {
        Atomics.sub(t, HELD, 1);
        this.close(v - 1);
      }
    }
    this.offered.length = 0;
    // nobody reads the arena any more
    this.regions.length = 0;
    this.byAt.clear();
  }
}

/** Descriptors the table holds (offered and not taken, or handed back and not closed). */
export function heldOf(sab: HandoffTable): number {
  return Atomics.load(new Int32Array(sab), HELD);
}
