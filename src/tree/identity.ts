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
