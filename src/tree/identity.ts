/**
 * Which inode a host path is, as a key: hard links (one node for every name of an inode) and
 * ExcludeFiles= (denied inodes) are decided by (st_dev, st_ino). The scans' stats carry them as
 * bigints (src/io/host-stat.ts): some file systems (NFS, FUSE, overlayfs with xino, btrfs
 * subvolume ids in st_dev) hand out values past 2^53, where doubles could make two inodes one key
 * and a file a hard link of another.
 */
export function inodeKey(st: { dev: bigint; ino: bigint }): string {
  return `${st.dev}:${st.ino}`;
}

/**
 * Whether a host entry's other names become hard links of its copy: every non-directory with
 * more than one name, except symlinks. systemd-repart's copy (copy_tree_at with COPY_HARDLINKS)
 * links the later names of regular files, FIFOs, sockets and device nodes to the first copy,
 * but recreates every symlink on its own: a hard-linked symlink's names come out as separate
 * symlinks, each with the target (257 and 262 alike, seen in their ext4 images).
 */
export function sharesInode(st: { nlink: number; isDirectory(): boolean; isSymbolicLink(): boolean }): boolean {
  return st.nlink > 1 && !st.isDirectory() && !st.isSymbolicLink();
}
