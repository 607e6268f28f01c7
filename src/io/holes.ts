/**
 * Holes of a source file without SEEK_DATA/SEEK_HOLE (Node's lseek has no such whences, and no
 * native addon is allowed): st_blocks says how much of the file is allocated; a file with no
 * blocks is all hole and never read; a sparse one is scanned in large chunks for non-zero
 * blocks, and the scan stops as soon as the non-zero blocks found account for every allocated
 * block. Only on file systems whose st_blocks counts data blocks uncompressed (a compressing
 * file system would end the scan early and lose data), and only for files of at least 1 MiB
 * (small files may keep their data inline, without blocks).
 */
import * as fs from 'node:fs';

/** File systems whose st_blocks counts every data block, uncompressed (ext2/3/4, xfs, tmpfs). */
const BLOCKS_ARE_DATA = new Set([0xef53, 0x58465342, 0x01021994]);
/** Below this, a file is read as it is (inline data has no blocks at all). */
const SPARSE_MIN = 1 << 20;
const SCAN_CHUNK = 4 << 20;

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

  constructor(private readonly fd: number, private readonly size: number, private readonly a: Allocation, private readonly onShort: (pos: number) => never) {
    this.buf = Buffer.alloc(a.allocated === 0 ? 0 : SCAN_CHUNK);
    this.zero = Buffer.alloc(a.block);
    this.zeroChunk = Buffer.alloc(this.buf.length);
  }

  private get exhausted(): boolean {
    return this.confirmed >= this.a.allocated;
  }

  /** scan one more chunk; false when there is nothing left to learn */
  private step(): boolean {
    if (this.scanned >= this.size || this.exhausted) return false;
    const want = Math.min(SCAN_CHUNK, this.size - this.scanned);
    let got = 0;
    while (got < want) {
      const n = fs.readSync(this.fd, this.buf, got, want - got, this.scanned + got);
      if (n === 0) this.onShort(this.scanned + got);
      got += n;
    }
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

