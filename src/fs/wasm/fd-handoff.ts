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
 * Bounded: at most `max` descriptors wait at once (slot HELD counts them); at the bound the
 * read-ahead waits until the worker has taken half of them, polling on a short timer (the worker
 * notifies nobody: nothing per file on its thread but two atomic operations; and
 * Atomics.waitAsync does not keep Node's event loop alive).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export const PASSED = -1;
/** header slots: descriptors waiting, and their bound */
const HELD = 0;
const MAX = 1;
const HEADER = 2;

/** The shared table as posted with a job (a SharedArrayBuffer is seen by both threads as it is). */
export type HandoffTable = SharedArrayBuffer;

export function newHandoffTable(records: number, max: number): HandoffTable {
  const sab = new SharedArrayBuffer((HEADER + records) * 4);
  new Int32Array(sab)[MAX] = max;
  return sab;
}

/** The worker's side: take the descriptor offered for a record, if any; the slot is passed from then on. */
export class HandoffTaker {
  private readonly t: Int32Array;
  constructor(sab: HandoffTable) {
    this.t = new Int32Array(sab);
  }

  /** An open descriptor of the scanned file of record `i` (now the caller's to close), or -1. */
  take(i: number): number {
    const t = this.t;
    const v = Atomics.exchange(t, HEADER + i, PASSED);
    if (v <= 0) return -1;
    Atomics.sub(t, HELD, 1);
    return v - 1;
  }
}

/** The read-ahead's side: offer descriptors, wait for room, and close what was never taken. */
export class HandoffGiver {
  private readonly t: Int32Array;
  /** records offered, to close what the worker did not take (not every record of the tree) */
  private readonly offered: number[] = [];

  constructor(sab: HandoffTable, private readonly close: (fd: number) => void) {
    this.t = new Int32Array(sab);
  }

  /** the worker got to this record already: nothing to read ahead or offer */
  passed(i: number): boolean {
    return Atomics.load(this.t, HEADER + i) === PASSED;
  }

  /** Give `fd` (opened as scanned, size as planned) for record `i`; closed here if the worker passed it meanwhile. */
  offer(i: number, fd: number): void {
    const t = this.t;
    Atomics.add(t, HELD, 1);
    if (Atomics.compareExchange(t, HEADER + i, 0, fd + 1) !== 0) {
      Atomics.sub(t, HELD, 1);
      this.close(fd);
      return;
    }
    this.offered.push(i);
  }

  /** Resolves at once below the bound; at the bound, once half of it is left, or `gone()` says to stop waiting (checked every `pollMs`). */
  async room(gone: () => boolean, pollMs = 2): Promise<void> {
    const t = this.t;
    if (Atomics.load(t, HELD) < t[MAX]!) return;
    while (Atomics.load(t, HELD) > t[MAX]! >> 1 && !gone()) await sleep(pollMs);
  }

  /** Close every descriptor still waiting (the job is over); the slots read as passed. */
  closeRest(): void {
    const t = this.t;
    for (const i of this.offered) {
      const v = Atomics.exchange(t, HEADER + i, PASSED);
      if (v > 0) {
        Atomics.sub(t, HELD, 1);
        this.close(v - 1);
      }
    }
    this.offered.length = 0;
  }
}

/** Descriptors offered and not yet taken or closed (tests, diagnostics). */
export function heldOf(sab: HandoffTable): number {
  return Atomics.load(new Int32Array(sab), HELD);
}
