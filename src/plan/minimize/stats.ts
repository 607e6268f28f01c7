/**
 * One walk over a SourceTree collecting what the size models need: per directory the byte
 * lengths of its entry names, every distinct inode once (hard links are the same node object),
 * file sizes, symlink target lengths. The models never look at file bytes.
 */
import { byteOrder, type DirNode, type FileNode, type TreeNode } from '../../tree/model.js';
import { isPacked, K_DIR, K_FILE, K_SYMLINK, PackedView, SRC_ARCHIVE, SRC_HOST, type AnyTree, type PackedTree } from '../../tree/packed.js';
import { denseData, fileData, mayHaveHoles, type FileData } from './file-data.js';
import { BIG_TREE, withoutYoungGrowth } from '../../tree/gc.js';

export interface DirStats {
  /** UTF-8 byte length of every entry name, in the tool's (byte) order. */
  names: number[];
  /** the directory is a btrfs subvolume (Subvolumes=). */
  subvolume: boolean;
  /** sub-directories (for "..", link counts). */
  subdirs: number;
}

export interface TreeStats {
  /** every directory including the root (index 0). */
  dirs: DirStats[];
  /** sizes of the distinct regular files (a hard-linked file once). */
  fileSizes: number[];
  /** byte lengths of symlink targets. */
  symlinkLengths: number[];
  specials: number;
  /** directory entries that point at an already counted file (extra hard links). */
  extraLinks: number;
  /** sizes of the files behind those extra links (tools that walk paths count them again). */
  extraLinkSizes: number[];
  /** distinct inodes other than the root directory. */
  inodes: number;
  /** sum of distinct file sizes. */
  bytes: number;
  subvolumes: number;
  /** per distinct file (parallel to fileSizes): the blocks a tool writes, when asked for
   * (`TreeStatsOptions.fileData`); files that may have holes are read (file-data.ts). */
  fileData?: FileData[];
  /** xattrs of every node that has some (root included): name and value length each. */
  xattrs: { name: string; valueLen: number }[][];
}

export interface TreeStatsOptions {
  /** count data blocks and extents per file with this block size and longest extent */
  fileData?: { blockSize: number; maxRun: number };
}

const utf8Len = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * Nodes met so far, by identity. A tree's inos are distinct and below nextIno, so an array by ino
 * does it in 8 bytes a node (a Set of a million nodes is ~40 MB); a node whose slot holds another
 * object, or whose ino is out of range, goes to a Set, so the answer is the Set's in any case.
 */
class SeenNodes {
  private readonly byIno: (TreeNode | undefined)[];
  private readonly other = new Set<TreeNode>();
  constructor(size: number) {
    this.byIno = new Array<TreeNode | undefined>(Math.max(0, Math.min(size, 1 << 26)));
  }
  has(n: TreeNode): boolean {
    return this.byIno[n.ino] === n || (this.other.size > 0 && this.other.has(n));
  }
  add(n: TreeNode): void {
    const i = n.ino;
    if (Number.isInteger(i) && i >= 0 && i < this.byIno.length && this.byIno[i] === undefined) this.byIno[i] = n;
    else this.other.add(n);
  }
}

/**
 * denseData, one frozen object per block count (issue 18: a million files are mostly dense and
 * of few sizes; an object each was ~40 MB of the main thread's heap while Minimize= ran).
 */
class DenseData {
  private readonly bySize = new Map<number, FileData>();
  constructor(private readonly blockSize: number, private readonly maxRun: number) {}
  get(size: number): FileData {
    const blocks = Math.ceil(size / this.blockSize);
    let d = this.bySize.get(blocks);
    if (d === undefined) {
      d = Object.freeze(denseData(size, this.blockSize, this.maxRun));
      if (this.bySize.size < 65536) this.bySize.set(blocks, d);
    }
    return d;
  }
}

export function treeStats(tree: AnyTree, opts: TreeStatsOptions = {}): TreeStats {
  if (isPacked(tree)) return packedTreeStats(tree, opts);
  const st: TreeStats = { dirs: [], fileSizes: [], symlinkLengths: [], specials: 0, extraLinks: 0, extraLinkSizes: [], inodes: 0, bytes: 0, subvolumes: 0, xattrs: [] };
  const fd = opts.fileData;
  if (fd) st.fileData = [];
  const dense = fd ? new DenseData(fd.blockSize, fd.maxRun) : null;
  const seen = new SeenNodes(tree.nextIno);
  const noteXattrs = (node: TreeNode): void => {
    const x = node.meta.xattrs;
    if (x?.length) st.xattrs.push(x.map((a) => ({ name: a.name, valueLen: a.value.length })));
  };
  noteXattrs(tree.root);
  const visit = (dir: DirNode): void => {
    const names: number[] = [];
    let subdirs = 0;
    const d: DirStats = { names, subvolume: !!dir.subvolume, subdirs: 0 };
    st.dirs.push(d);
    if (dir.subvolume) st.subvolumes++;
    for (const name of byteOrder([...dir.entries.keys()])) {
      names.push(utf8Len(name));
      const node = dir.entries.get(name)!;
      if (seen.has(node)) {
        st.extraLinks++;
        if (node.kind === 'file') st.extraLinkSizes.push(node.size);
        continue;
      }
      seen.add(node);
      st.inodes++;
      noteXattrs(node);
      switch (node.kind) {
        case 'dir':
          subdirs++;
          visit(node);
          break;
        case 'file':
          st.fileSizes.push(node.size);
          st.bytes += node.size;
          if (fd) st.fileData!.push(mayHaveHoles(node) ? fileData(node, fd.blockSize, fd.maxRun) : dense!.get(node.size));
          break;
        case 'symlink':
          st.symlinkLengths.push(utf8Len(node.target));
          break;
        default:
          st.specials++;
      }
    }
    d.subdirs = subdirs;
  };
  visit(tree.root);
  return st;
}

/**
 * The same statistics from the packed form, in the same order: directories depth first, each
 * one's entries in byte order (as stored), a hard link counted where the walk meets it first.
 */
function packedTreeStats(p: PackedTree, opts: TreeStatsOptions): TreeStats {
  return p.count >= BIG_TREE ? withoutYoungGrowth(() => packedTreeStatsIn(p, opts)) : packedTreeStatsIn(p, opts);
}

function packedTreeStatsIn(p: PackedTree, opts: TreeStatsOptions): TreeStats {
  const v = new PackedView(p);
  // the per-file arrays at their final length (every record is reachable, each file's data
  // record met once): grown by push, a million entries left ~40 MB of outgrown copies
  let files = 0;
  for (let i = 0; i < v.count; i++) if (v.kindNo(i) === K_FILE && v.data(i) === i) files++;
  const st: TreeStats = { dirs: [], fileSizes: new Array<number>(files), symlinkLengths: [], specials: 0, extraLinks: 0, extraLinkSizes: [], inodes: 0, bytes: 0, subvolumes: 0, xattrs: [] };
  const fd = opts.fileData;
  if (fd) st.fileData = new Array<FileData>(files);
  const dense = fd ? new DenseData(fd.blockSize, fd.maxRun) : null;
  let file = 0;
  // the records holding an inode's data, once met (a byte each)
  const seen = new Uint8Array(v.count);
  const noteXattrs = (i: number): void => {
    const x = v.xattrs(i);
    if (x?.length) st.xattrs.push(x.map((a) => ({ name: a.name, valueLen: a.value.length })));
  };
  noteXattrs(0);
  const visit = (dir: number): void => {
    const n = v.childCount(dir);
    const names: number[] = new Array<number>(n);
    let subdirs = 0;
    const sv = v.subvolume(dir);
    const d: DirStats = { names, subvolume: !!sv, subdirs: 0 };
    st.dirs.push(d);
    if (sv) st.subvolumes++;
    const first = v.first(dir);
    for (let k = 0; k < n; k++) {
      const i = first + k;
      names[k] = v.nameBytes(i);
      const data = v.data(i);
      const kind = v.kindNo(i);
      if (seen[data]) {
        st.extraLinks++;
        if (kind === K_FILE) st.extraLinkSizes.push(v.size(i));
        continue;
      }
      seen[data] = 1;
      st.inodes++;
      noteXattrs(i);
      if (kind === K_DIR) {
        subdirs++;
        visit(i);
      } else if (kind === K_FILE) {
        const size = v.size(i);
        st.fileSizes[file] = size;
        st.bytes += size;
        if (fd) {
          // mayHaveHoles without a FileNode (its source's host path is a new string) where the
          // record answers it: empty, an archive member, a host file allocated in full
          const srcKind = v.srcKind(i);
          const allocated = v.allocated(i);
          const isDense = size === 0 || srcKind === SRC_ARCHIVE || (srcKind === SRC_HOST && allocated !== undefined && allocated >= size);
          st.fileData![file] = isDense ? dense!.get(size) : fileData({ kind: 'file', size, allocated, source: v.source(i) } as FileNode, fd.blockSize, fd.maxRun); // what fileData reads
        }
        file++;
      } else if (kind === K_SYMLINK) st.symlinkLengths.push(v.targetBytes(i));
      else st.specials++;
    }
    d.subdirs = subdirs;
  };
  visit(0);
  // (equal unless the count above missed a case: the arrays are then exactly what was met)
  if (file !== files) {
    st.fileSizes.length = file;
    if (st.fileData) st.fileData.length = file;
  }
  return st;
}
