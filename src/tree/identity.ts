/**
 * Which inode a host path is, as a key: hard links (one node for every name of an inode) and
 * ExcludeFiles= (denied inodes) are decided by (st_dev, st_ino). Node's number Stats carry them
 * as doubles, exact only below 2^53; some file systems (NFS, FUSE, overlayfs with xino, btrfs
 * subvolume ids in st_dev) hand out larger values, where two inodes could round to one key and a
 * file would become a hard link of another. Then the path is stat'ed again with bigint Stats.
 */
import { lstatSync, statSync, type Stats } from 'node:fs';

export function inodeKey(st: Stats, path: string, follow = false): string {
  if (Number.isSafeInteger(st.ino) && Number.isSafeInteger(st.dev)) return `${st.dev}:${st.ino}`;
  try {
    const big = follow ? statSync(path, { bigint: true }) : lstatSync(path, { bigint: true });
    return `${big.dev}:${big.ino}`;
  } catch {
    return `${st.dev}:${st.ino}:${path}`; // vanished: a key of its own, never merged with another
  }
}
