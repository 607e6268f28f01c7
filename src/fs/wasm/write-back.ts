/**
 * The partition window's write-back buffer (device.ts): what a tool writes is held here and
 * reaches the image file in position order, in as few writes as the positions allow, when the
 * buffer is full, when the tool reads bytes it holds only in part, and before anything else
 * touches the file (zeroing, sync, close).
 *
 * Why: mke2fs writes one 4 KiB block per call, in the order unix_io's eight-block cache evicts
 * them: file data interleaved with inode table, extent and directory blocks. Gathering only
 * contiguous writes made 5,546 writes of 45 KB on average out of debian-usr's 61,635; and mke2fs
 * reads back 2,928 blocks it wrote, most of them a few MiB of writes later. Held 4 MiB at a time
 * and sorted, the same bytes go out in ~430 writes, and ~2,500 of those reads are answered from
 * here (bench/results/issue-18.md).
 *
 * Held runs never share a byte: a write over held bytes either replaces whole held blocks in place
 * or flushes everything first. So the order in which runs are written cannot change what the file
 * holds, and a read is answered from here only when every block it touches is held whole.
 */

export const BLOCK = 4096;

/** writes a group of views, contiguous in the file from `pos` */
export type WriteOut = (views: Uint8Array[], pos: number) => void;

/** what a read found here: all of it (copied), none of it, or part of it (flush, then read the file) */
export const enum Held {
  All,
  None,
  Part,
}

interface Run {
  /** position in the window */
  pos: number;
  len: number;
  /** offset in the buffer */
  at: number;
}

/**
 * bytes in one write at most: on the bench machine's kernel (6.18, ext4 with large folios), a
 * few 4 MiB writes of a fresh image took ~8x as long as the same bytes in 1 MiB writes, and
 * brought the CPU time up by a quarter of a second; 128 KiB to 1 MiB are alike
 */
export const MAX_WRITE = 1024 * 1024;

/** runs held at most (each costs a sort entry and an iovec): a tool writing tiny scattered pieces flushes this often */
const MAX_RUNS = 4096;

/** in the block index: held in part (an unaligned write); a block held whole maps to its offset in the buffer */
const PART = -1;
const ABSENT = -2;

/**
 * The held blocks, by block number: open addressing over typed arrays, emptied in O(1) by a
 * generation stamp. A Map cost more per 4 KiB write (~0.5 µs) than the writes it saved.
 */
class BlockIndex {
  private readonly keys: Float64Array;
  private readonly vals: Int32Array;
  private readonly stamps: Uint32Array;
  private readonly mask: number;
  /** multiplicative hashing: the product's top bits pick the slot */
  private readonly shift: number;
  private gen = 1;
  size = 0;

  constructor(slots: number) {
    this.keys = new Float64Array(slots);
    this.vals = new Int32Array(slots);
    this.stamps = new Uint32Array(slots);
    this.mask = slots - 1;
    this.shift = 32 - Math.log2(slots);
  }

  private slot(b: number): number {
    let i = Math.imul(b | 0, 0x9e3779b1) >>> this.shift;
    while (this.stamps[i] === this.gen && this.keys[i] !== b) i = (i + 1) & this.mask;
    return i;
  }

  get(b: number): number {
    const i = this.slot(b);
    return this.stamps[i] === this.gen ? this.vals[i]! : ABSENT;
  }

  set(b: number, v: number): void {
    const i = this.slot(b);
    if (this.stamps[i] !== this.gen) {
      this.stamps[i] = this.gen;
      this.keys[i] = b;
      this.size++;
    }
    this.vals[i] = v;
  }

  clear(): void {
    this.size = 0;
    if (++this.gen === 0xffffffff) {
      this.stamps.fill(0);
      this.gen = 1;
    }
  }
}

export class WriteBack {
  private buf: Buffer | null = null;
  private used = 0;
  private runs: Run[] = [];
  private readonly index: BlockIndex;
  /** blocks the index holds at most (half its slots: probes stay short) */
  private readonly maxBlocks: number;

  constructor(readonly capacity: number, private readonly out: WriteOut) {
    // whole blocks fill the buffer; unaligned runs add a part block or two each
    let slots = 1024;
    while (slots < 2 * (capacity / BLOCK + 2 * MAX_RUNS)) slots *= 2;
    this.index = new BlockIndex(slots);
    this.maxBlocks = slots / 2;
  }

  get empty(): boolean {
    return this.runs.length === 0;
  }

  /**
   * Holds a write of `n` bytes at `pos`; false when it is larger than the buffer (everything held
   * is flushed then, and the caller writes it to the file itself).
   */
  write(src: Uint8Array, off: number, n: number, pos: number): boolean {
    if (n > this.capacity) {
      this.flush();
      return false;
    }
    const b0 = Math.floor(pos / BLOCK);
    const b1 = Math.floor((pos + n - 1) / BLOCK);
    if (this.runs.length > 0) {
      const held = this.heldBlocks(b0, b1);
      if (held > 0) {
        if (held === b1 - b0 + 1 && pos % BLOCK === 0 && n % BLOCK === 0) {
          // the tool rewrites blocks it wrote a moment ago (unix_io evicted them twice): in place
          for (let b = b0; b <= b1; b++) this.buf!.set(src.subarray(off + (b - b0) * BLOCK, off + (b - b0 + 1) * BLOCK), this.index.get(b));
          return true;
        }
        this.flush();
      } else if (held < 0 && this.overlaps(pos, n)) this.flush();
    }
    if (this.used + n > this.capacity || this.runs.length >= MAX_RUNS || this.index.size + (b1 - b0 + 1) > this.maxBlocks) this.flush();
    this.buf ??= Buffer.allocUnsafe(this.capacity);
    this.buf.set(src.subarray(off, off + n), this.used);
    // a run is contiguous in the buffer too: the last one ends where the buffer's used part does
    const last = this.runs[this.runs.length - 1];
    let run: Run;
    if (last && last.pos + last.len === pos) {
      last.len += n;
      run = last;
    } else {
      run = { pos, len: n, at: this.used };
      this.runs.push(run);
    }
    this.used += n;
    for (let b = b0; b <= b1; b++) {
      if (run.pos <= b * BLOCK && (b + 1) * BLOCK <= run.pos + run.len) this.index.set(b, run.at + b * BLOCK - run.pos);
      else this.index.set(b, PART);
    }
    return true;
  }

  /** Copies [pos, pos+n) into `dst` if every block of it is held whole. */
  read(dst: Uint8Array, off: number, n: number, pos: number): Held {
    if (this.runs.length === 0) return Held.None;
    const b0 = Math.floor(pos / BLOCK);
    const b1 = Math.floor((pos + n - 1) / BLOCK);
    const held = this.heldBlocks(b0, b1);
    if (held === 0) return Held.None;
    if (held !== b1 - b0 + 1) return Held.Part;
    for (let b = b0; b <= b1; b++) {
      const from = Math.max(pos, b * BLOCK);
      const to = Math.min(pos + n, (b + 1) * BLOCK);
      const at = this.index.get(b) + (from - b * BLOCK);
      dst.set(this.buf!.subarray(at, at + (to - from)), off + (from - pos));
    }
    return Held.All;
  }

  /** Writes everything held, in position order: runs that meet in the file as one write (up to MAX_WRITE). */
  flush(): void {
    const runs = this.runs;
    if (runs.length === 0) return;
    // cleared first: after a failed write nothing is left to be written again later
    this.runs = [];
    this.used = 0;
    this.index.clear();
    runs.sort((a, b) => a.pos - b.pos);
    const buf = this.buf!;
    let views: Uint8Array[] = [];
    let pos = 0;
    let end = -1;
    let size = 0;
    const out = () => {
      if (views.length) this.out(views, pos);
      views = [];
      size = 0;
    };
    for (const r of runs) {
      if (r.pos !== end) out();
      for (let done = 0; done < r.len;) {
        if (size === 0) pos = r.pos + done;
        const n = Math.min(r.len - done, MAX_WRITE - size);
        views.push(buf.subarray(r.at + done, r.at + done + n));
        size += n;
        done += n;
        if (size === MAX_WRITE) out();
      }
      end = r.pos + r.len;
    }
    out();
  }

  /**
   * 0: none of blocks b0..b1 is held; -1: some are held in part, none whole (a write may still
   * not share a byte with them); else some are held, and all of them whole exactly when the
   * result is the number of blocks.
   */
  private heldBlocks(b0: number, b1: number): number {
    let whole = 0;
    let part = false;
    for (let b = b0; b <= b1; b++) {
      const v = this.index.get(b);
      if (v >= 0) whole++;
      else if (v === PART) part = true;
    }
    if (whole === 0) return part ? -1 : 0;
    return part ? b1 - b0 + 2 : whole;
  }

  /** whether a held run shares a byte with [pos, pos+n) (only asked when a block of it is held in part) */
  private overlaps(pos: number, n: number): boolean {
    for (const r of this.runs) if (r.pos < pos + n && pos < r.pos + r.len) return true;
    return false;
  }
}
