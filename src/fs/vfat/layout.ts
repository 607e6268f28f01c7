/**
 * Plans a populated FAT volume: which directory slot and cluster every entry gets. The order of
 * events follows `mcopy -s -p -Q -m <sorted top-level entries> ::` exactly (mcopy.c, vfat.c,
 * mk_direntry.c): a name's slots are reserved first (growing the directory by one cluster if
 * needed), then the new directory's first cluster or the file's data clusters are allocated,
 * first-fit from the last allocation. The result is pure data; writing it is writer.ts's job.
 * Ported upstream algorithm: planLayout() follows mcopy's order of events as one function.
 */
import type { FileSource, Timespec } from '../../tree/model.js';
import { ATTR_ARCHIVE, ATTR_DIR, DIRENT_SIZE, encodeDirEntry, fatDateTime } from './dirent.js';
import { encodeLfnEntry, lfnEntriesFor, shortNameChecksum } from './lfn.js';
import { DirNamer, FatNameError, NamingContext, cp850ToUnicode, type NameMode } from './names.js';
import type { MkfsImage } from './mkfs.js';
import { endOfChain } from './fat-table.js';

/** What the planner needs to know about one entry of the content. */
export type PlanNode =
  | { kind: 'dir'; name: string; path: string; mtime: number; children: PlanNode[] }
  | { kind: 'file'; name: string; path: string; mtime: number; size: number; source: FileSource };

/** A run of the data area, in cluster order: directory bytes or a file's contents. */
export type Segment =
  | { kind: 'dir'; cluster: number; bytes: Uint8Array }
  | { kind: 'file'; cluster: number; clusters: number; size: number; source: FileSource; path: string };

export interface Layout {
  fat: Uint32Array;
  /** FAT12/16: the fixed root directory region. */
  rootRegion: Uint8Array | null;
  segments: Segment[];
  allocatedClusters: number;
  lastAllocated: number;
  files: number;
  bytes: number;
  /** directory slots each directory uses (the root first, then in creation order). */
  dirSlots: number[];
}

export class LayoutError extends Error {
  constructor(message: string, readonly code: 'E_FS_NAME' | 'E_FS_NO_SPACE' | 'E_FS_DIR_FULL' | 'E_FS', readonly neededClusters?: number) {
    super(message);
  }
}

export const MAX_FAT_FILE = 0xffffffff;

class PlannedDir {
  clusters: number[] = [];
  chunks: Uint8Array[] = [];
  /** chunks whose cluster is not allocated yet (mtools buffers directory growth and allocates
   * the clusters when it flushes the directory, i.e. when it is done with it). */
  pending: Uint8Array[] = [];
  used = 0;
  constructor(readonly namer: DirNamer, readonly fixedSlots: number | null) {}
}

export interface LayoutOptions {
  nameMode?: NameMode;
  /** stop early instead of planning past the end (the error then only knows a lower bound). */
  failFast?: boolean;
}

export function planLayout(img: MkfsImage, top: PlanNode[], opts: LayoutOptions = {}): Layout {
  const g = img.geometry;
  const cs = g.sectorsPerCluster * g.sectorSize;
  const slotsPerCluster = cs / DIRENT_SIZE;
  const ctx = new NamingContext(opts.nameMode ?? 'mcopy-c');
  const segments: Segment[] = [];
  const chains: { start: number; count: number }[] = [];
  const dirChains: number[][] = [];
  const dirs: PlannedDir[] = [];
  let next = g.fatBits === 32 ? 3 : 2;
  let lastAllocated = 0;
  let files = 0;
  let bytes = 0;

  const alloc = (n: number): number => {
    const s = next;
    next += n;
    lastAllocated = next - 1;
    return s;
  };

  const firstCluster = (d: PlannedDir): void => {
    const c = alloc(1);
    const chunk = new Uint8Array(cs);
    d.clusters.push(c);
    d.chunks.push(chunk);
    segments.push({ kind: 'dir', cluster: c, bytes: chunk });
  };
  const growDir = (d: PlannedDir): void => {
    const chunk = new Uint8Array(cs);
    d.chunks.push(chunk);
    d.pending.push(chunk);
  };
  const closeDir = (d: PlannedDir): void => {
    for (const chunk of d.pending) {
      const c = alloc(1);
      d.clusters.push(c);
      segments.push({ kind: 'dir', cluster: c, bytes: chunk });
    }
    d.pending = [];
  };

  const capacity = (d: PlannedDir): number => d.fixedSlots ?? d.chunks.length * slotsPerCluster;

  const putSlot = (d: PlannedDir, entry: Uint8Array): void => {
    const slot = d.used++;
    if (d.fixedSlots !== null) {
      d.chunks[0]!.set(entry, slot * DIRENT_SIZE);
    } else {
      d.chunks[Math.floor(slot / slotsPerCluster)]!.set(entry, (slot % slotsPerCluster) * DIRENT_SIZE);
    }
  };

  /** Reserve slots like lookupForInsert + one dir_grow. */
  const reserve = (d: PlannedDir, n: number, path: string): void => {
    if (d.used + n <= capacity(d)) return;
    if (d.fixedSlots !== null) throw new LayoutError(`${path}: no directory slots left in the root directory (${d.fixedSlots} entries)`, 'E_FS_NO_SPACE');
    growDir(d);
    if (d.used + n > capacity(d)) throw new LayoutError(`${path}: no directory slots (mcopy grows a directory by one cluster per name)`, 'E_FS_DIR_FULL');
  };

  // root directory
  let root: PlannedDir;
  const labelWide = img.labelEntry ? Array.from(img.label, cp850ToUnicode) : null;
  if (g.fatBits === 32) {
    root = new PlannedDir(new DirNamer(ctx, labelWide ? [labelWide] : []), null);
    const chunk = new Uint8Array(cs);
    root.clusters.push(2);
    root.chunks.push(chunk);
    segments.push({ kind: 'dir', cluster: 2, bytes: chunk });
  } else {
    root = new PlannedDir(new DirNamer(ctx, labelWide ? [labelWide] : []), g.rootEntries);
    root.chunks.push(new Uint8Array(g.rootEntries * DIRENT_SIZE));
  }
  if (img.labelEntry) putSlot(root, img.labelEntry);
  dirChains.push(root.clusters);
  dirs.push(root);

  const entryBytes = (name11: Uint8Array, ntCase: number, attr: number, mtime: number, start: number, size: number): Uint8Array => {
    const { date, time } = fatDateTime(mtime);
    return encodeDirEntry({ name: name11, attr, ntCase, ctimeCs: 0, ctime: time, cdate: date, adate: date, time, date, start, size });
  };

  const visit = (parent: PlannedDir, parentStart: number, node: PlanNode): void => {
    let named;
    try {
      named = parent.namer.add(node.name, node.kind === 'dir');
    } catch (e) {
      if (e instanceof FatNameError) throw new LayoutError(`${node.path}: ${e.message}`, 'E_FS_NAME');
      throw e;
    }
    const lfn = named.longName ? lfnEntriesFor(named.longName, shortNameChecksum(named.name11)) : [];
    reserve(parent, lfn.length + 1, node.path);
    for (const l of lfn) putSlot(parent, encodeLfnEntry(l));
    if (node.kind === 'file') {
      if (node.size > MAX_FAT_FILE) throw new LayoutError(`${node.path}: file is ${node.size} bytes, FAT cannot hold files of 4 GiB or more`, 'E_FS');
      const n = Math.ceil(node.size / cs);
      const start = n ? alloc(n) : 0;
      if (n) {
        segments.push({ kind: 'file', cluster: start, clusters: n, size: node.size, source: node.source, path: node.path });
        chains.push({ start, count: n });
      }
      putSlot(parent, entryBytes(named.name11, named.ntCase, ATTR_ARCHIVE, node.mtime, start, node.size));
      files++;
      bytes += node.size;
      return;
    }
    const dir = new PlannedDir(new DirNamer(ctx, [[0x2e], [0x2e, 0x2e]]), null);
    firstCluster(dir);
    dirChains.push(dir.clusters);
    dirs.push(dir);
    const start = dir.clusters[0]!;
    putSlot(parent, entryBytes(named.name11, named.ntCase, ATTR_DIR, node.mtime, start, 0));
    const dot = new Uint8Array(11).fill(0x20);
    dot[0] = 0x2e;
    putSlot(dir, entryBytes(dot, 0, ATTR_DIR, node.mtime, start, 0));
    const dotdot = dot.slice();
    dotdot[1] = 0x2e;
    putSlot(dir, entryBytes(dotdot, 0, ATTR_DIR, node.mtime, parentStart, 0));
    for (const c of node.children) visit(dir, start, c);
    closeDir(dir);
  };
  for (const n of top) visit(root, 0, n);
  closeDir(root);

  const total = g.clusterCount + 2;
  if (next > total) {
    throw new LayoutError(`content needs ${next - (g.fatBits === 32 ? 3 : 2)} clusters of ${cs} bytes, the file system has ${g.clusterCount - (g.fatBits === 32 ? 1 : 0)} free`, 'E_FS_NO_SPACE', next - 2);
  }

  const fat = new Uint32Array(total);
  img.initialFat.forEach((v, i) => (fat[i] = v));
  const eoc = endOfChain(g.fatBits);
  for (const { start, count } of chains) {
    for (let i = 0; i < count - 1; i++) fat[start + i] = start + i + 1;
    fat[start + count - 1] = eoc;
  }
  for (const chain of dirChains) {
    if (chain.length === 0) continue;
    for (let i = 0; i < chain.length - 1; i++) fat[chain[i]!] = chain[i + 1]!;
    // the FAT32 root keeps mkfs.fat's 0x0ffffff8 until mtools extends it
    if (!(chain.length === 1 && chain[0] === 2 && g.fatBits === 32)) fat[chain[chain.length - 1]!] = eoc;
  }
  return {
    fat,
    rootRegion: g.fatBits === 32 ? null : root.chunks[0]!,
    segments,
    allocatedClusters: next - (g.fatBits === 32 ? 3 : 2),
    lastAllocated,
    files,
    bytes,
    dirSlots: dirs.map((d) => d.used),
  };
}

export function toUnixSeconds(t: Timespec): number {
  return t.sec;
}
