/**
 * Minimize=best and Minimize=guess without formatting twice: the size a file system needs is
 * computed from the virtual source tree (see README.md for the rules and measurements).
 *
 *   minimalSize(format, tree, opts)  the smallest size the tool accepts for that content
 *   guessSize(format, tree, opts)    minimal + headroom, never above repart 257's guess
 *   formatMinimized(job, model)      format once at the model's size; grow and retry on no space
 */
import { FORMAT_FACTS } from '../../fs/facts.js';
import { closeSync, openSync, writeSync } from 'node:fs';
import { FsError, RepartError } from '../../errors.js';
import type { FormatJob, FormatOutcome, FormatProgress, FsDriver } from '../../fs/driver.js';
import { driverFor } from '../../fs/registry.js';
import { objectTree, type AnyTree } from '../../tree/packed.js';
import { newTree } from '../../tree/model.js';
import { btrfsMinimalSize } from './btrfs.js';
import { treeStats, type TreeStats } from './stats.js';
import { vfatMinimalSize, vfatRepartGuess } from './vfat.js';
import { extGuessModel, extMinimalModel, type GuessModel, type MinimizeOptions, type SizeModel } from './model.js';

export { btrfsMinimalSize, btrfsMinDevSize } from './btrfs.js';
export { extGeometry, extMinimalSize, extContent } from './ext4.js';
export { vfatMinimalSize, vfatRepartGuess } from './vfat.js';
export { treeStats } from './stats.js';
export { extGuess, repartGuessLowerBound, GUESS_HEADROOM, GUESS_EXT_FLOOR } from './ext-guess.js';
export { modelMkfsOptionsAt, type GuessModel, type MinimizeOptions, type SizeModel } from './model.js';
export { minimizedMkfsOptions } from './mkfs-options.js';

const MiB = 1024 * 1024;
const UNIT = 4096;
const roundUp = (v: number, p: number): number => Math.ceil(v / p) * p;

/** what the model sizes (the self-sized formats are minimized by formatting them: src/fs/facts.ts) */
export const MINIMIZABLE_FORMATS: ReadonlySet<string> = new Set(Object.keys(FORMAT_FACTS).filter((f) => FORMAT_FACTS[f]!.minimizable && !FORMAT_FACTS[f]!.selfSized));

function statsOf(tree: AnyTree | null): TreeStats {
  return treeStats(tree ?? newTree());
}

function unsupported(format: string): never {
  throw new FsError('E_FS', `Minimize= cannot size Format=${format} (supported: ${[...MINIMIZABLE_FORMATS].join(', ')})`);
}

/** The smallest file system (bytes, multiple of 4096) the tool accepts for this content. */
export function minimalSize(format: string, tree: AnyTree | null, opts: MinimizeOptions = {}): SizeModel {
  switch (format) {
    case 'ext2':
    case 'ext3':
    case 'ext4': {
      return extMinimalModel(format, tree);
    }
    case 'btrfs': {
      const m = btrfsMinimalSize(statsOf(tree), { sectorSize: opts.sectorSize, metadataProfile: opts.btrfsMetadataProfile, dataProfile: opts.btrfsDataProfile });
      return { format, bytes: m.bytes, detail: { ...m.detail, limitedBy: 'mkfs.btrfs --rootdir size estimate' } };
    }
    case 'vfat': {
      const m = vfatMinimalSize(tree ? objectTree(tree) : newTree(), { sectorSize: opts.sectorSize, label: opts.label, compat: opts.compat });
      return { format, bytes: m.bytes, detail: m.detail };
    }
    case 'swap':
      // mkswap needs at least 10 pages; beyond that, the size is the user's
      return { format, bytes: roundUp(Math.max(opts.sizeMin ?? 10 * MiB, 10 * 4096), UNIT), detail: { limitedBy: 'SizeMinBytes' } };
    default:
      return unsupported(format);
  }
}

/**
 * Minimize=guess: a writable file system with room to spare, formatted once, never larger than
 * systemd-repart's own guess.
 *
 * ext: see ext-guess.ts (15 % free blocks and inodes, capped at a lower bound of repart's
 * two-pass guess; `-N` only where mke2fs' default inode ratio cannot hold the tree there).
 * vfat: systemd-repart's own guess (vfat.ts: 1.5 × what its 1 TiB probe holds). btrfs: the minimum, which
 * already is mkfs.btrfs' own generous estimate (every entry charged 16 KiB of metadata, plus
 * data/8); repart's final mkfs enlarges its file to the same estimate.
 */
export function guessSize(format: string, tree: AnyTree | null, opts: MinimizeOptions = {}): GuessModel {
  switch (format) {
    case 'ext2':
    case 'ext3':
    case 'ext4': {
      return extGuessModel(format, tree);
    }
    case 'vfat': {
      // repart's own guess, computed (vfatRepartGuess): 257 and 262 put this size in the table
      const min = minimalSize(format, tree, opts);
      const g = vfatRepartGuess(tree ? objectTree(tree) : newTree(), { sectorSize: opts.sectorSize, label: opts.label, compat: opts.compat });
      const bytes = Math.max(min.bytes, roundUp(g.bytes, UNIT));
      return { format, bytes, minimal: min.bytes, repartLowerBound: bytes, detail: { ...min.detail, limitedBy: 'systemd-repart\'s two-pass guess (1 TiB probe)', repart: g.detail } };
    }
    default: {
      const min = minimalSize(format, tree, opts);
      return { ...min, minimal: min.bytes, repartLowerBound: min.bytes };
    }
  }
}

export interface FormatMinimizedOptions {
  /** retries after the first pass (default 4). */
  maxRetries?: number;
  /** growth per retry: max(1 MiB, 2% of the current size), rounded to 64 KiB (default). */
  step?: (size: number) => number;
  log?: (message: string) => void;
  progress?: (p: FormatProgress) => void;
  /** the driver to use (default: the registry's for job.format). */
  driver?: FsDriver;
}

export interface MinimizedOutcome extends FormatOutcome {
  /** the file system size finally formatted (the partition needs this many bytes). */
  bytes: number;
  /** sizes tried, in order. */
  tried: number[];
}

function wipeSignatures(window: FormatJob['window'], size: number): void {
  const fd = openSync(window.path, 'r+');
  try {
    const zero = Buffer.alloc(MiB);
    writeSync(fd, zero, 0, Math.min(MiB, size), window.offset);
    if (size >= 64 * MiB + 4096) writeSync(fd, zero, 0, 4096, window.offset + 64 * MiB);
  } finally {
    closeSync(fd);
  }
}

const defaultStep = (size: number): number => roundUp(Math.max(MiB, size * 0.02), 65536);

/**
 * Minimize=best in one pass: format `job.window` cut down to the model's size. If the tool says
 * there is no space (FsError E_FS_NO_SPACE) — the model was short — grow by a small step and
 * format again, at most `maxRetries` times, never past the window. Every retry is logged and
 * counted in `passes`.
 */
export async function formatMinimized(job: FormatJob, model: SizeModel | number, opts: FormatMinimizedOptions = {}): Promise<MinimizedOutcome> {
  const driver = opts.driver ?? (await driverFor(job.format));
  const maxRetries = opts.maxRetries ?? 4;
  const step = opts.step ?? defaultStep;
  const where = { file: job.definitionFile };
  let size = roundUp(typeof model === 'number' ? model : model.bytes, UNIT);
  if (size > job.window.size) {
    throw new FsError('E_FS_NO_SPACE', `Minimize: ${job.format} needs ${size} bytes, the partition has ${job.window.size}`, where);
  }
  const tried: number[] = [];
  let passes = 0;
  const warnings: string[] = [];
  for (;;) {
    tried.push(size);
    passes++;
    try {
      const out = await driver.format({ ...job, window: { ...job.window, size } }, opts.progress);
      warnings.push(...out.warnings);
      return { warnings, passes, bytes: size, tried };
    } catch (e) {
      if (!(e instanceof RepartError && e.code === 'E_FS_NO_SPACE')) throw e;
      const next = Math.min(job.window.size, size + step(size));
      if (passes > maxRetries || next <= size) {
        throw new FsError('E_FS_NO_SPACE', `Minimize: ${job.format} did not fit after ${passes} passes (tried ${tried.join(', ')} bytes): ${e.message}`, where);
      }
      const msg = `Minimize: ${job.format} does not fit in ${size} bytes, retrying with ${next} (pass ${passes + 1})`;
      warnings.push(msg);
      opts.log?.(msg);
      // The failed pass left a half-written file system. mke2fs (and mkfs.btrfs) refuse to
      // overwrite one without -F/-f, which repart never passes: wipe the signatures they probe
      // (first MiB: ext/vfat superblock, btrfs primary at 64 KiB; btrfs mirror at 64 MiB), inside
      // the window only. The window is no longer known to be all zeros after this.
      wipeSignatures(job.window, size);
      job = { ...job, windowZeroed: false };
      size = next;
    }
  }
}
