/**
 * Minimize=guess for ext2/ext3/ext4: a file system with room to spare, formatted once, never
 * larger than what systemd-repart (257 and 262 alike) makes for the same tree.
 *
 * repart's guess: mke2fs -d into a sparse 1 TiB file, W = the bytes that file then holds as data
 * (SEEK_DATA/SEEK_HOLE), final size max(32 MiB for ext4, W + W/2). W is at least
 *   - the metadata mke2fs writes for a 1 TiB ext4 whatever the tree: the primary superblock,
 *     group descriptors and reserved GDT blocks, and superblock + descriptors in each of the 18
 *     sparse_super backup groups (3 475 blocks = 13.6 MiB; measured: 15.7 MiB for an empty tree);
 *   - every block of content (data blocks that are not all zeros, directories, slow symlinks,
 *     xattr blocks);
 *   - the inode-table blocks holding the tree's inodes (16 per block).
 * 1.5 × that is `repartLowerBound`; our guess stays at or below it.
 *
 * Our rule: the smallest size with 15 % of the content's blocks *and* inodes free again (at least
 * 16 MiB, so there is a journal), capped at repart's lower bound. Where mke2fs' default inode
 * ratio (one inode per 16 KiB) cannot hold the tree within that bound — repart itself fails
 * there ("Could not allocate inode": its size has the blocks, not the inodes) — inodes and
 * blocks are sized separately: mke2fs gets `-N` (content inodes + 15 %) and the size follows
 * the blocks. Only then: for every other tree the mke2fs options are repart's own.
 */
import type { TreeStats } from './stats.js';
import { extContent, extMinimalSize, EXT_SIZE_STEP, FIRST_INO, groupHasSuper, type ExtType } from './ext4.js';

const MiB = 1024 * 1024;
const BS = 4096;
/** Free space a guess leaves beyond the content: 15 % of its blocks and inodes. */
export const GUESS_HEADROOM = 0.15;
/** A guessed ext file system is at least 16 MiB, so it always has a journal (mke2fs drops it below 8 MiB). */
export const GUESS_EXT_FLOOR = 16 * MiB;

/** Blocks mke2fs always writes into repart's 1 TiB probe file (see the module comment). */
export function probeMetadataBlocks(type: ExtType): number {
  const groups = 8192; // 2^28 blocks of 4 KiB, 32768 per group
  const descBlocks = groups / (type === 'ext4' ? 64 : 128);
  // reserved GDT (room to grow to 2^32 blocks) in the primary only; counted for ext4, where it
  // was measured
  const rsv = type === 'ext4' ? Math.min(Math.ceil(131072 / 64) - descBlocks, 1024) : 0;
  let backups = 0;
  for (let g = 1; g < groups; g++) if (groupHasSuper(g)) backups++;
  return 1 + descBlocks + rsv + backups * (1 + descBlocks);
}

/** The smallest size systemd-repart 257/262's Minimize=guess can give this tree (bytes). */
export function repartGuessLowerBound(st: TreeStats, type: ExtType): number {
  const c = extContent(st, type);
  // extent-tree blocks depend on placement; leave them out of a lower bound
  const content = c.blocks - c.detail.mapping;
  const itable = Math.ceil((c.inodes + FIRST_INO + 1) / 16);
  const written = (probeMetadataBlocks(type) + content + itable) * BS;
  // ext2/ext3 have no file system minimum in repart (minimal_size_by_fs_name knows ext4 only)
  return Math.max(type === 'ext4' ? 32 * MiB : 0, written + Math.floor(written / 2));
}

export interface ExtGuess {
  bytes: number;
  /** the smallest size with the default inode ratio (or with `-N`, when that is used). */
  minimal: number;
  repartLowerBound: number;
  /** mke2fs options the size depends on (`-N count`), empty for repart's own option set. */
  mkfsOptions: string[];
  detail: Record<string, unknown>;
}

const pageDown = (b: number): number => Math.floor(b / EXT_SIZE_STEP) * EXT_SIZE_STEP;
const pageUp = (b: number): number => Math.ceil(b / EXT_SIZE_STEP) * EXT_SIZE_STEP;

export function extGuess(st: TreeStats, type: ExtType): ExtGuess {
  const c = extContent(st, type);
  const slackBlocks = Math.ceil(c.blocks * GUESS_HEADROOM);
  const slackInodes = Math.ceil(c.inodes * GUESS_HEADROOM);
  const lower = repartGuessLowerBound(st, type);
  const cap = pageDown(lower);
  const min = extMinimalSize(st, type);
  if (min.bytes <= cap) {
    const target = pageUp(Math.max(extMinimalSize(st, type, { slackBlocks, slackInodes }).bytes, GUESS_EXT_FLOOR));
    const bytes = Math.max(min.bytes, Math.min(target, cap));
    return { bytes, minimal: min.bytes, repartLowerBound: lower, mkfsOptions: [], detail: { limitedBy: min.limitedBy, content: c, geometry: min.geometry, headroomBytes: bytes - min.bytes } };
  }
  // the default inode ratio cannot hold the tree within repart's size: buy inodes with -N
  const inodeCount = c.inodes + slackInodes + FIRST_INO + 1;
  const minN = extMinimalSize(st, type, { inodeCount });
  const target = pageUp(Math.max(extMinimalSize(st, type, { slackBlocks, inodeCount }).bytes, GUESS_EXT_FLOOR));
  const bytes = Math.max(minN.bytes, Math.min(target, cap));
  return {
    bytes, minimal: minN.bytes, repartLowerBound: lower, mkfsOptions: ['-N', String(inodeCount)],
    detail: { limitedBy: 'blocks', inodes: 'mke2fs -N (the default inode ratio cannot hold the tree)', inodeCount, content: c, geometry: minN.geometry, headroomBytes: bytes - minN.bytes },
  };
}
