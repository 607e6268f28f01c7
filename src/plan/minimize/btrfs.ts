/**
 * Smallest btrfs that mkfs.btrfs (btrfs-progs 6.14) makes with `--rootdir` in a window.
 *
 * The window is a regular file to the tool. Before filling, mkfs.btrfs estimates the space the
 * tree needs (`btrfs_mkfs_size_dir`, mkfs/rootdir.c) and, when the file is smaller, enlarges it
 * to that estimate; a window cannot grow, so the estimate *is* the smallest size the tool
 * accepts. The estimate is very generous (every entry is charged 3 × PATH_MAX + one sector of
 * metadata), far above what the tree really takes — mirrored here exactly:
 *
 *   walk (nftw, FTW_PHYS: every path once, hard links again, symlinks not followed)
 *   n    = number of paths, including the root directory
 *   data = Σ round_up(size, sectorsize) over regular-file paths
 *   meta = n × (3 × 4096 + sectorsize) + data / 8
 *   meta DUP: threshold 32 MiB, ×2 (single: 8 MiB, ×1); data single: 8 MiB, ×1 (DUP: 64 MiB, ×2)
 *   part = value > threshold ? (round_up(value, threshold) − threshold) × multiplier : 0
 *   size = part(meta) + part(data) + btrfs_min_dev_size
 *
 * btrfs_min_dev_size for a single device, metadata DUP, data single (the defaults since 5.15):
 * 1 MiB reserved + 4 MiB temporary system chunk + 2 × 8 MiB system + 2 × (8 + 32) MiB metadata
 * + 8 MiB data = 109 MiB. The real content always fits in that space (checked by the tests with
 * `btrfs check`), so no second model of the trees' actual use is needed to find the minimum.
 */
import type { TreeStats } from './stats.js';

const MiB = 1024 * 1024;
const PATH_MAX = 4096;

export type BtrfsProfile = 'single' | 'dup';

export interface BtrfsOptions {
  /** mkfs.btrfs --sectorsize (repart: max(fs sector size, 4096)). */
  sectorSize?: number;
  metadataProfile?: BtrfsProfile;
  dataProfile?: BtrfsProfile;
}

/** btrfs_min_dev_size() of btrfs-progs 6.14, non-zoned, non-mixed. */
export function btrfsMinDevSize(meta: BtrfsProfile = 'dup', data: BtrfsProfile = 'single'): number {
  const mf = meta === 'dup' ? 2 : 1;
  const df = data === 'dup' ? 2 : 1;
  // 1 MiB before the primary superblock, the temporary 4 MiB system chunk, the real system
  // chunk, temporary + first real metadata chunk, the first data chunk
  return 1 * MiB + 4 * MiB + mf * 8 * MiB + mf * (8 + 32) * MiB + df * 8 * MiB;
}

export interface BtrfsMinimal {
  bytes: number;
  detail: { paths: number; data: number; meta: number; metaChunks: number; dataChunks: number; minDevSize: number };
}

const roundUp = (v: number, p: number): number => Math.ceil(v / p) * p;

export function btrfsMinimalSize(st: TreeStats, opts: BtrfsOptions = {}): BtrfsMinimal {
  const ss = Math.max(opts.sectorSize ?? 4096, 4096);
  const metaProfile = opts.metadataProfile ?? 'dup';
  const dataProfile = opts.dataProfile ?? 'single';
  let paths = 1;
  for (const d of st.dirs) paths += d.names.length;
  let data = 0;
  for (const s of st.fileSizes) data += roundUp(s, ss);
  for (const s of st.extraLinkSizes) data += roundUp(s, ss);
  // integer division, as in C (u64)
  const meta = paths * (PATH_MAX * 3 + ss) + Math.floor(data / 8);
  const [mThr, mMul] = metaProfile === 'dup' ? [32 * MiB, 2] : [8 * MiB, 1];
  const [dThr, dMul] = dataProfile === 'dup' ? [64 * MiB, 2] : [8 * MiB, 1];
  const metaChunks = meta > mThr ? (roundUp(meta, mThr) - mThr) * mMul : 0;
  const dataChunks = data > dThr ? (roundUp(data, dThr) - dThr) * dMul : 0;
  const minDevSize = btrfsMinDevSize(metaProfile, dataProfile);
  return { bytes: metaChunks + dataChunks + minDevSize, detail: { paths, data, meta, metaChunks, dataChunks, minDevSize } };
}
