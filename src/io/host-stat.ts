/**
 * The stat of a host source entry as the tree scans keep it, exact. Node's number Stats give the
 * times as float milliseconds: about 120 ns off at today's dates (2^-12 ms is the step of a
 * double near 1.8e12), and with a negative nanosecond part before 1970; and (st_dev, st_ino) as
 * doubles, exact only below 2^53 (NFS, FUSE, overlayfs with xino pass it). mkfs.erofs and
 * mkfs.xfs store each entry's mtime to the nanosecond, so a tree scanned with number Stats gave
 * them other times than systemd-repart's copies have. Every scan stat is a bigint one, converted
 * here once (on the bench's Debian /usr, 7.2k entries, as fast as number Stats: 60 against 59 ms
 * cold).
 */
import { constants, lstatSync, statSync, type BigIntStats } from 'node:fs';
import type { Timespec } from '../tree/model.js';

const NS = 1_000_000_000n;
const { S_IFMT, S_IFDIR, S_IFREG, S_IFLNK, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK } = constants;

/** A time in nanoseconds since the epoch as seconds and a nanosecond part in [0, 1e9). */
export function timespecOfNs(ns: bigint): Timespec {
  const sec = ns / NS;
  const nsec = Number(ns - sec * NS);
  // BigInt division truncates toward zero: before 1970 the second is the one below
  return nsec < 0 ? { sec: Number(sec) - 1, nsec: nsec + 1e9 } : { sec: Number(sec), nsec };
}

export class HostStat {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: number;
  readonly size: number;
  readonly blocks: number;
  readonly atime: Timespec;
  readonly mtime: Timespec;

  constructor(b: BigIntStats) {
    this.dev = b.dev;
    this.ino = b.ino;
    this.mode = Number(b.mode);
    this.nlink = Number(b.nlink);
    this.uid = Number(b.uid);
    this.gid = Number(b.gid);
    this.rdev = Number(b.rdev);
    this.size = Number(b.size);
    this.blocks = Number(b.blocks);
    const m = b.mtimeNs;
    this.mtime = timespecOfNs(m);
    // atime is mostly mtime: one object for both, and one conversion
    this.atime = b.atimeNs === m ? this.mtime : timespecOfNs(b.atimeNs);
  }

  isDirectory(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
  isFile(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === S_IFLNK;
  }
  isFIFO(): boolean {
    return (this.mode & S_IFMT) === S_IFIFO;
  }
  isSocket(): boolean {
    return (this.mode & S_IFMT) === S_IFSOCK;
  }
  isCharacterDevice(): boolean {
    return (this.mode & S_IFMT) === S_IFCHR;
  }
  isBlockDevice(): boolean {
    return (this.mode & S_IFMT) === S_IFBLK;
  }
}

/** lstat (the entry itself); undefined when nothing is there. Other errors throw as lstatSync's. */
export function hostLstat(path: string): HostStat | undefined {
  const b = lstatSync(path, { bigint: true, throwIfNoEntry: false });
  return b ? new HostStat(b) : undefined;
}

/** stat (symlinks followed); throws as statSync does (ENOENT too). */
export function hostStat(path: string): HostStat {
  return new HostStat(statSync(path, { bigint: true }));
}
