/**
 * Which blocks of a file a tool really writes. mke2fs -d (create_inode.c, copy_file_chunk) skips
 * every block that reads as zeros — holes of a sparse file and zero blocks alike — so a sparse
 * file takes its data blocks, not its apparent size, and every run of data is its own extent.
 *
 * Finding the zero blocks means reading the file. Only files that may have holes are read: host
 * files the host allocates fewer bytes for than their size (st_blocks, recorded by the tree
 * builder as `allocated`) and in-memory sources (no I/O). Other files count as all data: a
 * fully allocated file whose blocks happen to be zero is counted in full (a conservative size).
 * The holes of a host file are skipped as mke2fs skips them (src/io/holes.ts finds them as our
 * host answers its SEEK_DATA/SEEK_HOLE); only the data runs are read block by block.
 */
import { closeSync, lstatSync, readSync } from 'node:fs';
import { openScanned, scanIdOf } from '../../io/open-verified.js';
import { allocationOf, HoleFinder } from '../../io/holes.js';
import type { FileNode } from '../../tree/model.js';

export interface FileData {
  /** blocks holding at least one non-zero byte (the last, partial block included). */
  blocks: number;
  /** maximal runs of such blocks, each split every `maxRun` blocks (one extent per piece). */
  extents: number;
}

const CHUNK = 1 << 20;

/** All blocks are data: what a fully allocated file takes. */
export function denseData(size: number, blockSize: number, maxRun: number): FileData {
  const blocks = Math.ceil(size / blockSize);
  return { blocks, extents: Math.ceil(blocks / maxRun) };
}

/** Whether `fileData` would read this file (it may have holes). */
export function mayHaveHoles(node: FileNode): boolean {
  if (node.size === 0) return false;
  if (node.source.kind === 'bytes') return true;
  if (node.source.kind === 'archive') return false; // tar members are stored whole (GNU sparse members are refused)
  let allocated = node.allocated;
  if (allocated === undefined) {
    try {
      allocated = lstatSync(node.source.path).blocks * 512;
    } catch {
      return false; // the tool reports the missing source; size it as dense
    }
  }
  return allocated < node.size;
}

/** Counts data blocks and runs in a byte stream delivered in chunks (multiples of blockSize). */
class RunCounter {
  blocks = 0;
  extents = 0;
  private run = 0;
  constructor(private readonly blockSize: number, private readonly maxRun: number) {}
  /** blocks known to be zero (a hole): the run of data ends */
  gap(): void {
    this.run = 0;
  }
  push(buf: Uint8Array, len: number): void {
    const bs = this.blockSize;
    for (let o = 0; o < len; o += bs) {
      const end = Math.min(o + bs, len);
      if (isZero(buf, o, end)) {
        this.run = 0;
        continue;
      }
      this.blocks++;
      if (this.run === 0 || this.run === this.maxRun) {
        this.extents++;
        this.run = 0;
      }
      this.run++;
    }
  }
}

let zeroBlock = new Uint8Array(0);
function isZero(buf: Uint8Array, start: number, end: number): boolean {
  // memcmp with a block of zeros (Buffer.compare): JS loops over words are far slower
  if (zeroBlock.length < end - start) zeroBlock = new Uint8Array(end - start);
  return Buffer.compare(buf.subarray(start, end), zeroBlock.subarray(0, end - start)) === 0;
}

/** Data blocks and extents of one file as mke2fs writes it (block size `blockSize`). */
export function fileData(node: FileNode, blockSize: number, maxRun: number): FileData {
  if (!mayHaveHoles(node)) return denseData(node.size, blockSize, maxRun);
  const c = new RunCounter(blockSize, maxRun);
  if (node.source.kind === 'bytes') {
    const d = node.source.data;
    c.push(d, Math.min(d.length, node.size));
    return { blocks: c.blocks, extents: c.extents };
  }
  let fd: number;
  try {
    // as scanned, never through a link swapped in since: only the size estimate reads it
    fd = openScanned(node.source.path, scanIdOf(node.source));
  } catch {
    return denseData(node.size, blockSize, maxRun);
  }
  let holes: HoleFinder | null = null;
  try {
    const alloc = allocationOf(fd, node.size);
    holes = alloc ? new HoleFinder(fd, node.size, alloc, () => { throw new Error('short read inside a file'); }) : null;
    countData(fd, node.size, blockSize, holes, c);
  } catch {
    return denseData(node.size, blockSize, maxRun);
  } finally {
    holes?.close();
    closeSync(fd);
  }
  return { blocks: c.blocks, extents: c.extents };
}

/** Feed the file's data runs (all of it without `holes`) to `c`, whole blocks per read. */
function countData(fd: number, size: number, blockSize: number, holes: HoleFinder | null, c: RunCounter): void {
  const buf = Buffer.alloc(CHUNK);
  let pos = 0;
  while (pos < size) {
    let end = size;
    if (holes) {
      const d = holes.seekData(pos);
      if (d < 0) break;
      const start = d - (d % blockSize);
      if (start > pos) c.gap(); // whole blocks of hole in between
      pos = start;
      end = Math.min(size, Math.ceil(holes.seekHole(d) / blockSize) * blockSize);
    }
    while (pos < end) {
      const n = readSync(fd, buf, 0, Math.min(CHUNK, end - pos), pos);
      if (n <= 0) return; // the file shrank: the tool fails on it, not the size estimate
      c.push(buf, n);
      pos += n;
      if (n % blockSize && pos < size) throw new Error('short read inside a file');
    }
  }
}
