/**
 * A SourceTree seen by a C tool as an ordinary read-only directory (mke2fs -d, mkfs.btrfs
 * --rootdir): stat/lstat/readdir/readlink/open answered from the tree, file bytes read in
 * place from their host path (or from the node's bytes). Nothing is copied or staged.
 */
import { lstatSync } from 'node:fs';
import { posix } from 'node:path';
import { addPhase, now } from './phases.js';
import { openSourceFile, type SourceFailure } from './source-file.js';
import { byteOrder, type DirNode, type FileNode, type SourceTree, type Timespec, type TreeNode } from '../../tree/model.js';
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
export function treeTotals(tree: SourceTree): { files: number; bytes: number } {
  const seen = new Set<FileNode>();
  let bytes = 0;
  const visit = (dir: DirNode): void => {
    for (const n of dir.entries.values()) {
      if (n.kind === 'dir') visit(n);
      else if (n.kind === 'file' && !seen.has(n)) {
        seen.add(n);
        bytes += n.size;
      }
    }
  };
  visit(tree.root);
  return { files: seen.size, bytes };
}

/** UTF-8 byte order, which is what the C tools' strcmp-based sorting sees (src/tree/model.ts). */
export { byteOrder };

export class VirtualTree {
  readonly stats: TreeReadStats = { files: 0, filesDone: 0, bytes: 0 };
  /** the first source file that could not be read as planned: the run fails with it */
  sourceFailure: SourceFailure | null = null;
  private nextReport = 0;
  private links: Map<TreeNode, number> | null = null;
  private sorted = new Map<DirNode, string[]>();
  private xattrLists = new Map<TreeNode, Uint8Array>();
  private dirs = new Map<string, DirNode>();
  private dates = new Map<number, Date>();

  constructor(
    readonly tree: SourceTree,
    /** absolute, normalised, no trailing slash (e.g. "/run/repart-root"). */
    readonly mountPoint: string,
    private readonly fail: Fail,
    private readonly progress?: TreeProgress,
    /** a host file's st_blocks is what the host allocates for it (holes show), not its size */
    private readonly allocatedBlocks = false,
  ) {}

  /** Report progress if the last report is old enough (Date.now() costs ~50 ns per read). */
  private tick(): void {
    if (!this.progress) return;
    const now = Date.now();
    if (now < this.nextReport) return;
    this.nextReport = now + PROGRESS_MS;
    this.progress({ ...this.stats });
  }

  contains(abs: string): boolean {
    return abs === this.mountPoint || abs.startsWith(this.mountPoint + '/');
  }

  /** Resolve an absolute path inside the mount; symlinks in directory position are always
   * followed (as the kernel does), the last component only when `follow`. Absolute link
   * targets resolve inside the tree, as they would in the finished image. */
  resolve(abs: string, follow: boolean): TreeNode {
    // the usual question names an entry of a directory asked about before: its parent is cached
    const slash = abs.lastIndexOf('/');
    const name = abs.slice(slash + 1);
    if (slash > this.mountPoint.length && name !== '' && name !== '.' && name !== '..') {
      const parent = this.resolveDir(abs.slice(0, slash));
      const node = parent.entries.get(name);
      if (!node) throw this.fail('ENOENT');
      if (!(follow && node.kind === 'symlink')) return node;
    }
    const rel = abs.slice(this.mountPoint.length);
    return this.walk([this.tree.root], rel.split('/'), follow, { hops: 0 });
  }

  /** A directory by path (symlinks followed), cached: the tree does not change while a tool runs. */
  private resolveDir(abs: string): DirNode {
    let dir = this.dirs.get(abs);
    if (!dir) {
      const node = this.walk([this.tree.root], abs.slice(this.mountPoint.length).split('/'), true, { hops: 0 });
      if (node.kind !== 'dir') throw this.fail('ENOTDIR');
      dir = node;
      this.dirs.set(abs, dir);
    }
    return dir;
  }

  /** `stack` is the chain of directories from the root to the current one, so that ".."
   * after a symlink goes where the kernel would take it. */
  private walk(stack: DirNode[], parts: string[], followLast: boolean, hops: { hops: number }): TreeNode {
    let node: TreeNode = stack[stack.length - 1]!;
    const names = parts.filter((p) => p !== '' && p !== '.');
    for (let i = 0; i < names.length; i++) {
      const part = names[i]!;
      if (node.kind !== 'dir') throw this.fail('ENOTDIR');
      if (part === '..') {
        if (stack.length > 1) stack.pop();
        node = stack[stack.length - 1]!;
        continue;
      }
      const next: TreeNode | undefined = node.entries.get(part);
      if (!next) throw this.fail('ENOENT');
      if (next.kind === 'symlink' && (i < names.length - 1 || followLast)) {
        if (++hops.hops > MAX_SYMLINK_HOPS) throw this.fail('ELOOP');
        if (next.target.startsWith('/')) stack.splice(1);
        node = this.walk(stack, next.target.split('/'), true, hops);
        continue;
      }
      node = next;
      if (node.kind === 'dir') stack.push(node);
    }
    return node;
  }

  /** st_nlink: references to a file node (hard links are the same object), 2 + subdirectories for a directory. */
  nlink(node: TreeNode): number {
    if (!this.links) {
      const links = new Map<TreeNode, number>();
      const visit = (dir: DirNode): void => {
        let subdirs = 0;
        for (const child of dir.entries.values()) {
          if (child.kind === 'dir') {
            subdirs++;
            visit(child);
          } else {
            links.set(child, (links.get(child) ?? 0) + 1);
          }
        }
        links.set(dir, 2 + subdirs);
      };
      visit(this.tree.root);
      this.links = links;
    }
    return this.links.get(node) ?? 1;
  }

  stat(node: TreeNode): EmStat {
    const m = node.meta;
    const size = node.kind === 'file' ? node.size : node.kind === 'symlink' ? Buffer.byteLength(node.target) : node.kind === 'dir' ? 4096 : 0;
    return {
      dev: VTREE_DEV,
      ino: node.ino,
      mode: TYPE_BITS[node.kind] | (m.perm & 0o7777),
      nlink: this.nlink(node),
      uid: m.uid,
      gid: m.gid,
      rdev: node.kind === 'char' || node.kind === 'block' || node.kind === 'fifo' || node.kind === 'socket' ? node.rdev : 0,
      size,
      // mksquashfs asks SEEK_DATA only where st_blocks is short of the size, as on the host
      blocks: Math.ceil((this.allocatedBlocks && node.kind === 'file' && node.allocated !== undefined ? Math.min(node.allocated, size) : size) / 512),
      // doStat keeps whole seconds only (tv_nsec is written as 0), as both tools store them.
      atime: this.date(m.atime.sec),
      mtime: this.date(m.mtime.sec),
      ctime: this.date(m.ctime.sec),
    };
  }

  /**
   * One Date per second value (a tree's times cluster; doStat only reads them): three fewer
   * objects per stat call. Bounded, for trees whose every time differs.
   */
  private date(sec: number): Date {
    let d = this.dates.get(sec);
    if (!d) {
      if (this.dates.size >= 4096) this.dates.clear();
      d = new Date(sec * 1000);
      this.dates.set(sec, d);
    }
    return d;
  }

  readdir(node: TreeNode): string[] {
    if (node.kind !== 'dir') throw this.fail('ENOTDIR');
    let names = this.sorted.get(node);
    if (!names) {
      names = byteOrder([...node.entries.keys()]);
      this.sorted.set(node, names);
    }
    return ['.', '..', ...names];
  }

  /** llistxattr's answer: the names, each NUL-terminated, in tree order. */
  xattrList(node: TreeNode): Uint8Array {
    const xs = node.meta.xattrs;
    if (!xs || xs.length === 0) return NO_XATTRS;
    let list = this.xattrLists.get(node);
    if (!list) {
      list = Buffer.concat(xs.map((x) => Buffer.from(x.name + '\0', 'utf8')));
      this.xattrLists.set(node, list);
    }
    return list;
  }

  /** lgetxattr's answer; ENODATA for a name the node does not carry. */
  xattrValue(node: TreeNode, name: string): Uint8Array {
    const x = node.meta.xattrs?.find((a) => a.name === name);
    if (!x) throw this.fail('ENODATA');
    return x.value;
  }

  /**
   * The node's mtime to the nanosecond. The tree holds host times as Node's float
   * milliseconds (about 100 ns off); where it kept the host's time (same second), the host
   * entry is asked again with bigint precision. Times the tree set itself stay as they are.
   */
  exactMtime(node: TreeNode): Timespec {
    const t = node.meta.mtime;
    const host = node.kind === 'file' ? (node.source.kind === 'host' ? node.source.path : undefined) : node.hostPath;
    if (!host) return t;
    try {
      const ns = lstatSync(host, { bigint: true }).mtimeNs;
      const sec = ns / 1_000_000_000n;
      if (Number(sec) === t.sec) return { sec: t.sec, nsec: Number(ns - sec * 1_000_000_000n) };
    } catch {
      // gone or unreadable now: the tree's time is what there is
    }
    return t;
  }

  readlink(node: TreeNode): string {
    if (node.kind !== 'symlink') throw this.fail('EINVAL');
    return node.target;
  }

  /** A stream handler for reading a file node; host files are opened here and read in place. */
  openFile(node: FileNode): { handler: StreamHandler; nfd?: number } {
    this.stats.files++;
    const stats = this.stats;
    const fail = this.fail;
    const tick = () => this.tick();
    const done = () => {
      stats.filesDone++;
      tick();
    };
    if (node.source.kind === 'bytes') {
      const data = node.source.data;
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
    const src = openSourceFile(node as FileNode & { source: { kind: 'host' | 'archive' } }, fail, (f) => {
      this.sourceFailure ??= f;
    }, (n) => {
      stats.bytes += n;
      tick();
    }, done);
    addPhase('fileData', t0);
    // host time reading file data, for bench/'s breakdown (src/fs/wasm/phases.ts)
    const read = src.handler.read;
    const handler: StreamHandler = { ...src.handler, read: (...a) => { const t = now(); try { return read(...a); } finally { addPhase('fileData', t); } } };
    return { nfd: src.nfd, handler };
  }
}

export function normalizeAbs(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}
