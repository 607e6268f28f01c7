/**
 * The compact tree encoding (issue 18): a SourceTree as fixed-size records in typed arrays plus
 * one byte heap (names, symlink targets, host paths, xattrs), with no JS object per node. It
 * crosses to a worker thread by transfer (its buffers go in the transferList: no structured
 * clone of a million objects, no serialized copy) and VirtualTree (src/fs/wasm/vtree.ts) answers
 * the C tools from it directly.
 *
 * Records are in breadth-first order, so a directory's children are one contiguous range; each
 * range is in UTF-8 byte order (the order of the tools' strcmp, `byteOrder`), so a name is found
 * by binary search. Record 0 is the root.
 *
 * Hard links (the same FileNode reachable from several directories) become several records;
 * the inode's data (meta, size, source) lives in the first one (`link` points there from every
 * record of the group, itself included) and `nlink` is precomputed.
 *
 * Host paths are mostly not stored: a scanned entry's host path is its parent's plus "/" + its
 * name ("derived"); only where that does not hold (a CopyFiles= root, a renamed copy, an archive
 * member, NixOS store paths) is the path written out ("explicit").
 *
 * Decoding (`unpackTree`) gives back an equal SourceTree, with every directory's entries in byte
 * order (consumers sort anyway) and hard links as shared objects again.
 */
import type { DirNode, FileNode, FileSource, NodeMeta, SourceTree, Timespec, TreeNode } from './model.js';
import { byteOrder } from './model.js';

export const KINDS = ['dir', 'file', 'symlink', 'fifo', 'socket', 'char', 'block'] as const;
export type Kind = TreeNode['kind'];
export const KIND_NO: Record<Kind, number> = { dir: 0, file: 1, symlink: 2, fifo: 3, socket: 4, char: 5, block: 6 };
export const K_DIR = 0;
export const K_FILE = 1;
export const K_SYMLINK = 2;

// Uint32 fields of a record
export const U_MODE = 0; // perm (bits 0-11) | kind (12-14) | flags (below)
export const U_INO = 1;
export const U_UID = 2;
export const U_GID = 3;
export const U_PARENT = 4;
export const U_NAME = 5; // name: offset in the heap
export const U_NAME_LEN = 6;
export const U_A = 7; // dir: first child; else: link (the record holding the inode's data)
export const U_COUNT = 8; // dir: number of children
export const U_DEV = 8; // file: index in the device table (a directory has none: the same field)
export const U_NLINK = 9;
export const U_MNSEC = 10; // mtime nanoseconds
export const U_ATIME = 11; // index in the time table, or SAME_AS_MTIME
export const U_CTIME = 12;
export const U_HOST = 13; // explicit host path: offset of its length-prefixed bytes (`Heap.lstr`)
export const U_AUX0 = 14; // symlink: target offset; file: blob index (bytes) or offset low word (archive); special: rdev
export const U_AUX1 = 15; // symlink: target length; archive: offset high word
export const U_XATTR = 16; // xattr blob: offset of its length prefix (0: none, the heap's empty blob)
/** 68 bytes a record (issue 18: at a million records each field is 4 MB of the peak) */
export const U_STRIDE = 17;

// Float64 fields
export const F_MSEC = 0;
export const F_SIZE = 1;
export const F_ALLOC = 2;
export const F_STRIDE = 3;

// flags in U_MODE
export const KIND_SHIFT = 12;
export const HOST_SHIFT = 15; // 2 bits: none / derived / explicit
export const HOST_NONE = 0;
export const HOST_DERIVED = 1;
export const HOST_EXPLICIT = 2;
export const SRC_SHIFT = 17; // 2 bits: host / bytes / archive
export const SRC_HOST = 0;
export const SRC_BYTES = 1;
export const SRC_ARCHIVE = 2;
export const HAS_DEV = 1 << 19;
export const HAS_SINO = 1 << 20;
export const HAS_ALLOC = 1 << 21;
export const SUBVOL = 1 << 22;
export const SV_RO = 1 << 23;
export const SV_NOCOW = 1 << 24;
export const SV_DEFAULT = 1 << 25;
export const XATTRS_SET = 1 << 26; // meta.xattrs present (possibly empty)

export const SAME_AS_MTIME = 0xffffffff;

/** Plain data of typed arrays: structured-clonable, and its buffers transferable. */
export interface PackedTree {
  packed: 'tree-v1';
  count: number;
  nextIno: number;
  u: Uint32Array;
  f: Float64Array;
  /** the host source's inode number (file records with HAS_SINO) */
  sino: BigUint64Array;
  heap: Uint8Array;
  timeSec: Float64Array;
  timeNsec: Uint32Array;
  devs: bigint[];
  /** in-memory file contents ('bytes' sources) */
  blobs: Uint8Array[];
}

export type AnyTree = SourceTree | PackedTree;

export function isPacked(t: AnyTree): t is PackedTree {
  return (t as PackedTree).packed === 'tree-v1';
}

/**
 * The buffers to put in a postMessage transferList: none for a shared tree (its
 * SharedArrayBuffers are seen by every thread as they are), and never the blobs (they may share
 * a pool with other data).
 */
export function transferablesOf(p: PackedTree): ArrayBuffer[] {
  return [p.u.buffer, p.f.buffer, p.sino.buffer, p.heap.buffer, p.timeSec.buffer, p.timeNsec.buffer]
    .filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
}

/**
 * Formats whose drivers see the tree only through VirtualTree (mke2fs -d, mkfs.erofs,
 * mksquashfs), and whose Minimize= models read it through treeStats/provisionalSize: their
 * partitions' trees are kept packed from the trees stage on (src/build/trees.ts) and go to the
 * worker packed (src/fs/pool.ts). The others walk the objects (vfat, xfs protofile, btrfs).
 */
export const PACKED_FORMATS: ReadonlySet<string> = new Set(['ext2', 'ext3', 'ext4', 'erofs', 'squashfs']);

/** Typed arrays on an ArrayBuffer, or on a SharedArrayBuffer (one copy for every thread). */
export function alloc<T>(ctor: { new (b: ArrayBufferLike): T; BYTES_PER_ELEMENT: number }, n: number, shared: boolean): T {
  const bytes = n * ctor.BYTES_PER_ELEMENT;
  return new ctor(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
}

/**
 * A growable byte heap written as UTF-8. It starts with an empty length-prefixed blob (four zero
 * bytes): offset 0 of a prefixed field (U_HOST, U_XATTR) is "nothing".
 */
export class Heap {
  buf = Buffer.alloc(1 << 16);
  len = 4;
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  str(s: string): number {
    const off = this.len;
    this.room(s.length * 3);
    this.len += this.buf.write(s, off, 'utf8');
    return off;
  }
  bytes(b: Uint8Array): number {
    const off = this.len;
    this.room(b.length);
    this.buf.set(b, off);
    this.len += b.length;
    return off;
  }
  u32(v: number): void {
    this.room(4);
    this.buf.writeUInt32LE(v, this.len);
    this.len += 4;
  }
  /** Start a length-prefixed blob: its offset, for `endBlob`. */
  startBlob(): number {
    const off = this.len;
    this.u32(0);
    return off;
  }
  /** Write the length of the blob started at `off` (what was written since) into its prefix. */
  endBlob(off: number): void {
    this.buf.writeUInt32LE(this.len - off - 4, off);
  }
  /** A length-prefixed string: the offset of its prefix. */
  lstr(s: string): number {
    const off = this.startBlob();
    this.str(s);
    this.endBlob(off);
    return off;
  }
  /** a copy of exactly the bytes written, in a buffer of its own (transferable, or shared) */
  done(shared: boolean): Uint8Array {
    const out = alloc(Uint8Array, this.len, shared);
    out.set(this.buf.subarray(0, this.len));
    return out;
  }
}

/** The host path a node carries: its source's for a file, else its own hostPath. */
function hostOf(n: TreeNode): string | undefined {
  if (n.kind === 'file') return n.source.kind === 'bytes' ? undefined : n.source.path;
  return n.hostPath;
}

/** `path === parent + '/' + name`, without building the string. */
export function derives(path: string, parent: string, name: string): boolean {
  return path.length === parent.length + 1 + name.length && path.charCodeAt(parent.length) === 47 && path.startsWith(parent) && path.endsWith(name);
}

/** `shared`: on SharedArrayBuffers, for a tree the main thread keeps while workers read it. */
export function packTree(tree: SourceTree, opts: { shared?: boolean } = {}): PackedTree {
  const shared = opts.shared === true;
  // breadth first: each directory's children become one contiguous range, in byte order
  const nodes: TreeNode[] = [tree.root];
  const names: string[] = [''];
  const parents: number[] = [0];
  const firsts: number[] = [];
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    if (n.kind !== 'dir') continue;
    firsts[i] = nodes.length;
    for (const name of byteOrder([...n.entries.keys()])) {
      nodes.push(n.entries.get(name)!);
      names.push(name);
      parents.push(i);
    }
  }
  const count = nodes.length;
  const u = alloc(Uint32Array, count * U_STRIDE, shared);
  const f = alloc(Float64Array, count * F_STRIDE, shared);
  const sino = alloc(BigUint64Array, count, shared);
  const heap = new Heap();
  const secs: number[] = [];
  const nsecs: number[] = [];
  const times = new Map<Timespec, number>();
  const devs: bigint[] = [];
  const devIdx = new Map<bigint, number>();
  const blobs: Uint8Array[] = [];
  // hard links: the first record of a node, found by its ino (checked by identity); an array
  // by ino rather than a map of every file (inos are below nextIno)
  const byInoArr = new Int32Array(Math.max(0, tree.nextIno)).fill(-1);
  const byInoMap = new Map<number, number>();
  const byIno = {
    get: (ino: number): number | undefined => {
      if (ino >= 0 && ino < byInoArr.length) return byInoArr[ino]! < 0 ? undefined : byInoArr[ino];
      return byInoMap.get(ino);
    },
    set: (ino: number, i: number): void => {
      if (ino >= 0 && ino < byInoArr.length && Number.isInteger(ino)) byInoArr[ino] = i;
      else byInoMap.set(ino, i);
    },
  };
  const timeRef = (t: Timespec, m: Timespec): number => {
    if (t === m || (t.sec === m.sec && t.nsec === m.nsec)) return SAME_AS_MTIME;
    let k = times.get(t);
    if (k === undefined) {
      k = secs.length;
      secs.push(t.sec);
      nsecs.push(t.nsec);
      times.set(t, k);
    }
    return k;
  };
  for (let i = 0; i < count; i++) {
    const n = nodes[i]!;
    const b = i * U_STRIDE;
    const name = names[i]!;
    const parent = parents[i]!;
    u[b + U_PARENT] = parent;
    u[b + U_INO] = n.ino;
    if (i > 0) {
      u[b + U_NAME] = heap.str(name);
      u[b + U_NAME_LEN] = heap.len - u[b + U_NAME]!;
    }
    if (n.kind === 'dir') {
      u[b + U_A] = firsts[i]!;
      u[b + U_COUNT] = n.entries.size;
      let subdirs = 0;
      for (const c of n.entries.values()) if (c.kind === 'dir') subdirs++;
      u[b + U_NLINK] = 2 + subdirs;
    } else {
      const first = byIno.get(n.ino);
      if (first !== undefined && nodes[first] === n) {
        // another name of an inode already written: only the entry
        u[b + U_MODE] = (KIND_NO[n.kind] << KIND_SHIFT) | (u[first * U_STRIDE + U_MODE]! & 0o7777);
        u[b + U_A] = first;
        u[first * U_STRIDE + U_NLINK]!++;
        continue;
      }
      if (first === undefined) byIno.set(n.ino, i);
      u[b + U_A] = i;
      u[b + U_NLINK] = 1;
    }
    const m = n.meta;
    let mode = (m.perm & 0o7777) | (KIND_NO[n.kind] << KIND_SHIFT);
    u[b + U_UID] = m.uid;
    u[b + U_GID] = m.gid;
    f[i * F_STRIDE + F_MSEC] = m.mtime.sec;
    u[b + U_MNSEC] = m.mtime.nsec;
    u[b + U_ATIME] = timeRef(m.atime, m.mtime);
    u[b + U_CTIME] = timeRef(m.ctime, m.mtime);
    if (m.xattrs) {
      mode |= XATTRS_SET;
      if (m.xattrs.length > 0) {
        const off = heap.startBlob();
        for (const x of m.xattrs) {
          heap.u32(Buffer.byteLength(x.name));
          heap.str(x.name);
          heap.u32(x.value.length);
          heap.bytes(x.value);
        }
        heap.endBlob(off);
        u[b + U_XATTR] = off;
      }
    }
    const host = hostOf(n);
    if (host !== undefined) {
      const ph = i > 0 ? hostOf(nodes[parent]!) : undefined;
      if (ph !== undefined && nodes[parent]!.kind === 'dir' && derives(host, ph, name)) mode |= HOST_DERIVED << HOST_SHIFT;
      else {
        mode |= HOST_EXPLICIT << HOST_SHIFT;
        u[b + U_HOST] = heap.lstr(host);
      }
    }
    switch (n.kind) {
      case 'dir':
        if (n.subvolume) {
          mode |= SUBVOL;
          if (n.subvolume.readOnly) mode |= SV_RO;
          if (n.subvolume.nodatacow) mode |= SV_NOCOW;
          if (n.subvolume.isDefault) mode |= SV_DEFAULT;
        }
        break;
      case 'file': {
        f[i * F_STRIDE + F_SIZE] = n.size;
        if (n.allocated !== undefined) {
          mode |= HAS_ALLOC;
          f[i * F_STRIDE + F_ALLOC] = n.allocated;
        }
        const s = n.source;
        if (s.kind === 'bytes') {
          mode |= SRC_BYTES << SRC_SHIFT;
          u[b + U_AUX0] = blobs.length;
          blobs.push(s.data);
        } else {
          if (s.kind === 'archive') {
            mode |= SRC_ARCHIVE << SRC_SHIFT;
            u[b + U_AUX0] = s.offset % 0x1_0000_0000;
            u[b + U_AUX1] = Math.floor(s.offset / 0x1_0000_0000);
          }
          if (s.dev !== undefined) {
            mode |= HAS_DEV;
            let d = devIdx.get(s.dev);
            if (d === undefined) {
              d = devs.length;
              devs.push(s.dev);
              devIdx.set(s.dev, d);
            }
            u[b + U_DEV] = d;
          }
          if (s.ino !== undefined) {
            mode |= HAS_SINO;
            sino[i] = s.ino;
          }
        }
        break;
      }
      case 'symlink':
        u[b + U_AUX0] = heap.str(n.target);
        u[b + U_AUX1] = heap.len - u[b + U_AUX0]!;
        break;
      default:
        u[b + U_AUX0] = n.rdev;
    }
    u[b + U_MODE] = mode;
  }
  return {
    packed: 'tree-v1',
    count,
    nextIno: tree.nextIno,
    u,
    f,
    sino,
    heap: heap.done(shared),
    timeSec: fill(alloc(Float64Array, secs.length, shared), secs),
    timeNsec: fill(alloc(Uint32Array, nsecs.length, shared), nsecs),
    devs,
    blobs,
  };
}

function fill<T extends { set(a: ArrayLike<number>): void }>(t: T, from: number[]): T {
  t.set(from);
  return t;
}

/** Read access to a PackedTree by record number, without per-node objects. */
export class PackedView {
  readonly u: Uint32Array;
  readonly f: Float64Array;
  readonly heap: Buffer;
  /** host paths of directories asked about lately (a tool works through one directory at a time) */
  private dirHosts = new Map<number, string>();

  constructor(readonly p: PackedTree) {
    this.u = p.u;
    this.f = p.f;
    this.heap = Buffer.from(p.heap.buffer, p.heap.byteOffset, p.heap.byteLength);
  }

  get count(): number {
    return this.p.count;
  }
  kindNo(i: number): number {
    return (this.u[i * U_STRIDE + U_MODE]! >>> KIND_SHIFT) & 7;
  }
  kind(i: number): Kind {
    return KINDS[this.kindNo(i)]!;
  }
  /** the record holding the inode's data (itself unless a later name of a hard link) */
  data(i: number): number {
    return this.kindNo(i) === K_DIR ? i : this.u[i * U_STRIDE + U_A]!;
  }
  perm(i: number): number {
    return this.u[this.data(i) * U_STRIDE + U_MODE]! & 0o7777;
  }
  flags(i: number): number {
    return this.u[this.data(i) * U_STRIDE + U_MODE]!;
  }
  field(i: number, f: number): number {
    return this.u[this.data(i) * U_STRIDE + f]!;
  }
  ino(i: number): number {
    return this.u[i * U_STRIDE + U_INO]!;
  }
  nlink(i: number): number {
    return this.field(i, U_NLINK);
  }
  parent(i: number): number {
    return this.u[i * U_STRIDE + U_PARENT]!;
  }
  first(i: number): number {
    return this.u[i * U_STRIDE + U_A]!;
  }
  childCount(i: number): number {
    return this.u[i * U_STRIDE + U_COUNT]!;
  }
  size(i: number): number {
    return this.f[this.data(i) * F_STRIDE + F_SIZE]!;
  }
  allocated(i: number): number | undefined {
    const d = this.data(i);
    return this.u[d * U_STRIDE + U_MODE]! & HAS_ALLOC ? this.f[d * F_STRIDE + F_ALLOC]! : undefined;
  }
  name(i: number): string {
    const b = i * U_STRIDE;
    const off = this.u[b + U_NAME]!;
    return this.heap.toString('utf8', off, off + this.u[b + U_NAME_LEN]!);
  }
  /** UTF-8 byte length of the entry's name */
  nameBytes(i: number): number {
    return this.u[i * U_STRIDE + U_NAME_LEN]!;
  }
  mtime(i: number): Timespec {
    const d = this.data(i);
    return { sec: this.f[d * F_STRIDE + F_MSEC]!, nsec: this.u[d * U_STRIDE + U_MNSEC]! };
  }
  mtimeSec(i: number): number {
    return this.f[this.data(i) * F_STRIDE + F_MSEC]!;
  }
  /** a time field (U_ATIME, U_CTIME): seconds */
  timeSec(i: number, which: number): number {
    const k = this.field(i, which);
    return k === SAME_AS_MTIME ? this.mtimeSec(i) : this.p.timeSec[k]!;
  }
  time(i: number, which: number): Timespec {
    const k = this.field(i, which);
    return k === SAME_AS_MTIME ? this.mtime(i) : { sec: this.p.timeSec[k]!, nsec: this.p.timeNsec[k]! };
  }
  srcKind(i: number): number {
    return (this.flags(i) >>> SRC_SHIFT) & 3;
  }
  // a later name of a hard link has these on its data record, as every other field (the scans
  // make none for symlinks, whose names systemd-repart copies one by one; archives may)
  target(i: number): string {
    const off = this.field(i, U_AUX0);
    return this.heap.toString('utf8', off, off + this.field(i, U_AUX1));
  }
  targetBytes(i: number): number {
    return this.field(i, U_AUX1);
  }
  rdev(i: number): number {
    return this.field(i, U_AUX0);
  }
  blob(i: number): Uint8Array {
    return this.p.blobs[this.field(i, U_AUX0)]!;
  }
  archiveOffset(i: number): number {
    return this.field(i, U_AUX0) + this.field(i, U_AUX1) * 0x1_0000_0000;
  }
  dev(i: number): bigint | undefined {
    return this.flags(i) & HAS_DEV ? this.p.devs[this.field(i, U_DEV)] : undefined;
  }
  srcIno(i: number): bigint | undefined {
    const d = this.data(i);
    return this.u[d * U_STRIDE + U_MODE]! & HAS_SINO ? this.p.sino[d] : undefined;
  }
  subvolume(i: number): DirNode['subvolume'] {
    const m = this.u[i * U_STRIDE + U_MODE]!;
    if (!(m & SUBVOL)) return undefined;
    return { readOnly: !!(m & SV_RO), nodatacow: !!(m & SV_NOCOW), isDefault: !!(m & SV_DEFAULT) };
  }

  /** The host path the node carries (a file's source path, else its hostPath), if any. */
  hostPath(i: number): string | undefined {
    const d = this.data(i);
    const b = d * U_STRIDE;
    const how = (this.u[b + U_MODE]! >>> HOST_SHIFT) & 3;
    if (how === HOST_NONE) return undefined;
    if (how === HOST_EXPLICIT) return lstrAt(this.heap, this.u[b + U_HOST]!);
    const parent = this.u[b + U_PARENT]!;
    let ph = this.dirHosts.get(parent);
    if (ph === undefined) {
      ph = this.hostPath(parent)!;
      if (this.dirHosts.size >= 1024) this.dirHosts.clear();
      this.dirHosts.set(parent, ph);
    }
    return ph + '/' + this.name(d);
  }

  /** meta.xattrs as stored (undefined when the node had none set). */
  xattrs(i: number): NodeMeta['xattrs'] {
    const d = this.data(i);
    const b = d * U_STRIDE;
    if (!(this.u[b + U_MODE]! & XATTRS_SET)) return undefined;
    const out: { name: string; value: Uint8Array }[] = [];
    let at = this.u[b + U_XATTR]!;
    const end = at + 4 + this.heap.readUInt32LE(at);
    at += 4;
    while (at < end) {
      const nl = this.heap.readUInt32LE(at);
      const name = this.heap.toString('utf8', at + 4, at + 4 + nl);
      at += 4 + nl;
      const vl = this.heap.readUInt32LE(at);
      out.push({ name, value: new Uint8Array(this.heap.subarray(at + 4, at + 4 + vl)) });
      at += 4 + vl;
    }
    return out;
  }

  /** llistxattr's answer: each name NUL-terminated, in tree order. */
  xattrNames(i: number): Uint8Array | null {
    const d = this.data(i);
    const b = d * U_STRIDE;
    let at = this.u[b + U_XATTR]!;
    const len = this.heap.readUInt32LE(at);
    if (len === 0) return null;
    const parts: Buffer[] = [];
    at += 4;
    const end = at + len;
    while (at < end) {
      const nl = this.heap.readUInt32LE(at);
      parts.push(this.heap.subarray(at + 4, at + 4 + nl), NUL);
      at += 4 + nl;
      at += 4 + this.heap.readUInt32LE(at);
    }
    return Buffer.concat(parts);
  }

  /** lgetxattr's answer, or null when the node does not carry `name`. */
  xattrValue(i: number, name: string): Uint8Array | null {
    const d = this.data(i);
    const b = d * U_STRIDE;
    let at = this.u[b + U_XATTR]!;
    const end = at + 4 + this.heap.readUInt32LE(at);
    at += 4;
    const want = Buffer.from(name, 'utf8');
    while (at < end) {
      const nl = this.heap.readUInt32LE(at);
      const hit = nl === want.length && this.heap.compare(want, 0, nl, at + 4, at + 4 + nl) === 0;
      at += 4 + nl;
      const vl = this.heap.readUInt32LE(at);
      if (hit) return new Uint8Array(this.heap.subarray(at + 4, at + 4 + vl));
      at += 4 + vl;
    }
    return null;
  }

  /** The child of directory `dir` called `name`, or -1: binary search in byte order. */
  lookup(dir: number, name: string): number {
    const b = dir * U_STRIDE;
    let lo = this.u[b + U_A]!;
    let hi = lo + this.u[b + U_COUNT]! - 1;
    let bytes: Buffer | null = null;
    for (let k = 0; k < name.length; k++) {
      if (name.charCodeAt(k) >= 0x80) {
        bytes = Buffer.from(name, 'utf8');
        break;
      }
    }
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = bytes ? this.cmpBytes(bytes, mid) : this.cmpAscii(name, mid);
      if (c === 0) return mid;
      if (c < 0) hi = mid - 1;
      else lo = mid + 1;
    }
    return -1;
  }

  /** sign of (name − record i's name) in byte order, for an ASCII name */
  private cmpAscii(name: string, i: number): number {
    const b = i * U_STRIDE;
    const off = this.u[b + U_NAME]!;
    const len = this.u[b + U_NAME_LEN]!;
    const h = this.heap;
    const n = Math.min(name.length, len);
    for (let k = 0; k < n; k++) {
      const d = name.charCodeAt(k) - h[off + k]!;
      if (d !== 0) return d;
    }
    return name.length - len;
  }

  private cmpBytes(name: Buffer, i: number): number {
    const b = i * U_STRIDE;
    const off = this.u[b + U_NAME]!;
    return name.compare(this.heap, off, off + this.u[b + U_NAME_LEN]!);
  }

  /** Record i (a file) as a FileNode, for a consumer that takes one; not kept, not shared. */
  fileNode(i: number): FileNode {
    const mtime = this.mtime(i);
    const meta: NodeMeta = { perm: this.perm(i), uid: this.field(i, U_UID), gid: this.field(i, U_GID), atime: this.time(i, U_ATIME), mtime, ctime: this.time(i, U_CTIME) };
    const xs = this.xattrs(i);
    if (xs) meta.xattrs = xs;
    const node: FileNode = { kind: 'file', ino: this.ino(i), meta, size: this.size(i), source: this.source(i) };
    const a = this.allocated(i);
    if (a !== undefined) node.allocated = a;
    return node;
  }

  /** a FileSource for record i (a file) */
  source(i: number): FileSource {
    const k = this.srcKind(i);
    if (k === SRC_BYTES) return { kind: 'bytes', data: this.blob(i) };
    const s: FileSource = k === SRC_ARCHIVE
      ? { kind: 'archive', path: this.hostPath(i)!, offset: this.archiveOffset(i) }
      : { kind: 'host', path: this.hostPath(i)! };
    const dev = this.dev(i);
    const ino = this.srcIno(i);
    if (dev !== undefined) s.dev = dev;
    if (ino !== undefined) s.ino = ino;
    return s;
  }
}

const NUL = Buffer.from([0]);

/** The string `Heap.lstr` wrote at `off`. */
export function lstrAt(heap: Buffer, off: number): string {
  return heap.toString('utf8', off + 4, off + 4 + heap.readUInt32LE(off));
}

/** Accept either form where a SourceTree is wanted: a packed one is decoded (once). */
const decoded = new WeakMap<PackedTree, SourceTree>();
export function objectTree(t: AnyTree): SourceTree {
  if (!isPacked(t)) return t;
  let s = decoded.get(t);
  if (!s) {
    s = unpackTree(t);
    decoded.set(t, s);
  }
  return s;
}

/**
 * Whether any entry below the root carries extended attributes (the root's own, such as 262's
 * validatefs ones, do not count): without any, mke2fs -d is told to skip its llistxattr() per
 * entry (wasm/patches/e2fsprogs-xattrs-host-flag.patch).
 */
export function xattrsBelowRoot(t: PackedTree): boolean {
  const v = new PackedView(t);
  // record 0 is the root (records are in breadth-first order)
  for (let i = 1; i < v.count; i++) if (v.xattrNames(i) !== null) return true;
  return false;
}

/** The packed form of either (a SourceTree is encoded once). */
const encoded = new WeakMap<SourceTree, PackedTree>();
export function packedTree(t: AnyTree): PackedTree {
  if (isPacked(t)) return t;
  let p = encoded.get(t);
  if (!p) {
    p = packTree(t);
    encoded.set(t, p);
  }
  return p;
}

export function unpackTree(p: PackedTree): SourceTree {
  const v = new PackedView(p);
  const nodes: TreeNode[] = new Array<TreeNode>(p.count);
  const tables = new Map<number, Timespec>();
  const timeOf = (i: number, which: number, mtime: Timespec): Timespec => {
    const k = v.field(i, which);
    if (k === SAME_AS_MTIME) return mtime;
    let t = tables.get(k);
    if (!t) tables.set(k, (t = { sec: p.timeSec[k]!, nsec: p.timeNsec[k]! }));
    return t;
  };
  for (let i = 0; i < p.count; i++) {
    const kind = v.kind(i);
    let node: TreeNode;
    if (kind !== 'dir' && v.data(i) !== i) node = nodes[v.data(i)]!;
    else {
      const mtime = v.mtime(i);
      const meta: NodeMeta = {
        perm: v.perm(i), uid: v.field(i, U_UID), gid: v.field(i, U_GID),
        atime: timeOf(i, U_ATIME, mtime), mtime, ctime: timeOf(i, U_CTIME, mtime),
      };
      const xs = v.xattrs(i);
      if (xs) meta.xattrs = xs;
      const ino = v.ino(i);
      const host = v.hostPath(i);
      switch (kind) {
        case 'dir': {
          const d: DirNode = { kind, ino, meta, entries: new Map() };
          const sv = v.subvolume(i);
          if (sv) d.subvolume = sv;
          if (host !== undefined) d.hostPath = host;
          node = d;
          break;
        }
        case 'file':
          node = { ...v.fileNode(i), meta };
          break;
        case 'symlink':
          node = { kind, ino, meta, target: v.target(i) };
          if (host !== undefined) node.hostPath = host;
          break;
        default:
          node = { kind, ino, meta, rdev: v.rdev(i) };
          if (host !== undefined) node.hostPath = host;
      }
    }
    nodes[i] = node;
    if (i > 0) (nodes[v.parent(i)] as DirNode).entries.set(v.name(i), node);
  }
  return { root: nodes[0] as DirNode, nextIno: p.nextIno };
}
