/**
 * mkfs.btrfs' own estimate of the file system a --rootdir tree needs (btrfs_mkfs_size_dir,
 * mkfs/rootdir.c, btrfs-progs 6.14; formatting.md §11.2). With `--shrink` on an empty file —
 * systemd-repart 262's Minimize= for btrfs — mkfs first grows the file to this size, fills it,
 * then shrinks it. A partition window standing for that file must be at least this large.
 * Default profiles only (single device: metadata DUP, data single, not mixed); options in
 * SYSTEMD_REPART_MKFS_OPTIONS_BTRFS that change them change the estimate, and mkfs then says
 * what it needed (E_FS_NO_SPACE with the size).
 */
import type { SourceTree, TreeNode } from '../../tree/model.js';

const MiB = 1024 * 1024;
const PATH_MAX = 4096;

/** btrfs_min_dev_size(), not zoned, not mixed, metadata DUP, data single: 1 + 4 + 2*8 + 2*(8+32) + 8 MiB. */
export const BTRFS_MIN_DEV_SIZE = 109 * MiB;

const roundUp = (v: number, m: number) => Math.ceil(v / m) * m;

/**
 * @param tree what --rootdir sees (null: no --rootdir, nothing to estimate: the minimum)
 * @param sectorSize the --sectorsize given to mkfs (max(fs sector size, 4096))
 */
export function mkfsBtrfsEstimate(tree: SourceTree | null, sectorSize: number): number {
  if (!tree) return BTRFS_MIN_DEV_SIZE;
  // nftw(FTW_PHYS): every path once (a hard link per name), the top directory included;
  // regular files add their apparent size, rounded up to the sector size
  let inodes = 0;
  let data = 0;
  const visit = (n: TreeNode) => {
    inodes++;
    if (n.kind === 'file') data += roundUp(n.size, sectorSize);
    if (n.kind === 'dir') for (const c of n.entries.values()) visit(c);
  };
  visit(tree.root);
  // DIR_ITEM + DIR_INDEX + INODE_REF of PATH_MAX each plus an inline extent per inode, and the
  // old 8:1 data:metadata ratio
  const meta = inodes * (PATH_MAX * 3 + sectorSize) + Math.floor(data / 8);
  const metaThreshold = 32 * MiB; // DUP: chunks of at least 32 MiB, two copies
  const dataThreshold = 8 * MiB; // single
  const metaChunks = meta > metaThreshold ? (roundUp(meta, metaThreshold) - metaThreshold) * 2 : 0;
  const dataChunks = data > dataThreshold ? roundUp(data, dataThreshold) - dataThreshold : 0;
  return metaChunks + dataChunks + BTRFS_MIN_DEV_SIZE;
}
