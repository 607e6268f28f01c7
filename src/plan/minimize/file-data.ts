/**
 * Which blocks of a file a tool really writes. mke2fs -d (create_inode.c, copy_file_chunk) skips
 * every block that reads as zeros — holes of a sparse file and zero blocks alike — so a sparse
 * file takes its data blocks, not its apparent size, and every run of data is its own extent.
 *
 * Finding the zero blocks means reading the file. Only files that may have holes are read: host
 * files the host allocates fewer bytes for than their size (st_blocks, recorded by the tree
 * builder as `allocated`) and in-memory sources (no I/O). Other files count as all data: a
 * fully allocated file whose blocks happen to be zero is counted in full (a conservative size).
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
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
      allocated = statSync(node.source.path).blocks * 512;
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

function isZero(buf: Uint8Array, start: number, end: number): boolean {
  // 8 bytes at a time where aligned; the tail byte by byte
  let i = start;
  if ((buf.byteOffset + i) % 8 === 0) {
    const words = new BigUint64Array(buf.buffer, buf.byteOffset + i, Math.floor((end - i) / 8));
    for (let k = 0; k < words.length; k++) if (words[k] !== 0n) return false;
    i += words.length * 8;
  }
  for (; i < end; i++) if (buf[i] !== 0) return false;
  return true;
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
    fd = openSync(node.source.path, 'r');
  } catch {
    return denseData(node.size, blockSize, maxRun);
  }
  try {
    const buf = Buffer.alloc(CHUNK);
    let pos = 0;
    while (pos < node.size) {
      // whole blocks per read so a block never straddles two chunks
      const n = readSync(fd, buf, 0, Math.min(CHUNK, node.size - pos), pos);
      if (n <= 0) break;
      c.push(buf, n);
      pos += n;
      if (n % blockSize && pos < node.size) throw new Error('short read inside a file');
    }
  } catch {
    return denseData(node.size, blockSize, maxRun);
  } finally {
    closeSync(fd);
  }
  return { blocks: c.blocks, extents: c.extents };
}
