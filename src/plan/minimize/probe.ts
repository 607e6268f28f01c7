/**
 * The real tool as the judge of a size: format a scratch file of exactly that size and see
 * whether the content fits. Used to find the true minimum by bisection (tests, bench) — never
 * by the planner, which trusts the models.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RepartError } from '../../errors.js';
import type { FormatJob } from '../../fs/driver.js';
import { driverFor } from '../../fs/registry.js';
import type { SourceTree } from '../../tree/model.js';

export interface ProbeOptions {
  /** directory for the scratch image (default: os.tmpdir()). */
  scratchDir?: string;
  sectorSize?: number;
  label?: string;
  fsUuid?: string;
  subvolumes?: FormatJob['subvolumes'];
  /** called after a successful format with the scratch image path (e.g. to run fsck). */
  check?: (image: string, size: number) => void;
}

export function probeJob(format: string, tree: SourceTree, window: FormatJob['window'], opts: ProbeOptions = {}): FormatJob {
  return {
    format, window, tree, label: opts.label ?? 'root', fsUuid: opts.fsUuid ?? '5e0c3a41-8e0f-4a8b-9d52-3f6a1c2b7e90',
    sectorSize: opts.sectorSize ?? 512, sourceDateEpoch: 1700000000, extraOptions: [], discard: false,
    subvolumes: opts.subvolumes ?? [], definitionFile: 'minimize-probe', windowZeroed: true,
  };
}

/** Format `size` bytes with the real driver; true when it succeeded, false on E_FS_NO_SPACE. */
export async function fitsWithTool(format: string, tree: SourceTree, size: number, opts: ProbeOptions = {}): Promise<boolean> {
  const dir = fs.mkdtempSync(path.join(opts.scratchDir ?? os.tmpdir(), 'minimize-probe-'));
  const image = path.join(dir, 'fs.img');
  try {
    fs.writeFileSync(image, '');
    fs.truncateSync(image, size);
    const driver = await driverFor(format);
    try {
      await driver.format(probeJob(format, tree, { path: image, offset: 0, size }, opts));
    } catch (e) {
      if (e instanceof RepartError && e.code === 'E_FS_NO_SPACE') return false;
      // vfat: a long name that needs more slots than a (small) cluster has; larger volumes have
      // larger clusters, so for sizing this is "too small" too
      if (e instanceof RepartError && e.code === 'E_FS_DIR_FULL') return false;
      throw e;
    }
    opts.check?.(image, size);
    return true;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Smallest size in (lo, hi] (multiples of `step`) the tool accepts, assuming it accepts `hi` and
 * that acceptance is monotone in between. Returns the size and how many tool runs it took.
 */
export async function bisectWithTool(format: string, tree: SourceTree, lo: number, hi: number, step = 4096, opts: ProbeOptions = {}): Promise<{ bytes: number; runs: number }> {
  let runs = 0;
  let a = Math.floor(lo / step);
  let b = Math.ceil(hi / step);
  while (b - a > 1) {
    const mid = Math.floor((a + b) / 2);
    runs++;
    if (await fitsWithTool(format, tree, mid * step, opts)) b = mid;
    else a = mid;
  }
  return { bytes: b * step, runs };
}
