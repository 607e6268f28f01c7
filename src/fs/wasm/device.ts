/**
 * The partition window [offset, offset+size) of the image file, presented to a tool as a
 * regular file of `size` bytes. Reads and writes are translated and clipped; nothing outside
 * the window is ever read or written. fallocate(PUNCH_HOLE/ZERO_RANGE) is honoured by making
 * the range read as zeros, which is what mke2fs relies on after a successful discard.
 *
 * Keeping the image sparse: the tools zero large areas (journal, discard, btrfs' first and
 * last MiBs, sparse source files in --rootdir). When the caller says the window is still all
 * zeros (a freshly created image), writes of zeros to never-written areas are dropped and
 * zeroing such areas is free. A bitmap of written 64 KiB chunks keeps that exact.
 *
 * Fewer, larger writes: what a tool writes is held in a write-back buffer and reaches the file
 * in position order; reads of blocks it holds are answered from it (write-back.ts).
 *
 * As an empty file: the window can also stand for the empty temporary file systemd-repart
 * hands a tool that sizes its output itself (mkfs.btrfs --rootdir --shrink). It then starts
 * at 0 bytes, grows with writes (and fallocate) up to the window, reads end at its size, and a
 * truncate discards what lies beyond, as on a file.
 *
 * Room past the window: a tool that sizes its own output may write a little past the size it
 * finally truncates it to (mkfs.erofs 1.9.4: one block). Into repart's temporary file that is
 * harmless; here such writes (up to `tailRoom` bytes past the window) are held in memory, never
 * in the image, and are dropped by the truncate. Output that still ends past the window is
 * "does not fit" (DeviceStats.end tells by how much).
 */
import * as fs from 'node:fs';
import type { PartitionWindow } from '../driver.js';
import { addPhase, now } from './phases.js';
import {
  FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, S_IFREG,
  type EmStat, type EmStream, type StreamHandler,
} from './emscripten.js';
import type { Fail } from './vtree.js';
import { BLOCK, Held, MAX_WRITE, WriteBack } from './write-back.js';

const CHUNK = 64 * 1024;
const ZERO_IO = 1024 * 1024;
const ZEROS = Buffer.alloc(ZERO_IO);
/**
 * the write-back buffer (write-back.ts): small enough to stay in the CPU's cache between the
 * tool's copy into it and the kernel's copy out of it. distro-usr-lib, 8 alternating runs in a
 * slow phase of the bench machine: 11.6 s with the old 1 MiB gather, 9.8 s with 512 KiB, 10.6 s
 * with 1 MiB, 4 MiB slower still; in a fast phase all within noise (8.4-8.8 s).
 */
const WRITE_BACK = 512 * 1024;
/** windows up to this size get the per-block map (2 MiB of bits at most) */
const MAX_BLOCK_MAP = 64 * 1024 * 1024 * 1024;

function isZero(buf: Uint8Array, off: number, len: number): boolean {
  let p = off;
  const end = off + len;
  while (p < end) {
    const n = Math.min(ZERO_IO, end - p);
    if (Buffer.compare(Buffer.from(buf.buffer, buf.byteOffset + p, n), ZEROS.subarray(0, n)) !== 0) return false;
    p += n;
  }
  return true;
}

export interface DeviceStats {
  writes: number;
  bytesWritten: number;
  zeroWritesSkipped: number;
  reads: number;
  /** the largest size the tool tried to grow the device to (0: it never tried). */
  overflow: number;
  /**
   * With allocation tracking (Minimize= for xfs): the bytes a regular file would hold as data
   * after this run, in 4 KiB blocks: every block written (zeros too) that no later punch or
   * zero-range covered wholly (both leave holes, or unwritten extents that SEEK_DATA skips).
   * This is what systemd-repart's fd_apparent_size() measures on its temporary file.
   */
  allocated?: number;
  /**
   * The device's size as the tool left it, as for a file it created: the end of its furthest
   * write, or the length it last truncated to (mkfs.erofs, mksquashfs size their output this
   * way; the read-only file system drivers report it as the space used).
   */
  end: number;
}

export class WindowDevice {
  readonly stats: DeviceStats = { writes: 0, bytesWritten: 0, zeroWritesSkipped: 0, reads: 0, overflow: 0, end: 0 };
  /** chunks that may hold non-zero bytes (only tracked when the window started zeroed). */
  private readonly dirty: Uint8Array | null;
  /**
   * The same per 4 KiB block, one bit each (windows up to MAX_BLOCK_MAP): a read of blocks
   * never written in a written chunk is answered with zeros too (mke2fs reads every inode
   * table block once before its first inode goes in, mostly next to blocks it wrote).
   */
  private readonly dirtyBlocks: Uint8Array | null;
  private nfd = -1;
  private opens = 0;
  /** the file's size, in empty-file mode (else the window's size is the device's). */
  private fileSize = 0;
  private readonly held = new WriteBack(WRITE_BACK, (views, pos) => this.writeOut(views, pos));
  /** 4 KiB blocks holding data, when tracking allocation (see DeviceStats.allocated). */
  private readonly dataBlocks: Set<number> | null;
  /** what was written past the window (tailRoom > 0), in memory */
  private tail: Buffer | null = null;

  constructor(
    readonly window: PartitionWindow,
    private readonly fail: Fail,
    /** the caller guarantees the window reads as zeros before the tool runs. */
    zeroed: boolean,
    /** present the window as an empty regular file that may grow up to the window (needs zeroed). */
    private readonly asEmptyFile = false,
    trackAllocation = false,
    /** bytes past the window a tool may write and then truncate away (see the header) */
    private readonly tailRoom = 0,
  ) {
    this.dirty = zeroed ? new Uint8Array(Math.ceil(window.size / CHUNK)) : null;
    this.dirtyBlocks = zeroed && window.size <= MAX_BLOCK_MAP ? new Uint8Array(Math.ceil(window.size / BLOCK / 8)) : null;
    this.dataBlocks = trackAllocation ? new Set() : null;
    if (trackAllocation) this.stats.allocated = 0;
  }

  private track(pos: number, len: number, data: boolean): void {
    const set = this.dataBlocks;
    if (!set || len <= 0) return;
    // a write allocates every block it touches; a punch frees only the blocks it covers wholly
    const first = data ? Math.floor(pos / 4096) : Math.ceil(pos / 4096);
    const last = data ? Math.floor((pos + len - 1) / 4096) : Math.floor((pos + len) / 4096) - 1;
    for (let b = first; b <= last; b++) data ? set.add(b) : set.delete(b);
    this.stats.allocated = set.size * 4096;
  }

  /** the device's size as the tool sees it. */
  get size(): number {
    if (this.asEmptyFile) return this.fileSize;
    // written past the window: the file is that long until truncated (a tool checks its size)
    return this.tail ? Math.max(this.window.size, this.stats.end) : this.window.size;
  }

  stat(): EmStat {
    const st = fs.statSync(this.window.path);
    return {
      dev: Number(st.dev), ino: Number(st.ino), mode: S_IFREG | 0o644, nlink: 1, uid: st.uid, gid: st.gid, rdev: 0,
      size: this.size, blocks: Math.ceil(this.size / 512), atime: st.atime, mtime: st.mtime, ctime: st.ctime,
    };
  }

  open(): StreamHandler {
    if (this.opens++ === 0) this.nfd = fs.openSync(this.window.path, fs.constants.O_RDWR);
    let closed = false;
    return {
      read: (_s: EmStream, buf: Uint8Array, off: number, len: number, pos: number) => this.read(buf, off, len, pos),
      write: (_s: EmStream, buf: Uint8Array, off: number, len: number, pos: number) => this.write(buf, off, len, pos),
      size: () => this.size,
      close: () => {
        if (closed) return;
        closed = true;
        if (--this.opens === 0) {
          try {
            this.flush();
          } finally {
            fs.closeSync(this.nfd);
            this.nfd = -1;
          }
        }
      },
      truncate: (_s: EmStream, len: number) => this.truncate(len),
      allocate: (_s: EmStream, off: number, len: number, mode: number) => this.allocate(off, len, mode),
      sync: () => this.flush(),
    };
  }

  /** truncate on a window: it cannot move. Growing it is "does not fit"; shrinking leaves the
   * bytes alone (only the recorded end moves), except for an empty-file window, where what
   * lies beyond the new size is discarded (reads as zeros), as a file's tail is. */
  truncate(len: number): void {
    if (this.tailRoom > 0 && len <= this.window.size + this.tailRoom) {
      if (len > this.window.size) {
        this.tail?.fill(0, len - this.window.size);
        this.stats.end = len;
        return;
      }
      this.tail = null;
    }
    if (len > this.window.size) {
      this.stats.overflow = Math.max(this.stats.overflow, len);
      throw this.fail('ENOSPC');
    }
    if (this.asEmptyFile) {
      if (len < this.fileSize) this.zeroRange(len, this.fileSize - len);
      this.fileSize = len;
    }
    this.stats.end = len;
  }

  read(buf: Uint8Array, off: number, len: number, pos: number): number {
    if (this.tail && pos + len > this.window.size && pos < this.stats.end) return this.readPastWindow(buf, off, len, pos);
    const n = Math.max(0, Math.min(len, this.size - pos));
    if (n === 0) return 0;
    // never written in a window that started zeroed: zeros, without asking the file (mke2fs
    // reads each inode table block before its first inode goes in)
    if (this.dirty && (this.allClean(pos, n) || this.blocksClean(pos, n))) {
      buf.fill(0, off, off + n);
      return n;
    }
    const h = this.held.read(buf, off, n, pos);
    if (h === Held.All) return n;
    if (h === Held.Part) this.flush();
    this.stats.reads++;
    let done = 0;
    while (done < n) {
      const got = fs.readSync(this.nfd, buf, off + done, n - done, this.window.offset + pos + done);
      if (got === 0) {
        // past the end of the (sparse, not yet extended) image file: the window reads as zeros
        buf.fill(0, off + done, off + n);
        break;
      }
      done += got;
    }
    return n;
  }

  write(buf: Uint8Array, off: number, len: number, pos: number): number {
    if (len === 0) return 0;
    if (this.tailRoom > 0 && pos + len > this.window.size && pos + len <= this.window.size + this.tailRoom) return this.writePastWindow(buf, off, len, pos);
    if (pos >= this.window.size) {
      this.stats.overflow = Math.max(this.stats.overflow, pos + len);
      throw this.fail('ENOSPC');
    }
    const n = Math.min(len, this.window.size - pos);
    this.track(pos, n, true);
    this.stats.end = Math.max(this.stats.end, pos + n);
    if (this.asEmptyFile) this.fileSize = Math.max(this.fileSize, pos + n);
    if (this.dirty && n >= 4096 && this.allClean(pos, n) && isZero(buf, off, n)) {
      this.stats.zeroWritesSkipped++;
      return n;
    }
    this.markDirty(pos, n);
    this.stats.bytesWritten += n;
    if (this.held.write(buf, off, n, pos)) return n;
    // larger than the write-back buffer (which is empty now): straight to the file, in writes
    // of the size the buffer's are (MAX_WRITE: larger ones were slow on the bench machine)
    for (let k = 0; k < n; k += MAX_WRITE) this.writeOut([buf.subarray(off + k, off + Math.min(n, k + MAX_WRITE))], pos + k);
    return n;
  }

  /** A write reaching past the window, within tailRoom: the part inside goes to the image, the rest to memory. */
  private writePastWindow(buf: Uint8Array, off: number, len: number, pos: number): number {
    const inside = Math.max(0, this.window.size - pos);
    if (inside > 0) this.write(buf, off, inside, pos);
    this.tail ??= Buffer.alloc(this.tailRoom);
    const from = Math.max(pos, this.window.size);
    this.tail.set(buf.subarray(off + (from - pos), off + len), from - this.window.size);
    this.stats.end = Math.max(this.stats.end, pos + len);
    return len;
  }

  /** A read reaching past the window, up to the output's end: the part past it from memory. */
  private readPastWindow(buf: Uint8Array, off: number, len: number, pos: number): number {
    const end = Math.min(pos + len, this.stats.end);
    const inside = Math.max(0, Math.min(end, this.window.size) - pos);
    if (inside > 0) this.read(buf, off, inside, pos);
    const from = Math.max(pos, this.window.size);
    if (end > from) buf.set(this.tail!.subarray(from - this.window.size, end - this.window.size), off + (from - pos));
    return Math.max(0, end - pos);
  }

  /** Writes what the write-back buffer holds to the file. */
  flush(): void {
    this.held.flush();
  }

  /** One write of views contiguous in the window from `pos`. */
  private writeOut(views: Uint8Array[], pos: number): void {
    this.stats.writes++;
    const t0 = now();
    let total = 0;
    for (const v of views) total += v.length;
    let done = fs.writevSync(this.nfd, views, this.window.offset + pos);
    // libuv writes all of them unless the file system stops short: the rest one view at a time
    for (let i = 0, at = 0; done < total && i < views.length; at += views[i]!.length, i++) {
      const v = views[i]!;
      while (done < at + v.length) done += fs.writeSync(this.nfd, v, done - at, at + v.length - done, this.window.offset + pos + done);
    }
    addPhase('imageWrite', t0);
  }

  allocate(off: number, len: number, mode: number): void {
    if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
      if (mode & ~(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)) throw this.fail('EOPNOTSUPP');
      if (off < 0 || len <= 0) throw this.fail('EINVAL');
      const end = Math.min(off + len, this.window.size);
      if (off < end) this.zeroRange(off, end - off);
      this.track(off, end - off, false);
      if (this.asEmptyFile && !(mode & FALLOC_FL_KEEP_SIZE)) this.grow(off + len);
      return;
    }
    if (mode !== 0) throw this.fail('EOPNOTSUPP');
    if (off + len > this.window.size) {
      this.stats.overflow = Math.max(this.stats.overflow, off + len);
      throw this.fail('ENOSPC');
    }
    if (this.asEmptyFile) this.grow(off + len);
  }

  private grow(len: number): void {
    if (len > this.window.size) {
      this.stats.overflow = Math.max(this.stats.overflow, len);
      throw this.fail('ENOSPC');
    }
    this.fileSize = Math.max(this.fileSize, len);
    this.stats.end = Math.max(this.stats.end, len);
  }

  /** Make [pos, pos+len) read as zeros, writing only where something non-zero may be. */
  private zeroRange(pos: number, len: number): void {
    this.flush();
    const scratch = Buffer.allocUnsafe(ZERO_IO);
    let p = pos;
    const end = pos + len;
    while (p < end) {
      const n = Math.min(ZERO_IO - (p % ZERO_IO), end - p);
      if (this.dirty && this.allClean(p, n)) {
        p += n;
        continue;
      }
      const got = this.read(scratch, 0, n, p);
      if (!isZero(scratch, 0, got)) {
        let done = 0;
        while (done < n) done += fs.writeSync(this.nfd, ZEROS, 0, n - done, this.window.offset + p + done);
        this.stats.writes++;
        this.stats.bytesWritten += n;
      }
      this.markClean(p, n);
      p += n;
    }
  }

  private allClean(pos: number, len: number): boolean {
    const d = this.dirty!;
    for (let c = Math.floor(pos / CHUNK), last = Math.floor((pos + len - 1) / CHUNK); c <= last; c++) if (d[c]) return false;
    return true;
  }

  private markDirty(pos: number, len: number): void {
    const d = this.dirty;
    if (!d) return;
    for (let c = Math.floor(pos / CHUNK), last = Math.floor((pos + len - 1) / CHUNK); c <= last; c++) d[c] = 1;
    if (this.dirtyBlocks) setBits(this.dirtyBlocks, Math.floor(pos / BLOCK), Math.floor((pos + len - 1) / BLOCK), true);
  }

  /** only chunks wholly inside the range become clean again. */
  private markClean(pos: number, len: number): void {
    const d = this.dirty;
    if (!d) return;
    for (let c = Math.ceil(pos / CHUNK), last = Math.floor((pos + len) / CHUNK) - 1; c <= last; c++) d[c] = 0;
    if (this.dirtyBlocks) setBits(this.dirtyBlocks, Math.ceil(pos / BLOCK), Math.floor((pos + len) / BLOCK) - 1, false);
  }

  /** no block of the range was written (per-block map; false without one) */
  private blocksClean(pos: number, len: number): boolean {
    const b = this.dirtyBlocks;
    if (!b) return false;
    for (let k = Math.floor(pos / BLOCK), last = Math.floor((pos + len - 1) / BLOCK); k <= last; k++) if (b[k >>> 3]! & (1 << (k & 7))) return false;
    return true;
  }
}

/** Bits first..last (inclusive) of a bit map set or cleared; whole bytes at once in between. */
function setBits(map: Uint8Array, first: number, last: number, on: boolean): void {
  let k = first;
  for (; k <= last && (k & 7) !== 0; k++) map[k >>> 3] = on ? map[k >>> 3]! | (1 << (k & 7)) : map[k >>> 3]! & ~(1 << (k & 7));
  if (last - k >= 8) {
    const end = (last + 1) & ~7;
    map.fill(on ? 0xff : 0, k >>> 3, end >>> 3);
    k = end;
  }
  for (; k <= last; k++) map[k >>> 3] = on ? map[k >>> 3]! | (1 << (k & 7)) : map[k >>> 3]! & ~(1 << (k & 7));
}
