/**
 * Positional I/O on the image file with bigint offsets, plus sparse-aware copying:
 * all-zero blocks are skipped so holes stay holes.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync, ftruncateSync } from 'node:fs';
import { RepartError } from '../errors.js';
import { allocationOf, HoleFinder } from '../io/holes.js';

const CHUNK = 4 * 1024 * 1024;

export class ImageFile {
  constructor(readonly fd: number, readonly path: string) {}

  static open(path: string, flags: string): ImageFile {
    return new ImageFile(openSync(path, flags, 0o644), path);
  }

  size(): bigint {
    return BigInt(fstatSync(this.fd).size);
  }

  truncate(size: bigint): void {
    ftruncateSync(this.fd, Number(size));
  }

  writeAt(offset: bigint, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, Number(offset) + done);
  }

  readAt(offset: bigint, length: number): Uint8Array {
    const b = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, b, done, length - done, Number(offset) + done);
      if (n === 0) break;
      done += n;
    }
    return b;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** A native comparison with zeros (a BigInt per word was the bottleneck on large sparse images). */
const ZEROS = new Uint8Array(CHUNK);
function allZero(b: Uint8Array): boolean {
  for (let at = 0; at < b.length; at += ZEROS.length) {
    const part = b.subarray(at, Math.min(b.length, at + ZEROS.length));
    if (Buffer.compare(part, ZEROS.subarray(0, part.length)) !== 0) return false;
  }
  return true;
}

/**
 * Copies `length` bytes from fd `src` at `srcOffset` to `dst` at `dstOffset`, skipping zero
 * chunks (the destination is a fresh sparse file, so they already read as zero).
 */
export function copySparse(srcFd: number, srcOffset: bigint, dst: ImageFile, dstOffset: bigint, length: bigint, srcPath = 'source'): void {
  const buf = new Uint8Array(Math.min(CHUNK, Number(length) || 1));
  const short = (at: number): never => {
    throw new RepartError('E_SOURCE', `${srcPath}: ended after ${at} bytes, ${srcOffset + length} were planned (it changed while it was read)`, {});
  };
  // a whole sparse file (CopyBlocks=): skip its holes without reading them (src/io/holes.ts)
  const alloc = srcOffset === 0n ? allocationOf(srcFd, Number(length)) : null;
  const holes = alloc ? new HoleFinder(srcFd, Number(length), alloc, short) : null;
  try {
    copyRuns(srcFd, srcOffset, dst, dstOffset, length, buf, holes, short);
  } finally {
    holes?.close();
  }
}

function copyRuns(srcFd: number, srcOffset: bigint, dst: ImageFile, dstOffset: bigint, length: bigint, buf: Uint8Array, holes: HoleFinder | null, short: (at: number) => never): void {
  let pos = 0n;
  while (pos < length) {
    if (holes) {
      const d = holes.seekData(Number(pos));
      if (d < 0) break;
      if (BigInt(d) > pos) {
        pos = BigInt(d);
        continue;
      }
    }
    const want = Number(length - pos < BigInt(buf.length) ? length - pos : BigInt(buf.length));
    let got = 0;
    while (got < want) {
      const n = readSync(srcFd, buf, got, want - got, Number(srcOffset + pos) + got);
      if (n === 0) break;
      got += n;
    }
    if (got < want) short(Number(srcOffset + pos) + got);
    const chunk = buf.subarray(0, got);
    if (!allZero(chunk)) dst.writeAt(dstOffset + pos, chunk);
    pos += BigInt(got);
  }
}
