/**
 * Format=btrfs: the real mkfs.btrfs (btrfs-progs, WebAssembly build in wasm/) with the
 * arguments systemd-repart passes (formatting.md §3, §2.5), filling the top-level subvolume
 * from the virtual source tree (--rootdir) and Subvolumes=/DefaultSubvolume= via --subvol,
 * writing straight into the partition window.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FsError } from '../../errors.js';
import { mkfsBtrfsEstimate } from './estimate.js';
import { jobCompat, type FormatJob, type FormatOutcome, type FormatProgress, type FsDriver } from '../driver.js';
import { DEVICE_PATH, runForJob, toolEnv, TREE_MOUNT, zeroWindow } from '../wasm/common.js';
import { toolArtifact, toolSetFor } from '../wasm/host.js';
import { reproducibleEnv } from './repro.js';
import { objectTree } from '../../tree/packed.js';

/**
 * A btrfs job may ask for systemd-repart 262's Minimize= (formatting.md §7, "btrfs in main"):
 * one pass of `mkfs.btrfs --rootdir ... --shrink` on an empty file. mkfs grows the file to its
 * own estimate of the content (§11.2), fills it, shrinks the file system to the end of its last
 * device extent and truncates the file to that. Here the window stands for that file (it is
 * the most the file may grow to), and the outcome's `usedBytes` is the size mkfs left it at.
 */
export interface BtrfsFormatJob extends FormatJob {
  /** Minimize= is not off, under systemd-repart ≥ 262 (only with content: --shrink needs --rootdir). */
  shrink?: boolean;
  /** the window is the size an earlier --shrink pass used (a re-layout, a partition after another
   * self-sized one): mkfs then runs on a scratch file of its own and the result is copied in */
  measured?: boolean;
}

function shrinks(job: FormatJob): boolean {
  return !!(job as BtrfsFormatJob).shrink && job.tree !== null;
}

/** Compression algorithms our build has (`--compress`: zlib 1.3.1, zstd 1.5.7, lzo 2.10, as
 * trixie's btrfs-progs links them). */
const COMPRESSION = new Set(['zlib', 'zstd', 'lzo', 'no', 'none']);

/** `--subvol`/`--inode-flags` words (§2.5), in configuration order. */
export function subvolumeArgs(job: FormatJob): string[] {
  const compat = jobCompat(job);
  if (!job.tree || !compat.btrfsSubvolumes) return [];
  const out: string[] = [];
  for (const sv of job.subvolumes) {
    const isDefault = job.defaultSubvolume !== undefined && sv.path === job.defaultSubvolume;
    const prefix = isDefault ? (sv.readOnly ? 'default-ro' : 'default') : sv.readOnly ? 'ro' : '';
    out.push('--subvol', prefix ? `${prefix}:${sv.path}` : sv.path);
  }
  if (compat.subvolumeNodatacow) {
    for (const sv of job.subvolumes) if (sv.nodatacow) out.push('--inode-flags', `nodatacow:${sv.path}`);
  }
  return out;
}

/** mkfs.btrfs argv (without argv[0]) exactly as systemd-repart builds it. */
export function mkfsBtrfsArgs(job: FormatJob): string[] {
  const compat = jobCompat(job);
  const args = ['-L', job.label, '-U', job.fsUuid];
  if (!job.discard) args.push('--nodiscard');
  if (job.tree) args.push('-r', TREE_MOUNT);
  if (job.compression && (job.tree || !compat.btrfsCompressNeedsTree)) {
    args.push('--compress', job.compressionLevel ? `${job.compression}:${job.compressionLevel}` : job.compression);
  }
  args.push(`--sectorsize=${Math.max(job.sectorSize, 4096)}`);
  args.push(DEVICE_PATH, ...job.extraOptions, ...subvolumeArgs(job));
  if (shrinks(job)) args.push('--shrink');
  return args;
}

/**
 * Options that make our build give the file system the emulated release's mkfs.btrfs would.
 * systemd ≥ 258 means sid, whose btrfs-progs 7.3 turns on block-group-tree by default (since
 * 6.19; kernels ≥ 6.1 mount it). Our sid set has no mkfs.btrfs of its own yet and runs
 * trixie's 6.14 (wasm/sid/README.md), so it is asked for; placed first, so that
 * SYSTEMD_REPART_MKFS_OPTIONS_BTRFS can still turn it off (-O ^block-group-tree) as it could
 * with 7.3. With it, the superblock (features, sizes) equals 7.3's; the trees are laid out
 * somewhat differently.
 */
export function toolDefaultArgs(job: FormatJob): string[] {
  const set = toolSetFor(jobCompat(job));
  return set === 'sid' && toolArtifact('mkfs.btrfs', set) === toolArtifact('mkfs.btrfs', 'trixie') ? ['-O', 'block-group-tree'] : [];
}

export const btrfsDriver: FsDriver = {
  formats: ['btrfs'],
  async format(job: FormatJob, progress?: (p: FormatProgress) => void): Promise<FormatOutcome> {
    if (job.format !== 'btrfs') {
      throw new FsError('E_FS', `btrfs driver cannot make Format=${job.format}`, { file: job.definitionFile, key: 'Format' });
    }
    if (job.compression && !COMPRESSION.has(job.compression)) {
      throw new FsError('E_FS', `Compression=${job.compression} is not a btrfs compression (zlib, zstd, lzo)`, {
        file: job.definitionFile, key: 'Compression',
      });
    }
    if (job.tree && job.subvolumes.some((s) => s.nodatacow) && jobCompat(job).subvolumeNodatacow) {
      throw new FsError('E_FS', 'Subvolumes= with nodatacow needs mkfs.btrfs --inode-flags (btrfs-progs >= 6.15); the bundled build is 6.14', {
        file: job.definitionFile, key: 'Subvolumes',
      });
    }
    const args = [...toolDefaultArgs(job), ...mkfsBtrfsArgs(job)];
    const env = { ...toolEnv(job, ['BTRFS_']), ...reproducibleEnv(job) };
    if (!shrinks(job)) {
      const { result, outcome } = await runForJob(job, 'mkfs.btrfs', 'mkfs.btrfs', args, env, progress);
      return { ...outcome, toolOutput: result.stdout };
    }
    // The file repart hands mkfs is new and empty: the window must read as zeros, as it would.
    if (!job.windowZeroed) zeroWindow(job);
    // mkfs first grows the file to its own estimate; a window already sized to what a previous
    // pass used (a relayout, or a partition placed after another self-sized one) is smaller than
    // that, so mkfs runs on a scratch file of its own, as repart's, and the result is copied in.
    if ((job as BtrfsFormatJob).measured && job.window.size < mkfsBtrfsEstimate(job.tree && objectTree(job.tree), Math.max(job.sectorSize, 4096))) return shrinkViaScratch(job, args, env, progress);
    const { result, outcome } = await runForJob({ ...job, windowZeroed: true }, 'mkfs.btrfs', 'mkfs.btrfs', args, env, progress, {
      deviceAsEmptyFile: true,
    });
    return { ...outcome, usedBytes: usedWithin(job, result.device?.end ?? 0), toolOutput: result.stdout };
  },
};

function usedWithin(job: FormatJob, used: number): number {
  if (used <= 0 || used > job.window.size) {
    throw new FsError(used > job.window.size ? 'E_FS_NO_SPACE' : 'E_FS', `mkfs.btrfs --shrink finished but its output size (${used} bytes) is not within the partition (${job.window.size} bytes)`, {
      file: job.definitionFile,
    });
  }
  return used;
}

/** `--shrink` into a sparse scratch file as large as mkfs may want, then its bytes into the window. */
async function shrinkViaScratch(job: FormatJob, args: string[], env: Record<string, string>, progress?: (p: FormatProgress) => void): Promise<FormatOutcome> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-ts-btrfs-'));
  try {
    const scratch = path.join(dir, 'fs');
    writeFileSync(scratch, '');
    const room = Math.max(2 * mkfsBtrfsEstimate(job.tree && objectTree(job.tree), Math.max(job.sectorSize, 4096)), 2 * job.window.size);
    const { result, outcome } = await runForJob({ ...job, window: { path: scratch, offset: 0, size: room }, windowZeroed: true }, 'mkfs.btrfs', 'mkfs.btrfs', args,
      env, progress, { deviceAsEmptyFile: true });
    const used = usedWithin(job, result.device?.end ?? 0);
    const src = openSync(scratch, 'r');
    const dst = openSync(job.window.path, 'r+');
    try {
      const buf = Buffer.alloc(4 << 20);
      for (let at = 0; at < used; at += buf.length) {
        const n = readSync(src, buf, 0, Math.min(buf.length, used - at), at);
        writeSync(dst, buf, 0, n, job.window.offset + at);
      }
    } finally { closeSync(src); closeSync(dst); }
    return { ...outcome, usedBytes: used, toolOutput: result.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
