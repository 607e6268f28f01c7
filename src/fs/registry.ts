/**
 * Format= → driver module. Drivers are loaded lazily so a worker only pays for the tool it runs.
 */
import type { FormatEvents, FormatJob, FormatOutcome, FsDriver } from './driver.js';

const DRIVERS: Record<string, () => Promise<FsDriver>> = {
  swap: async () => (await import('./swap.js')).swapDriver,
  vfat: async () => (await import('./vfat/index.js')).vfatDriver,
  ext2: async () => (await import('./ext4/index.js')).ext4Driver,
  ext3: async () => (await import('./ext4/index.js')).ext4Driver,
  ext4: async () => (await import('./ext4/index.js')).ext4Driver,
  btrfs: async () => (await import('./btrfs/index.js')).btrfsDriver,
  erofs: async () => (await import('./erofs/index.js')).erofsDriver,
  squashfs: async () => (await import('./squashfs/index.js')).squashfsDriver,
  xfs: async () => (await import('./xfs/index.js')).xfsDriver,
};

export const SUPPORTED_FORMATS: ReadonlySet<string> = new Set(Object.keys(DRIVERS));

/**
 * Drivers written in TypeScript: a worker is ready for them in a few ms once it has started.
 * The others start a WebAssembly tool (hundreds of ms of CPU to load and compile), so they are
 * the ones worth pre-warming and the ones given the pre-warmed workers.
 */
export const LIGHT_FORMATS: ReadonlySet<string> = new Set(['vfat', 'swap']);

export async function driverFor(format: string): Promise<FsDriver> {
  const load = DRIVERS[format];
  if (!load) throw new Error(`no driver for Format=${format}`);
  return load();
}

/** Formats jobs one after another in this thread (the worker pool replaces this for heavy formats). */
export async function formatInProcess(jobs: FormatJob[], events: FormatEvents = {}): Promise<FormatOutcome[]> {
  const out: FormatOutcome[] = [];
  for (const [i, j] of jobs.entries()) {
    events.start?.(i);
    let r: FormatOutcome;
    try {
      r = await (await driverFor(j.format)).format(j, (p) => events.progress?.(i, p));
    } catch (e) {
      throw tagJob(e, i);
    }
    events.done?.(i, r);
    out.push(r);
  }
  return out;
}

/** Marks an error with the index of the job that failed (formatters report which one it was). */
export function tagJob<E>(e: E, index: number): E {
  if (e !== null && typeof e === 'object') Object.defineProperty(e, 'jobIndex', { value: index, enumerable: false, configurable: true });
  return e;
}
