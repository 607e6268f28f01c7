/**
 * Streaming dm-verity hash tree, byte-identical to libcryptsetup's VERITY_create() for sha256.
 *
 * libcryptsetup builds the tree level by level, re-reading each level from the hash device. The
 * result only depends on the digests, so here every level is built at once while the data streams
 * past: each level keeps one partly filled hash block; a full block is written out and its digest
 * goes up one level. Memory is a few blocks per level plus the write buffers, independent of the
 * data size, and the data is read exactly once, sequentially.
 *
 * A hash block holds `hashesPerBlock` digests and is zero padded (format 1 pads each digest to a
 * power of two, which for sha256's 32 bytes is no padding at all). Format 1 hashes salt ‖ block,
 * format 0 (Chrome OS) block ‖ salt.
 */
import { createHash, type Hash } from 'node:crypto';
import { SHA256_DIGEST_SIZE, type VerityLayout } from './geometry.js';

/** A run of whole hash blocks of one level, ready to be written at hash block `block`. */
export interface HashBlockRun {
  block: number;
  bytes: Uint8Array;
}

class Level {
  buf: Uint8Array;
  /** hash block index of buf[0] */
  bufBlock: number;
  /** digests in buf (all blocks before the last partial one are full) */
  digests = 0;
  emittedBlocks = 0;

  constructor(readonly firstBlock: number, readonly totalBlocks: number, readonly runBlocks: number, readonly hbs: number) {
    this.buf = new Uint8Array(Math.min(runBlocks, totalBlocks) * hbs);
    this.bufBlock = firstBlock;
  }
}

export class VerityTreeBuilder {
  private readonly base: Hash;
  private readonly levels: Level[];
  private readonly per: number;
  private root: Uint8Array | null = null;
  private dataBlocksSeen = 0;
  private readonly out: HashBlockRun[] = [];

  /**
   * @param runBytes how many bytes of one level to collect before handing them out for writing
   */
  constructor(readonly layout: VerityLayout, private readonly salt: Uint8Array, private readonly hashType: 0 | 1 = 1, runBytes = 1 << 20) {
    this.base = createHash('sha256');
    if (hashType === 1) this.base.update(salt);
    this.per = layout.hashesPerBlock;
    const runBlocks = Math.max(1, Math.floor(runBytes / layout.hashBlockSize));
    this.levels = layout.levels.map((l) => new Level(l.firstBlock, l.blocks, runBlocks, layout.hashBlockSize));
  }

  private digest(block: Uint8Array): Buffer {
    if (this.hashType === 1) return this.base.copy().update(block).digest();
    return createHash('sha256').update(block).update(this.salt).digest();
  }

  /** Feeds whole data blocks (a multiple of the data block size); returns hash blocks ready to write. */
  pushData(chunk: Uint8Array): HashBlockRun[] {
    const dbs = this.layout.dataBlockSize;
    if (chunk.length % dbs !== 0) throw new RangeError(`verity data chunk of ${chunk.length} bytes is not a multiple of ${dbs}`);
    const n = chunk.length / dbs;
    if (this.dataBlocksSeen + n > this.layout.dataBlocks) throw new RangeError('more verity data blocks than the layout was made for');
    for (let off = 0; off < chunk.length; off += dbs) this.put(0, this.digest(chunk.subarray(off, off + dbs)));
    this.dataBlocksSeen += n;
    return this.out.splice(0);
  }

  private put(level: number, d: Uint8Array): void {
    for (;;) {
      if (level === this.levels.length) {
        if (this.root) throw new Error('verity tree produced two roots');
        this.root = Uint8Array.from(d);
        return;
      }
      const L = this.levels[level]!;
      // hashesPerBlock × 32 is exactly the hash block size for every valid (power of two ≥ 512) size.
      L.buf.set(d, L.digests * SHA256_DIGEST_SIZE);
      L.digests++;
      if (L.digests % this.per !== 0) return;
      d = this.completeBlock(level);
      level++;
    }
  }

  /** The last block of the level's buffer is complete (full or final): hash it, flush the buffer if full. */
  private completeBlock(level: number): Buffer {
    const L = this.levels[level]!;
    const hbs = this.layout.hashBlockSize;
    const blocksInBuf = Math.ceil(L.digests / this.per);
    const blk = L.buf.subarray((blocksInBuf - 1) * hbs, blocksInBuf * hbs);
    const d = this.digest(blk);
    L.emittedBlocks++;
    if (blocksInBuf * hbs === L.buf.length || L.emittedBlocks === L.totalBlocks) {
      this.out.push({ block: L.bufBlock, bytes: L.buf.subarray(0, blocksInBuf * hbs) });
      L.bufBlock += blocksInBuf;
      L.digests = 0;
      const left = L.totalBlocks - L.emittedBlocks;
      L.buf = new Uint8Array(Math.min(L.buf.length / hbs, Math.max(left, 1)) * hbs);
    }
    return d;
  }

  /** Completes the partial blocks bottom up; returns the last hash blocks and the root hash. */
  finish(): { runs: HashBlockRun[]; rootHash: Uint8Array } {
    if (this.dataBlocksSeen !== this.layout.dataBlocks) throw new RangeError(`verity tree got ${this.dataBlocksSeen} of ${this.layout.dataBlocks} data blocks`);
    for (let i = 0; i < this.levels.length; i++) {
      const L = this.levels[i]!;
      if (L.digests % this.per !== 0) this.put(i + 1, this.completeBlock(i));
    }
    for (const L of this.levels) {
      if (L.emittedBlocks !== L.totalBlocks) throw new Error(`verity level at block ${L.firstBlock}: ${L.emittedBlocks} of ${L.totalBlocks} blocks`);
    }
    if (!this.root) throw new Error('verity tree has no root (no data blocks?)');
    return { runs: this.out.splice(0), rootHash: this.root };
  }
}
