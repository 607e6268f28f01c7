/**
 * A source tree seen by a C tool as an ordinary read-only directory (mke2fs -d, mkfs.btrfs
 * --rootdir): stat/lstat/readdir/readlink/open answered from the tree, file bytes read in
 * place from their host path (or from the node's bytes). Nothing is copied or staged.
 */
import { isMainThread } from 'node:worker_threads';
import { posix } from 'node:path';
import { addPhase, now } from './phases.js';
import { emptyReader, openSourceFile, sizeChanged, type OpenedSource, type SourceFailure } from './source-file.js';
import { HandoffTaker, type HandoffTable } from './fd-handoff.js';
import { ASIDE_MIN, checkEmptyAside, isEmptyHostFile, type EmptyCheckResult } from './empty-check.js';
import { byteOrder, type FileNode, type Timespec, type TreeNode } from '../../tree/model.js';
import { K_DIR, K_FILE, K_SYMLINK, PackedView, packedTree, SRC_BYTES, SRC_HOST, U_ATIME, U_CTIME, U_GID, U_UID, type AnyTree } from '../../tree/packed.js';
import {
  S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK,
  type EmStat, type EmStream, type StreamHandler,
} from './emscripten.js';

/** An errno by its name (ENOENT, ...) as the module numbers it, thrown as FS.ErrnoError. */
export type Fail = (name: string) => Error;

/** st_dev of every virtual entry: different from any host device, the same for the whole tree. */
export const VTREE_DEV = 0x7e57;
const MAX_SYMLINK_HOPS = 40;
const NO_XATTRS = new Uint8Array(0);

const TYPE_BITS: Record<TreeNode['kind'], number> = {
  dir: S_IFDIR, file: S_IFREG, symlink: S_IFLNK, fifo: S_IFIFO, socket: S_IFSOCK, char: S_IFCHR, block: S_IFBLK,
};

export interface TreeReadStats {
  /** regular files opened, and of those closed again (done). */
  files: number;
  filesDone: number;
  /** file bytes read. */
  bytes: number;
}

/** Called as the tool reads the tree, at most every PROGRESS_MS. */
export type TreeProgress = (stats: TreeReadStats) => void;
const PROGRESS_MS = 100;

/** What there is to read: distinct regular files (a hard link is read once) and their bytes. */
export function treeTotals(tree: AnyTree): { files: number; bytes: number } {
  const { files, bytes } = fileCounts(new PackedView(packedTree(tree)));
  return { files, bytes };
}

/**
 * treeTotals, and the empty host files (empty-check.ts), in one pass over the records, once per
 * tree and thread: a job asks for both (progress, then the empty checks).
 */
const counted = new WeakMap<object, { files: number; bytes: number; emptyHost: number }>();
function fileCounts(v: PackedView): { files: number; bytes: number; emptyHost: number } {
  let c = counted.get(v.p);
  if (!c) {
    c = { files: 0, bytes: 0, emptyHost: 0 };
    for (let i = 0; i < v.count; i++) {
      if (v.kindNo(i) !== K_FILE || v.data(i) !== i) continue;
      const size = v.size(i);
      c.files++;
      c.bytes += size;
      if (size === 0 && v.srcKind(i) === SRC_HOST) c.emptyHost++;
    }
    counted.set(v.p, c);
  }
  return c;
}

/** UTF-8 byte order, which is what the C tools' strcmp-based sorting sees (src/tree/model.ts). */
export { byteOrder };

/** An entry of the tree as the tools ask about it: its record in the packed tree, and its kind. */
export interface VNode {
  readonly kind: TreeNode['kind'];
  readonly i: number;
}

/**
 * Answers from the packed encoding (src/tree/packed.ts): no JS object or map entry per node, so
 * a worker holds the tree once, as transferred. A SourceTree given here is packed first.
 */
export class VirtualTree {
  readonly stats: TreeReadStats = { files: 0, filesDone: 0, bytes: 0 };
  /** the first source file that could not be read as planned: the run fails with it */
  sourceFailure: SourceFailure | null = null;
  private nextReport = 0;
  private readonly v: PackedView;
  /** directories by path (symlinks followed); only directories, and bounded */
  private dirs = new Map<string, number>();
  private dates = new Map<number, Date>();
  /** empty host files are checked on another thread (startEmptyChecks), not as they are opened */
  private emptyAside = false;

  constructor(
    tree: AnyTree,
    /** absolute, normalised, no trailing slash (e.g. "/run/repart-root"). */
    readonly mountPoint: string,
    private readonly fail: Fail,
    private readonly progress?: TreeProgress,
    /** a host file's st_blocks is what the host allocates for it (holes show), not its size */
    private readonly allocatedBlocks = false,
    /** descriptors of host files the read-ahead opened as scanned (fd-handoff.ts), by data record */
    handoff?: HandoffTable,
  ) {
    this.v = new PackedView(packedTree(tree));
    this.handoff = handoff ? new HandoffTaker(handoff, (rec) => this.v.size(rec)) : null;
  }

  private readonly handoff: HandoffTaker | null;

  /** Report progress if the last report is old enough (Date.now() costs ~50 ns per read). */
  private tick(): void {
    if (!this.progress) return;
    const now = Date.now();
    if (now < this.nextReport) return;
    this.nextReport = now + PROGRESS_MS;
    this.progress({ ...this.stats });
  }

  contains(abs: string): boolean {
    // asked of every path the tool names: no string built per call
    const m = this.mountPoint;
    return abs.startsWith(m) && (abs.length === m.length || abs.charCodeAt(m.length) === 47 /* "/" */);
  }

  private node(i: number): VNode {
    return { kind: this.v.kind(i), i };
  }

  /** Resolve an absolute path inside the mount; symlinks in directory position are always
   * followed (as the kernel does), the last component only when `follow`. Absolute link
   * targets resolve inside the tree, as they would in the finished image. */
  resolve(abs: string, follow: boolean): VNode {
    // mke2fs -d asks about each entry five times in a row (getdents, lstat, open, fstat,
    // llistxattr): the last answer is kept (the tree does not change while a tool runs). An
    // entry found without following that is no symlink is also what following finds.
    if (abs === this.lastAbs && (follow === this.lastFollow || (!this.lastFollow && this.lastNode!.kind !== 'symlink'))) return this.lastNode!;
    const node = this.resolveUncached(abs, follow);
    this.lastAbs = abs;
    this.lastFollow = follow;
    this.lastNode = node;
    return node;
  }

  private lastAbs = '';
  private lastFollow = false;
  private lastNode: VNode | null = null;

  private resolveUncached(abs: string, follow: boolean): VNode {
    // the usual question names an entry of a directory asked about before: its parent is cached
    const slash = abs.lastIndexOf('/');
    const name = abs.slice(slash + 1);
    if (slash > this.mountPoint.length && name !== '' && name !== '.' && name !== '..') {
      const parent = this.resolveDir(abs.slice(0, slash));
      const i = this.v.lookup(parent, name);
      if (i < 0) throw this.fail('ENOENT');
      if (!(follow && this.v.kindNo(i) === K_SYMLINK)) return this.node(i);
    }
    const rel = abs.slice(this.mountPoint.length);
    return this.node(this.walk([0], rel.split('/'), follow, { hops: 0 }));
  }

  /**
   * The entry `name` of directory record `dir`: what resolve() finds for the directory's path +
   * "/" + name; null for a symlink to follow (resolve() walks those).
   */
  resolveIn(dir: number, name: string, follow: boolean): VNode | null {
    const i = this.v.lookup(dir, name);
    if (i < 0) throw this.fail('ENOENT');
    if (follow && this.v.kindNo(i) === K_SYMLINK) return null;
    return this.node(i);
  }

  /** A directory by path (symlinks followed), cached: the tree does not change while a tool runs. */
  private resolveDir(abs: string): number {
    let dir = this.dirs.get(abs);
    if (dir === undefined) {
      dir = this.walk([0], abs.slice(this.mountPoint.length).split('/'), true, { hops: 0 });
      if (this.v.kindNo(dir) !== K_DIR) throw this.fail('ENOTDIR');
      if (this.dirs.size >= 4096) this.dirs.clear();
      this.dirs.set(abs, dir);
    }
    return dir;
  }

  /** `stack` is the chain of directories from the root to the current one, so that ".."
   * after a symlink goes where the kernel would take it. */
  private walk(stack: number[], parts: string[], followLast: boolean, hops: { hops: number }): number {
    const v = this.v;
    let node = stack[stack.length - 1]!;
    const names = parts.filter((p) => p !== '' && p !== '.');
    for (let i = 0; i < names.length; i++) {
      const part = names[i]!;
      if (v.kindNo(node) !== K_DIR) throw this.fail('ENOTDIR');
      if (part === '..') {
        if (stack.length > 1) stack.pop();
        node = stack[stack.length - 1]!;
        continue;
      }
      const next = v.lookup(node, part);
      if (next < 0) throw this.fail('ENOENT');
      if (v.kindNo(next) === K_SYMLINK && (i < names.length - 1 || followLast)) {
        if (++hops.hops > MAX_SYMLINK_HOPS) throw this.fail('ELOOP');
        const target = v.target(next);
        if (target.startsWith('/')) stack.splice(1);
        node = this.walk(stack, target.split('/'), true, hops);
        continue;
      }
      node = next;
      if (v.kindNo(node) === K_DIR) stack.push(node);
    }
    return node;
  }

  /** st_nlink: names of a file (hard links), 2 + subdirectories for a directory. */
  nlink(node: VNode): number {
    return this.v.nlink(node.i);
  }

  /** st_ino and st_mode alone, as statUncached() gives them (getdents asks for every entry's). */
  inoMode(node: VNode): { ino: number; mode: number } {
    return { ino: this.v.ino(node.i), mode: TYPE_BITS[node.kind] | this.v.perm(node.i) };
  }

  /** The last stat answer (callers only read it): lstat, open and fstat of one entry in a row. */
  private lastStat: EmStat | null = null;
  private lastStatOf = -1;

  stat(node: VNode): EmStat {
    if (node.i === this.lastStatOf) return this.lastStat!;
    const st = this.statUncached(node);
    this.lastStat = st;
    this.lastStatOf = node.i;
    return st;
  }

  private statUncached(node: VNode): EmStat {
    const v = this.v;
    const i = node.i;
    const kind = node.kind;
    const size = kind === 'file' ? v.size(i) : kind === 'symlink' ? v.targetBytes(i) : kind === 'dir' ? 4096 : 0;
    let blocks = size;
    if (this.allocatedBlocks && kind === 'file') {
      const a = v.allocated(i);
      if (a !== undefined) blocks = Math.min(a, size);
    }
    const m = v.mtime(i);
    const a = v.time(i, U_ATIME);
    const c = v.time(i, U_CTIME);
    return {
      dev: VTREE_DEV,
      ino: v.ino(i),
      mode: TYPE_BITS[kind] | v.perm(i),
      nlink: v.nlink(i),
      uid: v.field(i, U_UID),
      gid: v.field(i, U_GID),
      rdev: kind === 'char' || kind === 'block' || kind === 'fifo' || kind === 'socket' ? v.rdev(i) : 0,
      size,
      // mksquashfs asks SEEK_DATA only where st_blocks is short of the size, as on the host
      blocks: Math.ceil(blocks / 512),
      atime: this.date(a.sec),
      mtime: this.date(m.sec),
      ctime: this.date(c.sec),
      // mkfs.erofs and mkfs.xfs store tv_nsec; doStat writes 0 there, the host these (host.ts)
      nsec: a.nsec === 0 && m.nsec === 0 && c.nsec === 0 ? undefined : [a.nsec, m.nsec, c.nsec],
    };
  }

  /**
   * One Date per second value (a tree's times cluster; doStat only reads them): three fewer
   * objects per stat call. Bounded, for trees whose every time differs.
   *
   * Clamped to 32 bits: the tools' time_t is (emscripten 3.1.6), and doStat's `| 0` would wrap a
   * time past 2038-01-19 to 1901 and on. Native mke2fs -d clamps there too (ext2fs_inode_xtime_set),
   * so ext4 gets what systemd-repart makes; btrfs, erofs and squashfs natively keep such times
   * (README, "Nanoseconds" and "Compatibility").
   */
  private date(sec: number): Date {
    let d = this.dates.get(sec);
    if (!d) {
      if (this.dates.size >= 4096) this.dates.clear();
      d = new Date(Math.min(Math.max(sec, -0x80000000), 0x7fffffff) * 1000);
      this.dates.set(sec, d);
    }
    return d;
  }

  /** The entries in byte order (as stored), after "." and "..". */
  readdir(node: VNode): string[] {
    if (node.kind !== 'dir') throw this.fail('ENOTDIR');
    const v = this.v;
    const first = v.first(node.i);
    const n = v.childCount(node.i);
    const out = new Array<string>(n + 2);
    out[0] = '.';
    out[1] = '..';
    for (let k = 0; k < n; k++) out[k + 2] = v.name(first + k);
    return out;
  }

  /** llistxattr's answer: the names, each NUL-terminated, in tree order. */
  xattrList(node: VNode): Uint8Array {
    return this.v.xattrNames(node.i) ?? NO_XATTRS;
  }

  /** lgetxattr's answer; ENODATA for a name the node does not carry. */
  xattrValue(node: VNode, name: string): Uint8Array {
    const x = this.v.xattrValue(node.i, name);
    if (!x) throw this.fail('ENODATA');
    return x;
  }

  /** The node's mtime to the nanosecond (the scans keep host times exact: src/io/host-stat.ts). */
  exactMtime(node: VNode): Timespec {
    return this.v.mtime(node.i);
  }

  readlink(node: VNode): string {
    if (node.kind !== 'symlink') throw this.fail('EINVAL');
    return this.v.target(node.i);
  }

  /**
   * For a tool that opens every regular file (mke2fs -d): check the empty host files on another
   * thread from now on (empty-check.ts says why that keeps the safety rule), if there are enough
   * of them to be worth a thread. The result goes to finishEmptyChecks once the tool is done;
   * null: they are checked inline as they are opened.
   */
  startEmptyChecks(): Promise<EmptyCheckResult> | null {
    const v = this.v;
    if (fileCounts(v).emptyHost < ASIDE_MIN) return null;
    this.emptyAside = true;
    return checkEmptyAside(v.p, () => {
      const all: number[] = [];
      for (let i = 0; i < v.count; i++) if (isEmptyHostFile(v, i)) all.push(i);
      return all;
    });
  }

  /** Record what the checking thread found; open the files it could not decide, as openFile would. */
  finishEmptyChecks(r: EmptyCheckResult): void {
    this.emptyAside = false;
    for (const i of r.recheck) {
      const file = { size: 0, source: this.v.source(i) } as FileNode & { source: { kind: 'host' } };
      let recorded = false;
      try {
        const src = openSourceFile(file, this.fail, (f) => {
          recorded = true;
          this.sourceFailure ??= f;
        }, () => {}, () => {});
        src.handler.close(undefined as never);
      } catch (e) {
        if (!recorded) throw e;
      }
    }
    if (r.failure) this.sourceFailure ??= r.failure;
  }

  /**
   * The tool is done: wait for the descriptors handed back (fd-handoff.ts) to be checked, and
   * record the first file whose size changed while it was read, as its close would have.
   */
  finishHandoff(): void {
    const changed = this.handoff?.finish();
    if (!changed) return;
    this.sourceFailure ??= sizeChanged(this.v.hostPath(changed.rec)!, this.v.size(changed.rec), changed.size);
  }

  /** A stream handler for reading a file node; host files are opened here and read in place. */
  openFile(node: VNode): { handler: StreamHandler; nfd?: number } {
    if (node.kind !== 'file') throw this.fail('EINVAL');
    this.stats.files++;
    const stats = this.stats;
    const fail = this.fail;
    const tick = () => this.tick();
    const done = () => {
      stats.filesDone++;
      tick();
    };
    const v = this.v;
    // checked on the other thread (startEmptyChecks): nothing to open, nothing to read
    if (this.emptyAside && isEmptyHostFile(v, v.data(node.i))) return emptyReader(fail, done);
    if (v.srcKind(node.i) === SRC_BYTES) {
      const data = v.blob(node.i);
      return {
        handler: {
          read(_s: EmStream, buf: Uint8Array, off: number, len: number, pos: number): number {
            const n = Math.max(0, Math.min(len, data.length - pos));
            if (n > 0) buf.set(data.subarray(pos, pos + n), off);
            stats.bytes += n;
            tick();
            return n;
          },
          write(): number {
            throw fail('EBADF');
          },
          size: () => data.length,
          close: done,
        },
      };
    }
    const t0 = now();
    // the file as source-file.ts reads it: a transient node, not kept
    const file = { size: v.size(node.i), source: v.source(node.i) } as FileNode & { source: { kind: 'host' | 'archive' } };
    let opened: OpenedSource | undefined;
    if (this.handoff && file.source.kind === 'host') {
      // offered only with the size the scan recorded (src/build/readahead.ts)
      const rec = v.data(node.i);
      // handed back to be checked and closed by the read-ahead's thread: never from that thread
      // itself (a tool run in-process would wait for a check that cannot run)
      const fd = this.handoff.take(rec, isMainThread);
      const taker = this.handoff;
      // with its bytes, if the read-ahead read them into the table's arena (given back with the descriptor)
      if (fd >= 0) opened = isMainThread ? { fd, size: file.size } : { fd, size: file.size, bytes: taker.bytes(rec) ?? undefined, giveBack: () => taker.giveBack(rec, fd) };
    }
    const src = openSourceFile(file, fail, (f) => {
      this.sourceFailure ??= f;
    }, (n) => {
      stats.bytes += n;
      tick();
    }, done, opened);
    addPhase('fileData', t0);
    // host time reading file data, for bench/'s breakdown (src/fs/wasm/phases.ts)
    const read = src.handler.read;
    const handler: StreamHandler = {
      ...src.handler,
      read: (st: EmStream, buf: Uint8Array, off: number, len: number, pos: number) => {
        const t = now();
        try {
          return read(st, buf, off, len, pos);
        } finally {
          addPhase('fileData', t);
        }
      },
    };
    return { nfd: src.nfd, handler };
  }
}

export function normalizeAbs(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}
