/**
 * Format= → driver module. Drivers are loaded lazily so a worker only pays for the tool it runs.
 */
import type { FormatJob, FormatOutcome, FsDriver } from './driver.js';

const DRIVERS: Record<string, () => Promise<FsDriver>> = {
  swap: async () => (await import('./swap.js')).swapDriver,
  ext2: async () => (await import('./ext4/index.js')).ext4Driver,
  ext3: async () => (await import('./ext4/index.js')).ext4Driver,
  ext4: async () => (await import('./ext4/index.js')).ext4Driver,
  btrfs: async () => (await import('./btrfs/index.js')).btrfsDriver,
};

export const SUPPORTED_FORMATS: ReadonlySet<string> = new Set(Object.keys(DRIVERS));

export async function driverFor(format: string): Promise<FsDriver> {
  const load = DRIVERS[format];
  if (!load) throw new Error(`no driver for Format=${format}`);
  return load();
}

/** Formats jobs one after another in this thread (the worker pool replaces this for heavy formats). */
export async function formatInProcess(jobs: FormatJob[]): Promise<FormatOutcome[]> {
  const out: FormatOutcome[] = [];
  for (const j of jobs) out.push(await (await driverFor(j.format)).format(j));
  return out;
}
