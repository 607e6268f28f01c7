/**
 * One walk over a SourceTree collecting what the size models need: per directory the byte
 * lengths of its entry names, every distinct inode once (hard links are the same node object),
 * file sizes, symlink target lengths. The models never look at file bytes.
 */
import { byteOrder, type DirNode, type FileNode, type TreeNode } from '../../tree/model.js';
import { isPacked, K_DIR, K_FILE, K_SYMLINK, PackedView, type AnyTree, type PackedTree } from '../../tree/packed.js';
import { fileData, type FileData } from './file-data.js';

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

export function treeStats(tree: AnyTree, opts: TreeStatsOptions = {}): TreeStats {
  if (isPacked(tree)) return packedTreeStats(tree, opts);
  const st: TreeStats = { dirs: [], fileSizes: [], symlinkLengths: [], specials: 0, extraLinks: 0, extraLinkSizes: [], inodes: 0, bytes: 0, subvolumes: 0, xattrs: [] };
  const fd = opts.fileData;
  if (fd) st.fileData = [];
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
          if (fd) st.fileData!.push(fileData(node, fd.blockSize, fd.maxRun));
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
  const st: TreeStats = { dirs: [], fileSizes: [], symlinkLengths: [], specials: 0, extraLinks: 0, extraLinkSizes: [], inodes: 0, bytes: 0, subvolumes: 0, xattrs: [] };
  const fd = opts.fileData;
  if (fd) st.fileData = [];
  const v = new PackedView(p);
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
        st.fileSizes.push(size);
        st.bytes += size;
        if (fd) st.fileData!.push(fileData({ kind: 'file', size, allocated: v.allocated(i), source: v.source(i) } as FileNode, fd.blockSize, fd.maxRun)); // what fileData reads
      } else if (kind === K_SYMLINK) st.symlinkLengths.push(v.targetBytes(i));
      else st.specials++;
    }
    d.subdirs = subdirs;
  };
  visit(0);
  return st;
}
