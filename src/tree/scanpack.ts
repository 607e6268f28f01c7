/**
 * The scan that writes the packed tree directly (issue 18: peak RSS at 1M files): the same walk
 * as src/tree/build.ts (CopyFiles= lines in order, merges into existing directories, per-line hard
 * links by dev:ino, exclusions by inode, MakeDirectories=, MakeSymlinks=, Subvolumes=), but each
 * entry becomes a record in growable SharedArrayBuffers (src/tree/packed.ts layout) instead of
 * a JS object. A directory's children are a linked list while the scan runs; `finish()` puts the
 * records in breadth-first order, children in byte order, in place (no second copy), and the
 * result is a PackedTree equal (unpackTree) to packTree(buildTree(spec)).
 *
 * Inode numbers are given in the object scan's order (depth first); a record replaced by a later
 * line (as Map.set replaces an entry) stays behind as an unreachable record and is dropped.
 * CopyArchive= and --dedupe keep the object path (src/tree/from-definition.ts).
 */
import { readlinkSync as readlink } from 'node:fs';
import type { HostStat } from '../io/host-stat.js';
import { FsError, type ErrorWhere } from '../errors.js';
import { key, lstatLine, ScanBase, type CopyFilesLine, type Deny, type TreeSpec } from './build.js';
import type { Timespec } from './model.js';
import { treeRdev } from './devices.js';
import { sharesInode } from './identity.js';
import {
  F_ALLOC, F_MSEC, F_SIZE, F_STRIDE, HAS_ALLOC, HAS_DEV, HAS_SINO, Heap, HOST_DERIVED, HOST_EXPLICIT, HOST_SHIFT, K_DIR, KIND_SHIFT,
  SAME_AS_MTIME, SUBVOL, SV_DEFAULT, SV_NOCOW, SV_RO, U_A, U_ATIME, U_AUX0, U_AUX1, U_COUNT, U_CTIME, U_DEV, U_GID, U_HOST,
  U_INO, U_MNSEC, U_MODE, U_NAME, U_NAME_LEN, U_NLINK, U_PARENT, U_STRIDE, U_UID, U_XATTR, XATTRS_SET, alloc, derives, lstrAt,
  type PackedTree,
} from './packed.js';

const NONE = 0xffffffff;
/** the most records a tree can have here (U_STRIDE x 4 bytes each in a buffer of at most 4 GiB) */
const MAX_RECORDS = Math.floor((2 ** 32 - 4096) / (U_STRIDE * 4));
const K_SYMLINK = 2;
const K_FILE = 1;
const WIDE = /[\ud800-\uffff]/;
/** perm, kind and the host-path flags of U_MODE */
const PERM = 0o7777;

/** A growable typed array on a growable SharedArrayBuffer (no copy when it grows). */
/** ES2024 growable SharedArrayBuffer (Node 20 has it; the TypeScript lib here does not) */
type GrowableSab = SharedArrayBuffer & { grow(bytes: number): void };
const GSab = SharedArrayBuffer as unknown as new (bytes: number, o: { maxByteLength: number }) => GrowableSab;
function growable<T>(ctor: { new (b: ArrayBufferLike): T; BYTES_PER_ELEMENT: number }, perRecord: number): { sab: GrowableSab; view: T } {
  const sab = new GSab(0, { maxByteLength: Math.min(2 ** 32 - 4096, MAX_RECORDS * perRecord * ctor.BYTES_PER_ELEMENT) });
  return { sab, view: new ctor(sab) };
}

/** Records being written: the packed layout plus the scan's linked lists of children. */
export class PackStore {
  count = 0;
  cap = 0;
  nextIno = 1;
  private readonly ub = growable(Uint32Array, U_STRIDE);
  private readonly fb = growable(Float64Array, F_STRIDE);
  private readonly sb = growable(BigUint64Array, 1);
  u = this.ub.view;
  f = this.fb.view;
  sino = this.sb.view;
  /** next sibling, while the scan runs */
  next = new Uint32Array(0);
  readonly heap = new Heap();
  secs: number[] = [];
  nsecs: number[] = [];
  readonly devs: bigint[] = [];
  private readonly devIdx = new Map<bigint, number>();
  /** directories whose children were not appended in byte order */
  readonly unsorted = new Set<number>();
  /** data records that have other names (hard links) */
  readonly linked = new Set<number>();

  record(kind: number): number {
    const i = this.count;
    if (i === this.cap) this.grow();
    this.count++;
    this.u[i * U_STRIDE + U_MODE] = kind << KIND_SHIFT;
    this.next[i] = NONE;
    return i;
  }

  private grow(): void {
    const cap = Math.min(MAX_RECORDS, Math.max(1024, this.cap * 2));
    if (cap <= this.cap) throw new FsError('E_SOURCE', `the tree has more than ${MAX_RECORDS} entries`);
    this.ub.sab.grow(cap * U_STRIDE * 4);
    this.fb.sab.grow(cap * F_STRIDE * 8);
    this.sb.sab.grow(cap * 8);
    const n = new Uint32Array(cap);
    n.set(this.next);
    this.next = n;
    this.cap = cap;
  }

  kind(i: number): number {
    return (this.u[i * U_STRIDE + U_MODE]! >>> KIND_SHIFT) & 7;
  }
  data(i: number): number {
    return this.kind(i) === K_DIR ? i : this.u[i * U_STRIDE + U_A]!;
  }

  /** A table index for a time (a new entry each: entries are never changed but by clamping). */
  timeRef(t: Timespec): number {
    this.secs.push(t.sec);
    this.nsecs.push(t.nsec);
    return this.secs.length - 1;
  }
  mtime(i: number): Timespec {
    return { sec: this.f[i * F_STRIDE + F_MSEC]!, nsec: this.u[i * U_STRIDE + U_MNSEC]! };
  }
  time(i: number, which: number): Timespec {
    const k = this.u[i * U_STRIDE + which]!;
    return k === SAME_AS_MTIME ? this.mtime(i) : { sec: this.secs[k]!, nsec: this.nsecs[k]! };
  }
  /** A new mtime; atime and ctime that were "as mtime" keep their old value. */
  setMtime(i: number, t: Timespec): void {
    const b = i * U_STRIDE;
    for (const w of [U_ATIME, U_CTIME]) if (this.u[b + w] === SAME_AS_MTIME) this.u[b + w] = this.timeRef(this.mtime(i));
    this.f[i * F_STRIDE + F_MSEC] = t.sec;
    this.u[b + U_MNSEC] = t.nsec;
  }
  setTime(i: number, which: number, t: Timespec): void {
    const m = this.mtime(i);
    this.u[i * U_STRIDE + which] = t.sec === m.sec && t.nsec === m.nsec ? SAME_AS_MTIME : this.timeRef(t);
  }

  devIndex(dev: bigint): number {
    let d = this.devIdx.get(dev);
    if (d === undefined) {
      d = this.devs.length;
      this.devs.push(dev);
      this.devIdx.set(dev, d);
    }
    return d;
  }

  name(i: number): string {
    const b = i * U_STRIDE;
    const off = this.u[b + U_NAME]!;
    return this.heap.buf.toString('utf8', off, off + this.u[b + U_NAME_LEN]!);
  }

  /** The host path record i carries (its data record's), as PackedView.hostPath answers. */
  hostOf(i: number): string | undefined {
    const d = this.data(i);
    const b = d * U_STRIDE;
    const how = (this.u[b + U_MODE]! >>> HOST_SHIFT) & 3;
    if (how === 0) return undefined;
    if (how === HOST_EXPLICIT) return lstrAt(this.heap.buf, this.u[b + U_HOST]!);
    return this.hostOf(this.u[b + U_PARENT]!)! + '/' + this.name(d);
  }

  setHostExplicit(i: number, host: string): void {
    const b = i * U_STRIDE;
    this.u[b + U_MODE] = (this.u[b + U_MODE]! & ~(3 << HOST_SHIFT)) | (HOST_EXPLICIT << HOST_SHIFT);
    this.u[b + U_HOST] = this.heap.lstr(host);
  }

  /** Append record i to directory `dir`'s children as `name`. */
  attach(dir: number, i: number, name: string): void {
    const b = i * U_STRIDE;
    const db = dir * U_STRIDE;
    this.u[b + U_PARENT] = dir;
    this.u[b + U_NAME] = this.heap.str(name);
    this.u[b + U_NAME_LEN] = this.heap.len - this.u[b + U_NAME]!;
    this.next[i] = NONE;
    if (this.u[db + U_COUNT] === 0) this.u[db + U_A] = i;
    else this.next[this.u[db + U_NLINK]!] = i; // U_NLINK: the last child, until finish()
    this.u[db + U_NLINK] = i;
    this.u[db + U_COUNT]!++;
  }

  /** Remove child i from directory `dir` (an entry replaced by a later line). */
  detach(dir: number, i: number): void {
    const db = dir * U_STRIDE;
    let prev = NONE;
    for (let c = this.u[db + U_A]!, n = this.u[db + U_COUNT]!; n > 0; prev = c, c = this.next[c]!, n--) {
      if (c !== i) continue;
      if (prev === NONE) this.u[db + U_A] = this.next[c]!;
      else this.next[prev] = this.next[c]!;
      if (this.u[db + U_NLINK] === c) this.u[db + U_NLINK] = prev;
      this.u[db + U_COUNT]!--;
      return;
    }
  }

  *children(dir: number): Generator<number> {
    const db = dir * U_STRIDE;
    for (let c = this.u[db + U_A]!, n = this.u[db + U_COUNT]!; n > 0; c = this.next[c]!, n--) yield c;
  }

  child(dir: number, name: string): number {
    if (this.kind(dir) !== K_DIR) return -1;
    const want = Buffer.from(name, 'utf8');
    const h = this.heap.buf;
    for (const c of this.children(dir)) {
      const b = c * U_STRIDE;
      const off = this.u[b + U_NAME]!;
      if (this.u[b + U_NAME_LEN] === want.length && want.compare(h, off, off + want.length) === 0) return c;
    }
    return -1;
  }

  /** meta.xattrs of record i, encoded as packTree does (replacing any it had). */
  setXattrs(i: number, xs: { name: string; value: Uint8Array }[]): void {
    const d = this.data(i);
    const b = d * U_STRIDE;
    this.u[b + U_MODE]! |= XATTRS_SET;
    if (xs.length === 0) {
      this.u[b + U_XATTR] = 0;
      return;
    }
    const off = this.heap.startBlob();
    for (const x of xs) {
      this.heap.u32(Buffer.byteLength(x.name));
      this.heap.str(x.name);
      this.heap.u32(x.value.length);
      this.heap.bytes(x.value);
    }
    this.heap.endBlob(off);
    this.u[b + U_XATTR] = off;
  }

  xattrs(i: number): { name: string; value: Uint8Array }[] | undefined {
    const d = this.data(i);
    const b = d * U_STRIDE;
    if (!(this.u[b + U_MODE]! & XATTRS_SET)) return undefined;
    const out: { name: string; value: Uint8Array }[] = [];
    const h = this.heap.buf;
    let at = this.u[b + U_XATTR]!;
    const end = at + 4 + h.readUInt32LE(at);
    at += 4;
    while (at < end) {
      const nl = h.readUInt32LE(at);
      const name = h.toString('utf8', at + 4, at + 4 + nl);
      at += 4 + nl;
      const vl = h.readUInt32LE(at);
      out.push({ name, value: new Uint8Array(h.subarray(at + 4, at + 4 + vl)) });
      at += 4 + vl;
    }
    return out;
  }

  /** Every time becomes at most `epoch` (clampTimes on the objects). */
  clamp(epoch: number): void {
    for (let i = 0; i < this.count; i++) {
      const s = this.f[i * F_STRIDE + F_MSEC]!;
      const ns = this.u[i * U_STRIDE + U_MNSEC]!;
      if (s > epoch || (s === epoch && ns > 0)) {
        this.f[i * F_STRIDE + F_MSEC] = epoch;
        this.u[i * U_STRIDE + U_MNSEC] = 0;
      }
    }
    for (let k = 0; k < this.secs.length; k++) {
      if (this.secs[k]! > epoch || (this.secs[k] === epoch && this.nsecs[k]! > 0)) {
        this.secs[k] = epoch;
        this.nsecs[k] = 0;
      }
    }
  }

  /**
   * Every reachable name with a host path, once per name (a hard link's path is its data record's).
   * `skip`: a path it answers true for is not visited, nor are the names below it whose paths
   * derive from it (their paths are never built); names below with a path of their own are.
   */
  eachHost(f: (i: number, path: string) => void, skip?: (path: string) => boolean): void {
    const visit = (dir: number, dirHost: string | undefined, dirSkipped: boolean): void => {
      for (const c of this.children(dir)) {
        const d = this.data(c);
        const how = (this.u[d * U_STRIDE + U_MODE]! >>> HOST_SHIFT) & 3;
        const derived = how === HOST_DERIVED && d === c;
        let p: string | undefined;
        let skipped = derived && dirSkipped;
        if (!skipped) {
          if (derived && dirHost !== undefined) p = dirHost + '/' + this.name(c);
          else if (how !== 0) p = this.hostOf(c);
          // an archive member's path is the archive's (not here: archives keep the object path)
          if (p !== undefined) {
            if (skip?.(p)) skipped = true;
            else f(c, p);
          }
        }
        if (this.kind(c) === K_DIR) visit(c, skipped ? undefined : p, skipped);
      }
    };
    const rootHost = this.hostOf(0);
    const rootSkipped = rootHost !== undefined && skip?.(rootHost) === true;
    if (rootHost !== undefined && !rootSkipped) f(0, rootHost);
    visit(0, rootSkipped ? undefined : rootHost, rootSkipped);
  }

  /**
   * The PackedTree: reachable records in breadth-first order, each directory's children in byte
   * order, moved in place; hard links' data in the first record of their group, nlink counted.
   */
  finish(): PackedTree {
    const u = this.u;
    // the order: breadth first, children sorted where they were not appended sorted
    const ord = new Uint32Array(this.count);
    const firsts = new Map<number, number>();
    let n = 1;
    ord[0] = 0;
    for (let k = 0; k < n; k++) {
      const dir = ord[k]!;
      if (this.kind(dir) !== K_DIR) continue;
      firsts.set(dir, n);
      if (this.unsorted.has(dir)) {
        const kids = [...this.children(dir)].map((c) => ({ c, name: this.heap.buf.subarray(u[c * U_STRIDE + U_NAME]!, u[c * U_STRIDE + U_NAME]! + u[c * U_STRIDE + U_NAME_LEN]!) }));
        kids.sort((a, b) => Buffer.compare(a.name, b.name));
        for (const k2 of kids) ord[n++] = k2.c;
      } else for (const c of this.children(dir)) ord[n++] = c;
    }
    const count = n;
    const inv = new Uint32Array(this.count).fill(NONE);
    for (let k = 0; k < count; k++) inv[ord[k]!] = k;
    // hard links: the first record of a group in the new order holds the inode's data
    if (this.linked.size > 0) this.moveLinkData(ord, count);
    // pointers to new record numbers, nlink (fields of the old positions, before moving)
    for (let k = 0; k < count; k++) {
      const i = ord[k]!;
      const b = i * U_STRIDE;
      if (k > 0) u[b + U_PARENT] = inv[u[b + U_PARENT]!]!;
      if (this.kind(i) === K_DIR) {
        let subdirs = 0;
        for (const c of this.children(i)) if (this.kind(c) === K_DIR) subdirs++;
        u[b + U_A] = firsts.get(i)!;
        u[b + U_NLINK] = 2 + subdirs;
      } else if (u[b + U_A] !== i) {
        u[b + U_A] = inv[u[b + U_A]!]!;
        u[b + U_NLINK] = 0;
      } else {
        u[b + U_A] = k;
        u[b + U_NLINK] = 1;
      }
    }
    for (let k = 0; k < count; k++) {
      const i = ord[k]!;
      const a = u[i * U_STRIDE + U_A]!;
      if (this.kind(i) !== K_DIR && a !== k) u[ord[a]! * U_STRIDE + U_NLINK]!++;
    }
    // orphans after the reachable records: a full permutation, applied in place by cycles
    let m = count;
    for (let i = 0; i < this.count; i++) if (inv[i] === NONE) ord[m++] = i;
    this.permute(ord);
    return {
      packed: 'tree-v1',
      count,
      nextIno: this.nextIno,
      u: new Uint32Array(this.ub.sab, 0, count * U_STRIDE),
      f: new Float64Array(this.fb.sab, 0, count * F_STRIDE),
      sino: new BigUint64Array(this.sb.sab, 0, count),
      heap: this.heap.done(true),
      timeSec: fillShared(Float64Array, this.secs),
      timeNsec: fillShared(Uint32Array, this.nsecs),
      devs: this.devs,
      blobs: [],
    };
  }

  /** new[k] = old[ord[k]] for the records' u, f and sino. */
  private permute(ord: Uint32Array): void {
    const total = this.count;
    const done = new Uint8Array(total);
    const tu = new Uint32Array(U_STRIDE);
    const tf = new Float64Array(F_STRIDE);
    const u = this.u;
    const f = this.f;
    const s = this.sino;
    for (let k = 0; k < total; k++) {
      if (done[k] || ord[k] === k) {
        done[k] = 1;
        continue;
      }
      tu.set(u.subarray(k * U_STRIDE, k * U_STRIDE + U_STRIDE));
      tf.set(f.subarray(k * F_STRIDE, k * F_STRIDE + F_STRIDE));
      const ts = s[k]!;
      let j = k;
      for (;;) {
        done[j] = 1;
        const src = ord[j]!;
        if (src === k) {
          u.set(tu, j * U_STRIDE);
          f.set(tf, j * F_STRIDE);
          s[j] = ts;
          break;
        }
        u.copyWithin(j * U_STRIDE, src * U_STRIDE, src * U_STRIDE + U_STRIDE);
        f.copyWithin(j * F_STRIDE, src * F_STRIDE, src * F_STRIDE + F_STRIDE);
        s[j] = s[src]!;
        j = src;
      }
    }
  }

  /** Where a link record comes before its data record in `ord`, the data moves to it. */
  private moveLinkData(ord: Uint32Array, count: number): void {
    const u = this.u;
    const holder = new Map<number, number>(); // old data record → the record that holds it now
    for (let k = 0; k < count; k++) {
      const i = ord[k]!;
      if (this.kind(i) === K_DIR) continue;
      const d = u[i * U_STRIDE + U_A]!;
      if (!this.linked.has(d) || holder.has(d)) continue;
      holder.set(d, i);
      if (i === d) continue;
      // record i (a later name) takes the inode: every field but its own entry's
      const host = this.hostOf(d);
      const bi = i * U_STRIDE;
      const bd = d * U_STRIDE;
      for (let x = 0; x < U_STRIDE; x++) if (x !== U_PARENT && x !== U_NAME && x !== U_NAME_LEN && x !== U_A) u[bi + x] = u[bd + x]!;
      for (let x = 0; x < F_STRIDE; x++) this.f[i * F_STRIDE + x] = this.f[d * F_STRIDE + x]!;
      this.sino[i] = this.sino[d]!;
      u[bi + U_A] = i;
      if (host !== undefined) this.setHostExplicit(i, host);
    }
    if (holder.size === 0) return;
    // every name of a moved inode points at its holder (the old data record too, if reachable)
    for (let k = 0; k < count; k++) {
      const i = ord[k]!;
      if (this.kind(i) === K_DIR) continue;
      const d = u[i * U_STRIDE + U_A]!;
      const h = holder.get(d);
      if (h === undefined || h === d || i === h) continue;
      const b = i * U_STRIDE;
      if (i === d) {
        // the old data record becomes a plain link record
        const mode = u[b + U_MODE]!;
        const parent = u[b + U_PARENT]!;
        const nameOff = u[b + U_NAME]!;
        const nameLen = u[b + U_NAME_LEN]!;
        u.fill(0, b, b + U_STRIDE);
        u[b + U_MODE] = mode & ((7 << KIND_SHIFT) | PERM);
        u[b + U_INO] = u[h * U_STRIDE + U_INO]!;
        u[b + U_PARENT] = parent;
        u[b + U_NAME] = nameOff;
        u[b + U_NAME_LEN] = nameLen;
        this.f.fill(0, i * F_STRIDE, i * F_STRIDE + F_STRIDE);
        this.sino[i] = 0n;
      }
      u[b + U_A] = h;
    }
  }
}

function fillShared<T extends { set(a: ArrayLike<number>): void }>(ctor: { new (b: ArrayBufferLike): T; BYTES_PER_ELEMENT: number }, from: number[]): T {
  const t = alloc(ctor, from.length, true);
  t.set(from);
  return t;
}

/** buildTree's walk, writing records (see the top of this file). */
export class PackBuilder extends ScanBase<number> {
  protected readonly top = 0;
  readonly s = new PackStore();
  private readonly nowRef: number;

  constructor(spec: TreeSpec) {
    super(spec);
    const s = this.s;
    s.nextIno = 2;
    this.nowRef = s.timeRef(spec.now);
    const root = s.record(K_DIR);
    s.u[root * U_STRIDE + U_INO] = 1;
    this.setMeta(root, 0o755, this.spec.owner, spec.now, spec.now);
  }

  private ino(): number {
    return this.s.nextIno++;
  }

  /** meta(perm, owner, t, m) of the object scan: owner mapped, ctime now. */
  private setMeta(i: number, perm: number, o: { uid: number; gid: number }, t: Timespec, m: Timespec): void {
    const s = this.s;
    const b = i * U_STRIDE;
    const { uid, gid } = this.owner(o.uid, o.gid);
    s.u[b + U_MODE] = (s.u[b + U_MODE]! & ~PERM) | (perm & PERM);
    s.u[b + U_UID] = uid;
    s.u[b + U_GID] = gid;
    s.f[i * F_STRIDE + F_MSEC] = m.sec;
    s.u[b + U_MNSEC] = m.nsec;
    s.u[b + U_ATIME] = t.sec === m.sec && t.nsec === m.nsec ? SAME_AS_MTIME : s.timeRef(t);
    s.u[b + U_CTIME] = this.nowRef;
  }

  /** metaFrom(st, owner) of the object scan. */
  private setMetaFrom(i: number, st: HostStat, owner?: { uid: number; gid: number }): void {
    const s = this.s;
    const b = i * U_STRIDE;
    const o = this.owner(owner?.uid ?? st.uid, owner?.gid ?? st.gid);
    const m = st.mtime;
    s.u[b + U_MODE] = (s.u[b + U_MODE]! & ~PERM) | (st.mode & PERM);
    s.u[b + U_UID] = o.uid;
    s.u[b + U_GID] = o.gid;
    s.f[i * F_STRIDE + F_MSEC] = m.sec;
    s.u[b + U_MNSEC] = m.nsec;
    // host-stat.ts gives atime as the mtime object where they are equal
    s.u[b + U_ATIME] = st.atime === m ? SAME_AS_MTIME : s.timeRef(st.atime);
    s.u[b + U_CTIME] = this.nowRef;
  }

  private touch(dir: number): void {
    this.s.setMtime(dir, this.spec.now);
    this.s.u[dir * U_STRIDE + U_CTIME] = this.nowRef;
  }

  /** attach, marking the directory unsorted when it had children already */
  private put(dir: number, i: number, name: string): void {
    if (this.s.u[dir * U_STRIDE + U_COUNT]! > 0) this.s.unsorted.add(dir);
    this.s.attach(dir, i, name);
  }

  protected childOf(dir: number, name: string): number | undefined {
    const c = this.s.child(dir, name);
    return c < 0 ? undefined : c;
  }
  protected isDir(n: number): boolean {
    return this.s.kind(n) === K_DIR;
  }
  protected newDir(parent: number, name: string): number {
    const d = this.s.record(K_DIR);
    this.s.u[d * U_STRIDE + U_INO] = this.ino();
    this.setMeta(d, 0o755, this.spec.owner, this.spec.now, this.spec.now);
    this.put(parent, d, name);
    this.touch(parent);
    return d;
  }
  protected newSymlink(parent: number, name: string, target: string): void {
    const spec = this.spec;
    const i = this.s.record(K_SYMLINK);
    this.s.u[i * U_STRIDE + U_INO] = this.ino();
    this.s.u[i * U_STRIDE + U_A] = i;
    this.setMeta(i, 0o777, spec.owner, spec.now, spec.now);
    this.target(i, target);
    this.put(parent, i, name);
    this.touch(parent);
  }
  protected setRootFrom(src: string, st: HostStat): void {
    this.setMetaFrom(0, st, this.spec.owner);
    this.s.setHostExplicit(0, src);
  }
  protected markSubvolume(n: number, sv: { readOnly: boolean; nodatacow: boolean }, isDefault: boolean): void {
    const b = n * U_STRIDE;
    let mode = this.s.u[b + U_MODE]! & ~(SUBVOL | SV_RO | SV_NOCOW | SV_DEFAULT);
    mode |= SUBVOL;
    if (sv.readOnly) mode |= SV_RO;
    if (sv.nodatacow) mode |= SV_NOCOW;
    if (isDefault) mode |= SV_DEFAULT;
    this.s.u[b + U_MODE] = mode;
  }
  protected addArchives(): void {
    if ((this.spec.archives ?? []).length > 0) throw new Error('PackBuilder: CopyArchive= takes the object path');
  }

  protected copyDirectoryLine(line: CopyFilesLine, src: string, deny: Map<string, Deny>, tgtParts: string[], tgtNorm: string): void {
    if (deny.size === 0) this.spec.onWholeDirectory?.(src);
    const existing = this.lookupDir(tgtParts);
    if (existing !== undefined) {
      if (this.s.kind(existing) !== K_DIR) throw new FsError('E_SOURCE', `${tgtNorm}: CopyFiles= target exists and is not a directory`, line.where);
      this.mergeInto(existing, src, deny, new Map(), line.where);
      return;
    }
    const parent = this.mkdirP(tgtParts.slice(0, -1), line.where);
    const name = tgtParts[tgtParts.length - 1]!;
    const lst = lstatLine(src, line.where);
    const ph = this.s.hostOf(parent);
    if (this.s.u[parent * U_STRIDE + U_COUNT]! > 0) this.s.unsorted.add(parent);
    const node = this.copyEntry(parent, name, src, lst, deny, new Map(), line.where, ph !== undefined && derives(src, ph, name));
    if (node >= 0) this.touch(parent);
  }

  /** copyChildren into an existing directory, its atime and mtime kept */
  private mergeInto(dir: number, path: string, deny: Map<string, Deny>, links: Map<string, number>, where: ErrorWhere | undefined): void {
    const a = this.s.time(dir, U_ATIME);
    const m = this.s.mtime(dir);
    this.copyChildren(path, dir, deny, links, where);
    this.s.setMtime(dir, m);
    this.s.setTime(dir, U_ATIME, a);
  }

  protected copyFileLine(line: CopyFilesLine, src: string, st: HostStat, deny: Map<string, Deny>, tgtParts: string[], srcNorm: string, tgtNorm: string): void {
    if (line.target.endsWith('/') || tgtParts.length === 0) {
      throw new FsError('E_SOURCE', `${line.target}: CopyFiles= target refers to a directory but source ${srcNorm} is a file`, line.where);
    }
    if (this.ancestorDenied(src, deny)) return this.log(`${srcNorm}: excluded, skipping`);
    const parent = this.mkdirP(tgtParts.slice(0, -1), line.where);
    const name = tgtParts[tgtParts.length - 1]!;
    if (this.s.child(parent, name) >= 0) throw new FsError('E_SOURCE', `${tgtNorm}: CopyFiles= target already exists`, line.where);
    const i = this.s.record(K_FILE);
    this.s.u[i * U_STRIDE + U_INO] = this.ino();
    this.setMetaFrom(i, st, this.spec.owner);
    this.fileSource(i, st);
    this.put(parent, i, name);
    const ph = this.s.hostOf(parent);
    if (!(ph !== undefined && derives(src, ph, name))) this.s.setHostExplicit(i, src);
    else this.s.u[i * U_STRIDE + U_MODE]! |= HOST_DERIVED << HOST_SHIFT;
    this.touch(parent);
  }

  /** size, allocation and identity of a host file */
  private fileSource(i: number, st: HostStat): void {
    const s = this.s;
    const b = i * U_STRIDE;
    s.u[b + U_A] = i;
    s.f[i * F_STRIDE + F_SIZE] = st.size;
    s.f[i * F_STRIDE + F_ALLOC] = st.blocks * 512;
    s.sino[i] = st.ino;
    s.u[b + U_DEV] = s.devIndex(st.dev);
    s.u[b + U_MODE]! |= HAS_DEV | HAS_SINO | HAS_ALLOC;
  }

  private target(i: number, t: string): void {
    const b = i * U_STRIDE;
    this.s.u[b + U_AUX0] = this.s.heap.str(t);
    this.s.u[b + U_AUX1] = this.s.heap.len - this.s.u[b + U_AUX0]!;
  }

  /**
   * copyEntry of the object scan, attached to `parent` as `name` (before its children are
   * scanned: a directory's host path is found through its parent). -1: denied.
   */
  private copyEntry(parent: number, name: string, path: string, st: HostStat, deny: Map<string, Deny>, links: Map<string, number>, where: ErrorWhere | undefined, derived: boolean): number {
    const s = this.s;
    const shared = sharesInode(st);
    const k = deny.size > 0 || shared ? key(st) : '';
    const d = deny.size > 0 ? deny.get(k) : undefined;
    if (d === 'inode') return -1;
    const hostFlag = () => {
      if (derived) s.u[i * U_STRIDE + U_MODE]! |= HOST_DERIVED << HOST_SHIFT;
      else s.setHostExplicit(i, path);
    };
    let i: number;
    if (st.isDirectory()) {
      i = s.record(K_DIR);
      s.u[i * U_STRIDE + U_INO] = this.ino();
      this.setMetaFrom(i, st);
      s.attach(parent, i, name);
      hostFlag();
      // hostFlag() just made i's host path `path` (derived or explicit)
      if (d !== 'contents') this.copyChildren(path, i, deny, links, where, true);
      return i;
    }
    if (shared) {
      const prev = links.get(k);
      if (prev !== undefined) {
        i = s.record(s.kind(prev));
        const b = i * U_STRIDE;
        s.u[b + U_MODE]! |= s.u[prev * U_STRIDE + U_MODE]! & PERM;
        s.u[b + U_A] = prev;
        s.u[b + U_INO] = s.u[prev * U_STRIDE + U_INO]!;
        s.linked.add(prev);
        s.attach(parent, i, name);
        return i;
      }
    }
    if (st.isFile()) {
      i = s.record(K_FILE);
      s.u[i * U_STRIDE + U_INO] = this.ino();
      this.setMetaFrom(i, st);
      this.fileSource(i, st);
    } else if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = readlink(path);
      } catch (e) {
        throw new FsError('E_SOURCE', `${path}: cannot read symlink: ${(e as NodeJS.ErrnoException).code}`, where);
      }
      i = s.record(K_SYMLINK);
      s.u[i * U_STRIDE + U_INO] = this.ino();
      s.u[i * U_STRIDE + U_A] = i;
      this.setMetaFrom(i, st);
      this.target(i, target);
    } else {
      const kind = st.isFIFO() ? 3 : st.isSocket() ? 4 : st.isCharacterDevice() ? 5 : 6;
      i = s.record(kind);
      s.u[i * U_STRIDE + U_INO] = this.ino();
      s.u[i * U_STRIDE + U_A] = i;
      this.setMetaFrom(i, st);
      s.u[i * U_STRIDE + U_AUX0] = treeRdev(st.rdev);
    }
    s.attach(parent, i, name);
    hostFlag();
    if (shared) links.set(k, i);
    return i;
  }

  /** `hostIsPath`: dir's host path is known to be `path` (no need to build it to compare) */
  private copyChildren(path: string, dir: number, deny: Map<string, Deny>, links: Map<string, number>, where?: ErrorWhere, hostIsPath = false): void {
    const s = this.s;
    const { names, paths, stats } = this.listDir(path, where);
    // merging into a directory that has entries: those are looked up by name
    let existing: Map<string, number> | null = null;
    if (s.u[dir * U_STRIDE + U_COUNT]! > 0) {
      s.unsorted.add(dir);
      existing = new Map();
      for (const c of s.children(dir)) existing.set(s.name(c), c);
    } else if (names.some((n) => WIDE.test(n))) s.unsorted.add(dir);
    const derived = path !== '/' && (hostIsPath || s.hostOf(dir) === path);
    for (let k = 0; k < names.length; k++) {
      const st = stats[k];
      if (!st) continue;
      const name = names[k]!;
      const childHost = paths[k]!;
      const ex = existing?.get(name);
      if (ex !== undefined) {
        if (s.kind(ex) === K_DIR && st.isDirectory()) {
          const d = deny.get(key(st));
          if (d === 'inode') continue;
          if (d !== 'contents') this.mergeInto(ex, childHost, deny, links, where);
          continue;
        }
      }
      this.copyEntryReplacing(dir, name, childHost, st, deny, links, where, derived, ex);
    }
  }

  private copyEntryReplacing(dir: number, name: string, path: string, st: HostStat, deny: Map<string, Deny>, links: Map<string, number>, where: ErrorWhere | undefined, derived: boolean, old: number | undefined): number {
    if (old === undefined) return this.copyEntry(dir, name, path, st, deny, links, where, derived);
    // a replaced entry (Map.set over it in the object scan) goes only if the new one is not denied
    if (deny.size > 0 && deny.get(key(st)) === 'inode') return -1;
    this.s.detach(dir, old);
    return this.copyEntry(dir, name, path, st, deny, links, where, derived);
  }
}

/** The packed scan of `spec` (no CopyArchive=): records, not yet in their final order. */
export function scanPacked(spec: TreeSpec): PackStore {
  const b = new PackBuilder(spec);
  b.run();
  return b.s;
}
