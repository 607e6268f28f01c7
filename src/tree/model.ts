/**
 * The virtual source tree: what a partition's file system will contain, described without
 * copying anything. `src/tree` builds it from CopyFiles=/ExcludeFiles=/MakeDirectories=/
 * MakeSymlinks=/Subvolumes= (and, for NixOS, store paths with a rewritten prefix); every
 * file system driver consumes it. File bytes stay where they are (`source`), read in place.
 *
 * The tree is plain data so it survives structured cloning into worker threads: hard links are
 * the *same* FileNode object reachable from several directories (structuredClone keeps object
 * identity inside one message), and `ino` identifies a node across the tree.
 */

export interface Timespec {
  sec: number;
  nsec: number;
}

export interface NodeMeta {
  /** permission bits including setuid/setgid/sticky (mode & 0o7777); the type is `kind`. */
  perm: number;
  uid: number;
  gid: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  /**
   * Extended attributes ("user.x", "security.capability", ...), in the order the tools list
   * them (llistxattr order). Absent or empty: none.
   */
  xattrs?: { name: string; value: Uint8Array }[];
}

/**
 * Where a regular file's bytes come from: a host file, bytes in memory, or a byte range of a host
 * file — an archive member (CopyArchive=, src/tree/tar.ts), `size` bytes from `offset`.
 */
export type FileSource =
  /**
   * dev/ino: the file's identity when the tree was scanned; readers open the path without
   * following a final symlink and refuse a different inode (src/io/open-verified.ts). For an
   * archive member, path/dev/ino are the archive's.
   */
  | { kind: 'host'; path: string; dev?: bigint; ino?: bigint }
  | { kind: 'bytes'; data: Uint8Array }
  | { kind: 'archive'; path: string; offset: number; dev?: bigint; ino?: bigint };

/** The host file and byte offset a file's data starts at (null: in memory). */
export function hostRange(source: FileSource): { path: string; offset: number } | null {
  if (source.kind === 'bytes') return null;
  return { path: source.path, offset: source.kind === 'archive' ? source.offset : 0 };
}

export interface DirNode {
  kind: 'dir';
  ino: number;
  meta: NodeMeta;
  /** insertion order is the order entries were added; drivers sort as their tool would. */
  entries: Map<string, TreeNode>;
  /** set when the directory is a btrfs subvolume (Subvolumes=). */
  subvolume?: { readOnly: boolean; nodatacow: boolean; isDefault: boolean };
  /** host directory this one was copied from, if any (for error messages). */
  hostPath?: string;
}

export interface FileNode {
  kind: 'file';
  ino: number;
  meta: NodeMeta;
  size: number;
  source: FileSource;
  /**
   * Bytes the host allocates for the source (st_blocks × 512), when copied from the host. Less
   * than `size` means the file has holes; the Minimize= models then look for its data blocks.
   */
  allocated?: number;
}

export interface SymlinkNode {
  kind: 'symlink';
  ino: number;
  meta: NodeMeta;
  target: string;
  /** host path of the link itself, when copied from the host (vfat follows it, as mcopy does). */
  hostPath?: string;
}

export interface SpecialNode {
  kind: 'fifo' | 'socket' | 'char' | 'block';
  ino: number;
  meta: NodeMeta;
  rdev: number;
  hostPath?: string;
}

export type TreeNode = DirNode | FileNode | SymlinkNode | SpecialNode;

export interface SourceTree {
  root: DirNode;
  /** number of inodes allocated so far (next ino = nextIno). */
  nextIno: number;
}

export function emptyMeta(perm: number, time: Timespec = { sec: 0, nsec: 0 }): NodeMeta {
  return { perm, uid: 0, gid: 0, atime: { ...time }, mtime: { ...time }, ctime: { ...time } };
}

export function newTree(rootMeta: NodeMeta = emptyMeta(0o755)): SourceTree {
  return { root: { kind: 'dir', ino: 1, meta: rootMeta, entries: new Map() }, nextIno: 2 };
}

/** Depth-first walk (parents before children), entries in the order given by `order`. */
export function* walk(
  tree: SourceTree,
  order: (names: string[]) => string[] = (n) => n,
): Generator<{ path: string; node: TreeNode; parent: DirNode | null }> {
  yield { path: '/', node: tree.root, parent: null };
  function* rec(dir: DirNode, prefix: string): Generator<{ path: string; node: TreeNode; parent: DirNode | null }> {
    for (const name of order([...dir.entries.keys()])) {
      const node = dir.entries.get(name)!;
      const path = prefix + '/' + name;
      yield { path, node, parent: dir };
      if (node.kind === 'dir') yield* rec(node, path);
    }
  }
  yield* rec(tree.root, '');
}

/** Look a normalised absolute path up, without following symlinks. */
export function lookup(tree: SourceTree, path: string): TreeNode | undefined {
  let node: TreeNode = tree.root;
  for (const part of path.split('/')) {
    if (part === '') continue;
    if (node.kind !== 'dir') return undefined;
    const next: TreeNode | undefined = node.entries.get(part);
    if (!next) return undefined;
    node = next;
  }
  return node;
}

/** A code unit at or above U+D800 (a surrogate, or a BMP character the surrogates sort below). */
const WIDE = /[\ud800-\uffff]/;

/**
 * Names in UTF-8 byte order, the order of the C tools' strcmp. Without a code unit at or above
 * U+D800, UTF-16 code unit order (JavaScript's default sort) is code point order, which is
 * UTF-8 byte order: the usual tree sorts without a Buffer per name.
 */
export function byteOrder(names: string[]): string[] {
  if (!names.some((n) => WIDE.test(n))) return [...names].sort();
  return names
    .map((n) => [n, Buffer.from(n, 'utf8')] as const)
    .sort((a, b) => Buffer.compare(a[1], b[1]))
    .map((e) => e[0]);
}
