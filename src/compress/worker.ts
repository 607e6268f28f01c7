/**
 * Worker side of src/compress: one task compresses one chunk of the input into one complete
 * zstd frame / xz stream, or decompresses a whole file. Sync I/O on purpose: this is a worker
 * thread, and reading straight into the codec's input area in wasm memory saves a copy.
 *
 * Results and errors travel as data: a thrown Error would lose its class across threads.
 */
import * as fs from 'node:fs';
import { move } from 'piscina';
import {
  CodecError,
  IO_SIZE,
  loadCodec,
  sniff,
  xzDecoder,
  xzEncoder,
  zstdDecoder,
  zstdEncoder,
  type Algorithm,
  type CodecStream,
  type Encoder,
} from './codec.js';

export interface CompressTask {
  kind: 'compress';
  algorithm: Algorithm;
  level: number;
  path: string;
  offset: number;
  length: number;
}

export interface DecompressTask {
  kind: 'decompress';
  src: string;
  /** an already created (empty) file the output goes to */
  dst: string;
  /** leave runs of zeros as holes, like `zstd -d` (--sparse is its default for files) */
  sparse: boolean;
}

export type TaskError = { kind: 'io' | 'codec' | 'internal'; message: string; syscall?: string; errno?: string; path?: string };
/** a compressed chunk arrives as a bare (transferred) Uint8Array: piscina moves top-level values only */
export type CompressReply = Uint8Array | { ok: false; error: TaskError };
export type DecompressReply = { ok: true; bytesIn: number; bytesOut: number; algorithm: Algorithm } | { ok: false; error: TaskError };

const encoders = new Map<string, Encoder>();
/** compressed form of an all-zero chunk, per algorithm/level/length: sparse images are mostly these */
const zeroChunks = new Map<string, Uint8Array>();
const ZERO = new Uint8Array(IO_SIZE);

async function encoderFor(algorithm: Algorithm, level: number): Promise<Encoder> {
  const key = `${algorithm}:${level}`;
  let e = encoders.get(key);
  if (!e) {
    const m = await loadCodec(algorithm);
    e = algorithm === 'zstd' ? zstdEncoder(m, level) : xzEncoder(m, level);
    encoders.set(key, e);
  }
  return e;
}

function isZero(b: Uint8Array): boolean {
  return Buffer.compare(b, ZERO.subarray(0, b.length)) === 0;
}

function readFully(fd: number, into: Uint8Array, n: number, pos: number, path: string): void {
  let got = 0;
  while (got < n) {
    const r = fs.readSync(fd, into, got, n - got, pos + got);
    if (r === 0) throw Object.assign(new Error(`${path}: file shrank while being compressed`), { code: 'ESHRANK', syscall: 'read', path });
    got += r;
  }
}

function toTaskError(e: unknown): TaskError {
  if (e instanceof CodecError) return { kind: 'codec', message: e.message };
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string') return { kind: 'io', message: err.message, syscall: err.syscall, errno: err.code, path: err.path };
  return { kind: 'internal', message: String((e as Error)?.stack ?? e) };
}

/** one fresh (never pooled: it is transferred) array */
function join(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.length;
  }
  return out;
}

function feedZeros(enc: Encoder, n: number, sink: (b: Uint8Array) => void): void {
  enc.input().fill(0);
  while (n > 0) {
    const k = Math.min(n, IO_SIZE);
    enc.write(k, false, sink);
    n -= k;
  }
}

async function compressChunk(t: CompressTask): Promise<Uint8Array> {
  const enc = await encoderFor(t.algorithm, t.level);
  const parts: Uint8Array[] = [];
  const sink = (b: Uint8Array) => void parts.push(b.slice());
  const fd = fs.openSync(t.path, 'r');
  try {
    enc.begin(t.length);
    let done = 0;
    let zeros = 0; // leading zero bytes not yet fed: while the chunk is all zeros, only count
    while (done < t.length) {
      const n = Math.min(IO_SIZE, t.length - done);
      readFully(fd, enc.input(), n, t.offset + done, t.path);
      done += n;
      if (zeros === done - n && isZero(enc.input().subarray(0, n))) {
        zeros += n;
        continue;
      }
      if (zeros > 0) {
        const keep = Buffer.from(enc.input().subarray(0, n));
        feedZeros(enc, zeros, sink);
        enc.input().set(keep);
        zeros = 0;
      }
      enc.write(n, false, sink);
    }
    if (zeros === t.length) {
      const key = `${t.algorithm}:${t.level}:${t.length}`;
      const hit = zeroChunks.get(key);
      if (hit) return hit.slice();
      feedZeros(enc, zeros, sink);
      enc.write(0, true, sink);
      const out = join(parts);
      zeroChunks.set(key, out.slice());
      return out;
    }
    enc.write(0, true, sink);
  } finally {
    fs.closeSync(fd);
  }
  return join(parts);
}

const HOLE_BLOCK = 64 * 1024;

async function decompressFile(t: DecompressTask): Promise<{ bytesIn: number; bytesOut: number; algorithm: Algorithm }> {
  const inFd = fs.openSync(t.src, 'r');
  let outFd = -1;
  let dec: CodecStream | null = null;
  try {
    outFd = fs.openSync(t.dst, 'r+');
    const head = Buffer.alloc(6);
    const hn = fs.readSync(inFd, head, 0, 6, 0);
    const algorithm = sniff(head.subarray(0, hn));
    if (!algorithm) throw new CodecError('not a zstd or xz file (no known magic number)');
    const m = await loadCodec(algorithm);
    dec = algorithm === 'zstd' ? zstdDecoder(m) : xzDecoder(m);
    let pos = 0; // output position
    let end = 0; // output size so far, holes included
    const sink = (b: Uint8Array) => {
      // write the non-zero 64 KiB-aligned runs, leave zero runs as holes
      let i = 0;
      while (i < b.length) {
        const blockEnd = Math.min(b.length, i + HOLE_BLOCK - ((pos + i) % HOLE_BLOCK));
        if (t.sparse && isZero(b.subarray(i, blockEnd))) {
          i = blockEnd;
          continue;
        }
        let j = blockEnd;
        while (j < b.length) {
          const next = Math.min(b.length, j + HOLE_BLOCK);
          if (t.sparse && isZero(b.subarray(j, next))) break;
          j = next;
        }
        let w = i;
        while (w < j) w += fs.writeSync(outFd, b, w, j - w, pos + w);
        i = j;
      }
      pos += b.length;
      end = pos;
    };
    const size = fs.fstatSync(inFd).size;
    let off = 0;
    for (;;) {
      const n = fs.readSync(inFd, dec.input(), 0, IO_SIZE, off);
      off += n;
      const eof = n === 0 || off >= size;
      dec.write(n, eof, sink);
      if (eof) break;
    }
    fs.ftruncateSync(outFd, end);
    return { bytesIn: off, bytesOut: end, algorithm };
  } finally {
    dec?.free();
    if (outFd >= 0) fs.closeSync(outFd);
    fs.closeSync(inFd);
  }
}

export default async function run(task: CompressTask | DecompressTask): Promise<CompressReply | DecompressReply> {
  try {
    if (task.kind === 'compress') return move(await compressChunk(task)) as Uint8Array;
    return { ok: true, ...(await decompressFile(task)) };
  } catch (e) {
    return { ok: false, error: toTaskError(e) };
  }
}
