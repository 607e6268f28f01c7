/**
 * Holes of a source file without SEEK_DATA/SEEK_HOLE (Node's lseek has no such whences, and no
 * native addon is allowed): st_blocks says how much of the file is allocated; a file with no
 * blocks is all hole and never read; a sparse one is scanned in large chunks for non-zero
 * blocks, and the scan stops as soon as the non-zero blocks found account for every allocated
 * block. Only on file systems whose st_blocks counts data blocks uncompressed (a compressing
 * file system would end the scan early and lose data), and only for files of at least 1 MiB
 * (small files may keep their data inline, without blocks).
 *
 * The scan reads through a second descriptor of the same open file with O_DIRECT where the file
 * system allows it: a hole then reads as the kernel zeroing our buffer (about 27 GB/s here),
 * not as page-cache pages allocated, zeroed and copied (about 2.6 GB/s), and a 100 GiB sparse
 * file does not push everything else out of the page cache. The zero check is then the cost.
 */
import * as fs from 'node:fs';

/** File systems whose st_blocks counts every data block, uncompressed (ext2/3/4, xfs, tmpfs). */
const BLOCKS_ARE_DATA = new Set([0xef53, 0x58465342, 0x01021994]);
/** Below this, a file is read as it is (inline data has no blocks at all). */
const SPARSE_MIN = 1 << 20;
const SCAN_CHUNK = 4 << 20;
/** O_DIRECT alignment of buffer address, offset and length: a page covers every logical block size */
const DIRECT_ALIGN = 4096;

const roundUp = (n: number, a: number): number => Math.ceil(n / a) * a;

/** The scan buffer, page-aligned (O_DIRECT reads of data, not only of holes, need that): a
 * WebAssembly memory is mapped whole pages; Buffer.alloc's memory is malloc's (16-byte aligned:
 * EINVAL). One per thread, shared by every HoleFinder: a scan step fills and inspects it
 * synchronously, and V8 reserves far more address space per WebAssembly memory than it maps. */
let scanBuffer: { buf: Buffer; zero: Buffer } | undefined;
function sharedScanBuffer(): { buf: Buffer; zero: Buffer } {
  scanBuffer ??= { buf: Buffer.from(new WebAssembly.Memory({ initial: SCAN_CHUNK / 65536 }).buffer, 0, SCAN_CHUNK), zero: Buffer.alloc(SCAN_CHUNK) };
  return scanBuffer;
}

/** `fd` opened again with O_DIRECT (through /proc/self/fd: the same open file, checked by
 * dev/ino), or null where that is not possible (no O_DIRECT, no /proc). */
function directTwin(fd: number): number | null {
  const O_DIRECT = fs.constants.O_DIRECT;
  if (!O_DIRECT) return null;
  let d: number;
  try {
    d = fs.openSync(`/proc/self/fd/${fd}`, fs.constants.O_RDONLY | O_DIRECT);
  } catch {
    return null;
  }
  const a = fs.fstatSync(fd);
  const b = fs.fstatSync(d);
  if (a.dev === b.dev && a.ino === b.ino) return d;
  fs.closeSync(d);
  return null;
}

export interface Allocation {
  /** bytes of allocated blocks (st_blocks * 512) */
  allocated: number;
  /** block size of the file system: a non-zero block of this size is an allocated one */
  block: number;
}

/** How a file's holes can be found, or null to treat it as data everywhere. */
export function allocationOf(fd: number, size: number): Allocation | null {
  if (size < SPARSE_MIN) return null;
  const st = fs.fstatSync(fd);
  const allocated = st.blocks * 512;
  if (allocated >= size) return null;
  let sf;
  try {
    // statfs of the open file itself, not of a path that may have changed
    sf = fs.statfsSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
  if (!BLOCKS_ARE_DATA.has(sf.type) || sf.bsize < 512 || sf.bsize > 65536) return null;
  return { allocated, block: sf.bsize };
}

/**
 * Finds data and holes by reading: non-zero blocks are data. `confirmed` counts the data blocks
 * seen below `scanned`; once it reaches the allocation, nothing past `scanned` can be data.
 */
export class HoleFinder {
  private scanned = 0;
  private confirmed = 0;
  /** data runs [start, end) found below `scanned`, in order */
  private readonly runs: [number, number][] = [];
  private readonly buf: Buffer;
  private readonly zero: Buffer;
  private readonly zeroChunk: Buffer;
  /** the O_DIRECT twin of `fd` the scan reads through, or null (buffered reads of `fd`) */
  private direct: number | null = null;

  /** `fd` stays the caller's; call close() when done (it closes the scan's own descriptor). */
  constructor(private readonly fd: number, private readonly size: number, private readonly a: Allocation, private readonly onShort: (pos: number) => never) {
    const shared = a.allocated === 0 ? { buf: Buffer.alloc(0), zero: Buffer.alloc(0) } : sharedScanBuffer();
    this.buf = shared.buf;
    this.zero = Buffer.alloc(a.block);
    this.zeroChunk = shared.zero;
    if (a.allocated > 0) this.direct = directTwin(fd);
  }

  close(): void {
    if (this.direct !== null) fs.closeSync(this.direct);
    this.direct = null;
  }

  /** bytes at `pos` into buf[0, want), all of them (`onShort` at the end of the file) */
  private readChunk(pos: number, want: number): void {
    let got = 0;
    if (this.direct !== null) {
      try {
        // whole 4 KiB units (O_DIRECT wants aligned lengths): the kernel stops at the end of file
        got = Math.min(want, fs.readSync(this.direct, this.buf, 0, roundUp(want, DIRECT_ALIGN), pos));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
        this.close(); // an alignment this file system insists on: buffered reads from now on
      }
    }
    // the rest (a short direct read), or all of it without O_DIRECT
    while (got < want) {
      const n = fs.readSync(this.fd, this.buf, got, want - got, pos + got);
      if (n === 0) this.onShort(pos + got);
      got += n;
    }
  }

  private get exhausted(): boolean {
    return this.confirmed >= this.a.allocated;
  }

  /** scan one more chunk; false when there is nothing left to learn */
  private step(): boolean {
    if (this.scanned >= this.size || this.exhausted) return false;
    const want = Math.min(SCAN_CHUNK, this.size - this.scanned);
    this.readChunk(this.scanned, want);
    // one compare for a chunk of hole, block by block only where there is data
    if (this.buf.compare(this.zeroChunk, 0, want, 0, want) === 0) {
      this.scanned += want;
      return true;
    }
    for (let off = 0; off < want; off += this.a.block) {
      const end = Math.min(want, off + this.a.block);
      if (this.buf.compare(this.zero, 0, end - off, off, end) === 0) continue;
      const s = this.scanned + off;
      const last = this.runs[this.runs.length - 1];
      if (last && last[1] === s) last[1] = this.scanned + end;
      else this.runs.push([s, this.scanned + end]);
      this.confirmed += end - off;
    }
    this.scanned += want;
    return true;
  }

  /** the first run ending after pos (binary search: a fragmented file has many runs) */
  private runAfter(pos: number): [number, number] | undefined {
    let lo = 0;
    let hi = this.runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.runs[mid]![1] > pos) hi = mid;
      else lo = mid + 1;
    }
    return this.runs[lo];
  }

  /** lseek(SEEK_DATA): the first data offset >= pos, or -1 (ENXIO). */
  seekData(pos: number): number {
    for (;;) {
      const r = this.runAfter(pos);
      if (r) return Math.max(r[0], pos);
      if (!this.step()) return -1;
    }
  }

  /** lseek(SEEK_HOLE): the first hole offset >= pos (the end of file at worst). */
  seekHole(pos: number): number {
    for (;;) {
      const r = this.runAfter(pos);
      if (r && r[0] > pos) return pos;
      if (r && (r[1] < this.scanned || this.exhausted)) return Math.min(r[1], this.size);
      if (!r && (pos < this.scanned || this.exhausted)) return pos;
      if (!this.step()) return r ? Math.min(r[1], this.size) : pos;
    }
  }

  /** true when [pos, pos+len) is known to be a hole (reads can be answered without I/O) */
  isHole(pos: number, len: number): boolean {
    if (!this.exhausted && pos + len > this.scanned) return false;
    const r = this.runAfter(pos);
    return !r || r[0] >= pos + len;
  }
}

