/**
 * One walk over a SourceTree collecting what the size models need: per directory the byte
 * lengths of its entry names, every distinct inode once (hard links are the same node object),
 * file sizes, symlink target lengths. The models never look at file bytes.
 */
import { byteOrder, type DirNode, type SourceTree, type TreeNode } from '../../tree/model.js';
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

export function treeStats(tree: SourceTree, opts: TreeStatsOptions = {}): TreeStats {
  const st: TreeStats = { dirs: [], fileSizes: [], symlinkLengths: [], specials: 0, extraLinks: 0, extraLinkSizes: [], inodes: 0, bytes: 0, subvolumes: 0, xattrs: [] };
  const fd = opts.fileData;
  if (fd) st.fileData = [];
  const seen = new Set<TreeNode>();
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
