/**
 * Smallest ext2/ext3/ext4 that mke2fs (e2fsprogs 1.47, `-I 256 -m 0 -b 4096 -T default`, our
 * mke2fs.conf) can fill with a tree through `-d`.
 *
 * Two halves:
 *  - `extGeometry(bytes)`: what an *empty* mke2fs of that size looks like — block groups, inode
 *    count (inode_ratio 16384 → one inode per 4 blocks, rounded to whole inode-table blocks per
 *    group), reserved GDT blocks for resize_inode, the journal (ext2fs_default_journal_size), the
 *    orphan file, root and lost+found. Mirrors ext2fs_initialize()/mke2fs.c and is checked
 *    against the real tool's free block/inode counts (test/minimize.test.ts).
 *  - `extContent(stats)`: blocks and inodes the content takes: file data (no inline_data, so every
 *    non-empty file takes whole blocks; hard links once), extent-tree or indirect blocks, slow
 *    symlinks (≥ 60 bytes) one block each, directories as `ext2fs_link` fills them (linear, first
 *    fit, 12-byte checksum tail per block with metadata_csum, expanded one block at a time).
 * The size is the smallest block count where both fit. Because more size means more inodes,
 * inode tables, GDT and a larger journal, this is a search, not a formula.
 */
import type { TreeStats } from './stats.js';

export type ExtType = 'ext2' | 'ext3' | 'ext4';

const BS = 4096;
const BPG = BS * 8;
const INODE_SIZE = 256;
const INODE_RATIO = 16384;
export const FIRST_INO = 11;
const MAX_EXTENT_LEN = 32768;
/** extents per extent-tree block: (4096 - 12 header - 4 tail) / 12 */
const EXTENTS_PER_BLOCK = 340;
const ADDR_PER_BLOCK = BS / 4;
/** sysconf(_SC_PAGESIZE) as our mke2fs sees it: Linux's 4 KiB (wasm/shim/pagesize.c; the
 * emscripten runtime's own is its 64 KiB memory page, which made mke2fs drop up to 15 blocks). */
export const MKE2FS_PAGE_SIZE = 4096;
/** Minimize= sizes ext file systems in 64 KiB steps (where sizes were while mke2fs rounded to
 * 64 KiB pages: kept, so minimized partitions did not move when that was fixed). */
export const EXT_SIZE_STEP = 65536;

interface Features {
  journal: boolean;
  extents: boolean;
  flexBg: boolean;
  csum: boolean;
  bit64: boolean;
  orphanFile: boolean;
}

export function extFeatures(type: ExtType): Features {
  const ext4 = type === 'ext4';
  return { journal: type !== 'ext2', extents: ext4, flexBg: ext4, csum: ext4, bit64: ext4, orphanFile: ext4 };
}

const isPowerOf = (n: number, b: number): boolean => {
  while (n > 1 && n % b === 0) n /= b;
  return n === 1;
};
/** sparse_super: superblock backups in groups 0, 1 and powers of 3, 5, 7. */
export const groupHasSuper = (g: number): boolean => g <= 1 || isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7);

/** ext2fs_default_journal_size(): blocks, or -1 for "too small for a journal". */
export function defaultJournalBlocks(blocks: number): number {
  if (blocks < 2048) return -1;
  if (blocks < 32768) return 1024;
  if (blocks < 256 * 1024) return 4096;
  if (blocks < 512 * 1024) return 8192;
  if (blocks < 4096 * 1024) return 16384;
  if (blocks < 8192 * 1024) return 32768;
  if (blocks < 16384 * 1024) return 65536;
  if (blocks < 32768 * 1024) return 131072;
  return 262144;
}

/** ext2fs_default_orphan_file_blocks() */
export function defaultOrphanBlocks(blocks: number): number {
  if (blocks < 128 * 1024) return 32;
  if (blocks < 2 * 1024 * 1024) return Math.floor(blocks / 4096);
  return 512;
}

/** Mapping blocks of a file of `n` data blocks: extent-tree leaves, or indirect blocks. */
export function mappingBlocks(n: number, extents: boolean, fragments = 0): number {
  if (n === 0) return 0;
  if (extents) {
    // one extent holds at most 32768 blocks; group metadata (backup superblocks, flex_bg tables)
    // splits long runs. Up to 4 extents live in the inode itself.
    const ext = Math.ceil(n / MAX_EXTENT_LEN) + fragments;
    return ext <= 4 ? 0 : Math.ceil(ext / EXTENTS_PER_BLOCK);
  }
  let meta = 0;
  let left = n - 12;
  if (left <= 0) return 0;
  meta += 1; // indirect
  left -= ADDR_PER_BLOCK;
  if (left <= 0) return meta;
  const dind = Math.min(left, ADDR_PER_BLOCK * ADDR_PER_BLOCK);
  meta += 1 + Math.ceil(dind / ADDR_PER_BLOCK);
  left -= dind;
  if (left <= 0) return meta;
  meta += 1 + Math.ceil(left / (ADDR_PER_BLOCK * ADDR_PER_BLOCK)) + Math.ceil(left / ADDR_PER_BLOCK);
  return meta;
}

export interface ExtGeometry {
  /** blocks mke2fs uses (it may drop a too-small last group). */
  blocks: number;
  groups: number;
  inodes: number;
  inodesPerGroup: number;
  reservedGdt: number;
  journalBlocks: number;
  /** free blocks after mke2fs without content (what `dumpe2fs -h` shows as Free blocks). */
  freeBlocks: number;
  /** free inodes after mke2fs without content. */
  freeInodes: number;
  /** 32768, less when -N asks for more inodes than 8 × block size per group. */
  blocksPerGroup: number;
}

/**
 * The empty file system mke2fs makes in `bytes`, or null when it refuses ("too small", or more
 * inodes than the blocks hold). `inodeCount`: mke2fs -N (default: one inode per 16 KiB of the
 * requested size).
 */
export function extGeometry(bytes: number, type: ExtType = 'ext4', pageSize = MKE2FS_PAGE_SIZE, inodeCount?: number): ExtGeometry | null {
  const f = extFeatures(type);
  // mke2fs rounds a size it read from the device down to whole pages (sysconf(_SC_PAGESIZE)):
  // 4 KiB, natively and in our build (no rounding with 4 KiB blocks).
  const perPage = Math.max(1, pageSize / BS);
  const requested = Math.floor(Math.floor(bytes / BS) / perPage) * perPage;
  let blocks = requested;
  // mke2fs computes the inode count once, from the size it was given (or takes -N)
  const inodesWanted = Math.max(inodeCount ?? Math.floor((requested * BS) / INODE_RATIO), FIRST_INO + 1);
  // mke2fs: "inode_size * inodes_count too big for a filesystem with N blocks"
  if (inodesWanted * INODE_SIZE >= requested * BS) return null;
  const descPerBlock = BS / (f.bit64 ? 64 : 32);
  let bpg = BPG;
  for (;;) {
    if (blocks <= 0) return null;
    const groups = Math.ceil(blocks / bpg);
    const descBlocks = Math.ceil(groups / descPerBlock);
    let ipg = Math.ceil(inodesWanted / groups);
    if (ipg > BS * 8) {
      // ext2fs_initialize(): more inodes than a group's bitmap holds — try again with smaller
      // groups (only reachable with -N)
      if (bpg < 256) return null;
      bpg -= 8;
      blocks = requested;
      continue;
    }
    let itb = Math.ceil((ipg * INODE_SIZE) / BS);
    ipg = Math.floor((itb * BS) / INODE_SIZE) & ~7;
    itb = Math.ceil((ipg * INODE_SIZE) / BS);
    // calc_reserved_gdt_blocks(): room to grow to 1024x (at most 2^32 blocks)
    const maxBlocks = blocks < Math.floor(0xffffffff / 1024) ? blocks * 1024 : 0xffffffff;
    const rsvGroups = Math.ceil(maxBlocks / bpg);
    const rsv = Math.min(Math.max(Math.ceil(rsvGroups / descPerBlock) - descBlocks, 0), ADDR_PER_BLOCK);
    const lastOverhead = 2 + itb + (groupHasSuper(groups - 1) ? 1 + descBlocks + rsv : 0);
    // meta_bg (GDT > 3/4 of a group) is not modelled; "too many inodes" when a group cannot
    // hold its own metadata
    if (rsv + descBlocks > Math.floor((bpg * 3) / 4) || 3 + itb + rsv + descBlocks > bpg) return null;
    const rem = blocks % bpg;
    if (groups === 1 && rem && rem < lastOverhead) return null;
    if (rem && rem < lastOverhead + 50) {
      blocks -= rem;
      continue;
    }
    let overhead = 0;
    for (let g = 0; g < groups; g++) overhead += 2 + itb + (groupHasSuper(g) ? 1 + descBlocks + rsv : 0);
    const j = f.journal ? defaultJournalBlocks(blocks) : -1;
    // mkjournal finds one free run for the journal: no extra splits
    const journal = j > 0 ? j + mappingBlocks(j, f.extents) : 0;
    const orphan = f.orphanFile && j > 0 ? defaultOrphanBlocks(blocks) : 0;
    // root directory 1 block, lost+found 16 KiB, resize inode's double-indirect block
    const fixed = 1 + 4 + 1;
    const freeBlocks = blocks - overhead - journal - orphan - fixed;
    const inodes = ipg * groups;
    return {
      blocks, groups, inodes, inodesPerGroup: ipg, reservedGdt: rsv, journalBlocks: Math.max(j, 0),
      freeBlocks, freeInodes: inodes - FIRST_INO - (orphan ? 1 : 0), blocksPerGroup: bpg,
    };
  }
}

/** ext2_dir_entry_2 record length for a name. */
const recLen = (nameLen: number): number => (8 + nameLen + 3) & ~3;

/** Blocks of a linear directory filled by ext2fs_link() (first fit, grown by one block). */
export function dirBlocks(names: number[], csum: boolean, initial: number[]): number {
  const usable = BS - (csum ? 12 : 0);
  const free: number[] = [usable];
  for (const n of initial) free[0]! -= recLen(n);
  let firstOpen = 0;
  for (const n of names) {
    const need = recLen(n);
    let placed = false;
    for (let b = firstOpen; b < free.length; b++) {
      if (free[b]! >= need) {
        free[b]! -= need;
        placed = true;
        break;
      }
    }
    if (!placed) free.push(usable - need);
    // blocks with less room than the smallest record never take another entry
    while (firstOpen < free.length && free[firstOpen]! < 12) firstOpen++;
  }
  return free.length;
}

export interface ExtContent {
  /** blocks for the content beyond what the empty file system already uses. */
  blocks: number;
  /** inodes for the content (the root directory exists already). */
  inodes: number;
  detail: { data: number; mapping: number; dirs: number; symlinks: number; xattrs: number };
}

/** Extent-tree blocks for a file of `extents` extents: none up to 4 (they live in the inode),
 * then leaves of 340 and index blocks above them. */
export function extentTreeBlocks(extents: number): number {
  let total = 0;
  let level = extents;
  while (level > 4) {
    level = Math.ceil(level / EXTENTS_PER_BLOCK);
    total += level;
  }
  return total;
}

/** In-inode xattr room with 256-byte inodes: 256 − 128 − i_extra_isize 32 − the 4-byte magic. */
const INODE_XATTR_ROOM = 92;
const XATTR_PREFIXES = ['user.', 'trusted.', 'security.', 'system.posix_acl_access', 'system.posix_acl_default'];

/** 1 when a node's xattrs do not all fit in its inode (libext2fs then gives it its own block). */
function xattrBlock(set: { name: string; valueLen: number }[]): number {
  let need = 4; // the terminating null entry
  for (const a of set) {
    const prefix = XATTR_PREFIXES.find((p) => a.name.startsWith(p));
    const nameLen = Buffer.byteLength(prefix ? a.name.slice(prefix.length) : a.name, 'utf8');
    need += ((16 + nameLen + 3) & ~3) + ((a.valueLen + 3) & ~3);
  }
  return need > INODE_XATTR_ROOM ? 1 : 0;
}

export function extContent(st: TreeStats, type: ExtType = 'ext4'): ExtContent {
  const f = extFeatures(type);
  let data = 0;
  let mapping = 0;
  st.fileSizes.forEach((size, i) => {
    // mke2fs writes only the blocks that are not all zeros (holes and zero blocks stay holes)
    const fd = st.fileData?.[i];
    const n = fd ? fd.blocks : Math.ceil(size / BS);
    data += n;
    // long files cross group metadata; count one split per 32768-block run
    const splits = Math.floor(n / MAX_EXTENT_LEN);
    if (!f.extents) mapping += mappingBlocks(n && Math.ceil(size / BS), false); // indirect blocks cover every position up to the last
    else mapping += extentTreeBlocks((fd ? fd.extents : Math.ceil(n / MAX_EXTENT_LEN)) + splits);
  });
  let symlinks = 0;
  for (const len of st.symlinkLengths) if (len >= 60) symlinks += 1;
  let dirs = 0;
  st.dirs.forEach((d, i) => {
    // root already has ".", ".." and lost+found in its one block; others start with "." and ".."
    const n = i === 0 ? dirBlocks(d.names, f.csum, [1, 2, 10]) - 1 : dirBlocks(d.names, f.csum, [1, 2]);
    dirs += n;
    // a directory that grows while files are written beside it gets one extent per block
    const total = i === 0 ? n + 1 : n;
    if (f.extents ? total > 4 : total > 12) mapping += f.extents ? extentTreeBlocks(total) : mappingBlocks(total, false);
  });
  let xattrs = 0;
  for (const set of st.xattrs) xattrs += xattrBlock(set);
  return { blocks: data + mapping + dirs + symlinks + xattrs, inodes: st.inodes, detail: { data, mapping, dirs, symlinks, xattrs } };
}

export interface ExtMinimal {
  bytes: number;
  geometry: ExtGeometry;
  content: ExtContent;
  /** which resource decided the size. */
  limitedBy: 'blocks' | 'inodes' | 'tool-minimum';
}

/** Smallest size (multiple of 4096) where the content fits, searching block counts. */
export function extMinimalSize(st: TreeStats, type: ExtType = 'ext4', opts: { slackBlocks?: number; slackInodes?: number; step?: number; inodeCount?: number } = {}): ExtMinimal {
  const content = extContent(st, type);
  if (opts.inodeCount !== undefined && opts.inodeCount < content.inodes + (opts.slackInodes ?? 0) + FIRST_INO + 1) {
    throw new Error(`extMinimalSize: -N ${opts.inodeCount} cannot hold ${content.inodes} inodes`);
  }
  const needBlocks = content.blocks + (opts.slackBlocks ?? 0);
  const needInodes = content.inodes + (opts.slackInodes ?? 0);
  const step = opts.step ?? EXT_SIZE_STEP;
  const perPage = Math.max(1, step / BS);
  const fits = (b: number): ExtGeometry | null => {
    if (b % perPage) return null;
    const g = extGeometry(b * BS, type, MKE2FS_PAGE_SIZE, opts.inodeCount);
    return g && g.freeBlocks >= needBlocks && g.freeInodes >= needInodes ? g : null;
  };
  // lower bound: every block of content plus the fixed minimum; free blocks and inodes grow
  // (nearly) monotonically with size, so bisect, then step past non-monotone group edges.
  // (search in steps of `step`)
  const pages = (p: number) => fits(p * perPage);
  let lo = Math.max(1, Math.floor(needBlocks / perPage));
  let hi = Math.max(lo * 2, 64);
  while (!pages(hi)) {
    hi *= 2;
    if (hi * perPage > 2 ** 32) throw new Error('extMinimalSize: no size up to 16 TiB holds the content');
  }
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (pages(mid)) hi = mid;
    else lo = mid + 1;
  }
  // a dropped last group can make a smaller size fit where a bigger one did not: look back a bit
  let best = hi;
  for (let p = hi - 1; p >= Math.max(1, hi - 64); p--) if (pages(p)) best = p;
  const g = pages(best)!;
  const bytes = best * perPage * BS;
  const prev = extGeometry(bytes - step, type, MKE2FS_PAGE_SIZE, opts.inodeCount);
  const limitedBy = content.blocks === 0 && content.inodes === 0 ? 'tool-minimum'
    : opts.inodeCount !== undefined ? 'blocks'
    : prev && prev.freeBlocks >= needBlocks && prev.freeInodes < needInodes ? 'inodes' : 'blocks';
  return { bytes, geometry: g, content, limitedBy };
}
