/**
 * Where a worker's time goes, per thread (bench/ prints it): compiling and instantiating the
 * WebAssembly tool, the tool's run, and within the run the host time spent reading file data
 * from the source tree and writing to the image; after the run, the wait for the empty files'
 * checks made on another thread (emptyWait, src/fs/wasm/empty-check.ts). A job takes (and resets) the totals when done.
 */
import { performance } from 'node:perf_hooks';

export type Phase = 'total' | 'driverLoad' | 'compile' | 'instantiate' | 'run' | 'fileData' | 'imageWrite' | 'emptyWait';
export type Phases = Partial<Record<Phase, number>>;

let totals: Phases = {};

export const now = (): number => performance.now();

/** Adds the milliseconds since `since` to a phase. */
export function addPhase(p: Phase, since: number): void {
  totals[p] = (totals[p] ?? 0) + (performance.now() - since);
}

/** The totals since the last call (rounded to 0.1 ms), then zero. */
export function takePhases(): Phases {
  const t = totals;
  totals = {};
  for (const k of Object.keys(t) as Phase[]) t[k] = Math.round(t[k]! * 10) / 10;
  return t;
}
