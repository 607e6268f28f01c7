/**
 * Compression of finished image files, as the NixOS image builder does it
 * (`compression = { enable; algorithm = "zstd" | "xz"; level; }` → `<file>.zst` / `<file>.xz`),
 * with the codecs as WebAssembly: no native addon, no external binary.
 *
 * Parallelism comes from independence, not from the codecs' own threads: the input is cut into
 * chunks, each compressed in a worker into one complete zstd frame / xz stream. Concatenated
 * frames (streams) are a valid file that `zstd -d` (`xz -d`) decodes to the concatenated
 * input. The main thread only orders the results and writes them.
 *
 * Memory is bounded: workers read their chunk straight into the codec in 1 MiB pieces, so a
 * chunk is never held uncompressed; at most threads + 1 compressed chunks are held at once, and
 * the thread count is lowered until encoder memory plus those chunks fit `memoryLimit`.
 *
 * Output goes to a temporary file beside the destination, renamed over it only when complete;
 * on any failure the temporary file is removed, so no partial output is ever left.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { Piscina } from 'piscina';
import { RepartError } from '../errors.js';
import { ALGORITHMS, IO_SIZE, compiledCodec, loadCodec, xzEncoderMemory, zstdEncoderMemory, zstdMaxLevel, type Algorithm } from './codec.js';
import type { CompressReply, CompressTask, DecompressReply, DecompressTask, TaskError } from './worker.js';

export type CompressionAlgorithm = Algorithm;

const MiB = 1024 * 1024;

/** nixpkgs' defaults (nixos/modules/image/repart.nix): level 3 for both. */
export const DEFAULT_LEVEL: Record<CompressionAlgorithm, number> = { zstd: 3, xz: 3 };
/** `zstd -<level>` takes 1..19, and up to 22 with --ultra; `xz -<level>` takes 0..9. */
export const LEVEL_RANGE: Record<CompressionAlgorithm, readonly [number, number]> = { zstd: [1, 22], xz: [0, 9] };
export const DEFAULT_MEMORY_LIMIT = 256 * MiB;
/** xz preset dictionary sizes (liblzma's lzma_lzma_preset): chunks of 3× the dictionary, as `xz -T` makes its blocks. */
const XZ_DICT = [256 * 1024, MiB, 2 * MiB, 4 * MiB, 4 * MiB, 8 * MiB, 8 * MiB, 16 * MiB, 32 * MiB, 64 * MiB];

export const EXTENSION: Record<CompressionAlgorithm, string> = { zstd: '.zst', xz: '.xz' };

export interface CompressOptions {
  algorithm: CompressionAlgorithm;
  /** default DEFAULT_LEVEL[algorithm] */
  level?: number;
  /** worker threads; 0 or undefined = one per CPU (like `-T0`). Lowered to fit memoryLimit. */
  threads?: number;
  /** bytes of input per independent frame/stream; default 32 MiB (zstd), 3× dictionary within 16..64 MiB (xz) */
  chunkSize?: number;
  /** bound for encoder memory plus compressed chunks held; default 256 MiB. One thread is always allowed. */
  memoryLimit?: number;
  /** replace an existing destination (default: E_IMAGE_EXISTS) */
  force?: boolean;
  /** delete the source once the output is complete (what nixpkgs does after compressing) */
  removeSource?: boolean;
  /** called after each chunk is written */
  onProgress?: (bytesIn: number, totalIn: number) => void;
}

export interface CompressResult {
  src: string;
  dst: string;
  algorithm: CompressionAlgorithm;
  level: number;
  threads: number;
  chunkSize: number;
  chunks: number;
  bytesIn: number;
  bytesOut: number;
}

export interface DecompressOptions {
  /** leave zero runs as holes (default true, as `zstd -d` does for files) */
  sparse?: boolean;
  force?: boolean;
}

export interface DecompressResult {
  src: string;
  dst: string;
  algorithm: CompressionAlgorithm;
  bytesIn: number;
  bytesOut: number;
}

const WORKER = new URL('./worker.js', import.meta.url).href;

/** `<file>.zst` / `<file>.xz`, the names nixpkgs gives the compressed outputs. */
export function compressedName(file: string, algorithm: CompressionAlgorithm): string {
  return file + EXTENSION[checkAlgorithm(algorithm)];
}

function checkAlgorithm(a: unknown): CompressionAlgorithm {
  if (typeof a === 'string' && (ALGORITHMS as readonly string[]).includes(a)) return a as CompressionAlgorithm;
  throw new RepartError('E_CONFIG_VALUE', `unknown compression algorithm ${JSON.stringify(a)} (expected ${ALGORITHMS.join(' or ')})`, {
    key: 'compression.algorithm',
  });
}

function checkLevel(algorithm: CompressionAlgorithm, level: unknown): number {
  const [lo, hi] = LEVEL_RANGE[algorithm];
  if (typeof level !== 'number' || !Number.isInteger(level) || level < lo || level > hi) {
    throw new RepartError('E_CONFIG_VALUE', `invalid ${algorithm} compression level ${JSON.stringify(level)} (expected an integer ${lo}..${hi})`, {
      key: 'compression.level',
    });
  }
  return level;
}

function checkPositive(key: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new RepartError('E_CONFIG_VALUE', `invalid ${key} ${JSON.stringify(v)} (expected an integer >= ${min})`, { key: `compression.${key}` });
  }
  return v;
}

/** Validate options and choose threads / chunk size (exported for the CLI's report and tests). */
export async function planCompression(
  opts: CompressOptions,
  inputSize: number,
): Promise<{ algorithm: CompressionAlgorithm; level: number; threads: number; chunkSize: number; chunks: number; memory: number }> {
  const algorithm = checkAlgorithm(opts.algorithm);
  const level = checkLevel(algorithm, opts.level ?? DEFAULT_LEVEL[algorithm]);
  const cpus = Math.max(1, availableParallelism());
  const wanted = opts.threads === undefined || opts.threads === 0 ? cpus : Math.min(cpus, checkPositive('threads', opts.threads, 0));
  const limit = opts.memoryLimit === undefined ? DEFAULT_MEMORY_LIMIT : checkPositive('memoryLimit', opts.memoryLimit, 1);
  const chunkSize =
    opts.chunkSize !== undefined
      ? checkPositive('chunkSize', opts.chunkSize, 1)
      : algorithm === 'zstd'
        ? 32 * MiB
        : Math.min(64 * MiB, Math.max(16 * MiB, 3 * XZ_DICT[level]!));
  const chunks = Math.max(1, Math.ceil(inputSize / chunkSize));
  const m = await loadCodec(algorithm);
  if (algorithm === 'zstd' && level > zstdMaxLevel(m)) checkLevel(algorithm, NaN);
  const frame = Math.min(chunkSize, Math.max(inputSize, 1));
  const encoder = (algorithm === 'zstd' ? zstdEncoderMemory(m, level, frame) : xzEncoderMemory(m, level)) + 2 * IO_SIZE + MiB;
  // held compressed output: worst case (incompressible) a chunk each, threads + 1 of them
  const held = Math.min(chunkSize, Math.max(inputSize, 1)) * 1.01;
  const need = (t: number) => t * encoder + (Math.min(t, chunks) + 1) * held;
  let threads = Math.max(1, Math.min(wanted, chunks));
  while (threads > 1 && need(threads) > limit) threads--;
  return { algorithm, level, threads, chunkSize, chunks, memory: need(threads) };
}

function tempBeside(dst: string): string {
  return path.join(path.dirname(dst), `.${path.basename(dst)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

function ioError(e: unknown, file: string, doing: string): RepartError {
  const err = e as NodeJS.ErrnoException;
  return new RepartError('E_IMAGE_IO', `cannot ${doing}: ${err?.code ?? ''}${err?.code ? ' ' : ''}${err?.message ?? String(e)}`, { file }, 1, { cause: e });
}

function taskError(e: TaskError, file: string, doing: string): RepartError {
  if (e.kind === 'io') return new RepartError('E_IMAGE_IO', `cannot ${doing}: ${e.message}`, { file: e.path ?? file });
  if (e.kind === 'codec') return new RepartError('E_IMAGE_IO', `cannot ${doing}: ${e.message}`, { file });
  return new RepartError('E_IMAGE_IO', `cannot ${doing}: internal error: ${e.message}`, { file });
}

/** Open the source (must be a readable regular file) and reserve the destination's temp file. */
async function prepare(src: string, dst: string, force: boolean): Promise<{ st: fs.Stats; tmp: string; out: fs.promises.FileHandle }> {
  let st: fs.Stats;
  try {
    const fh = await fs.promises.open(src, 'r');
    try {
      st = await fh.stat();
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw ioError(e, src, 'read the input');
  }
  if (!st.isFile()) throw new RepartError('E_IMAGE_IO', 'cannot read the input: not a regular file', { file: src });
  if (path.resolve(src) === path.resolve(dst)) throw new RepartError('E_IMAGE_IO', 'input and output are the same file', { file: src });
  if (!force) {
    const exists = await fs.promises.lstat(dst).then(
      () => true,
      (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? false : Promise.reject(ioError(e, dst, 'check the output'))),
    );
    if (exists) throw new RepartError('E_IMAGE_EXISTS', 'output already exists', { file: dst });
  }
  const tmp = tempBeside(dst);
  let out: fs.promises.FileHandle;
  try {
    out = await fs.promises.open(tmp, 'wx', 0o600);
  } catch (e) {
    throw ioError(e, dst, 'create the output');
  }
  return { st, tmp, out };
}

/** Give the output the input's permissions and times (as the zstd/xz CLIs do), then rename it into place. */
async function finish(st: fs.Stats, tmp: string, out: fs.promises.FileHandle, dst: string): Promise<void> {
  try {
    await out.chmod(st.mode & 0o7777);
    await out.utimes(st.atime, st.mtime);
  } catch {
    // best effort, like the CLIs: a file we cannot chmod is still a correct output
  }
  try {
    await out.close();
  } catch (e) {
    throw ioError(e, dst, 'write the output');
  }
  try {
    await fs.promises.rename(tmp, dst);
  } catch (e) {
    throw ioError(e, dst, 'rename the output into place');
  }
}

async function discard(tmp: string, out: fs.promises.FileHandle): Promise<void> {
  await out.close().catch(() => {});
  await fs.promises.rm(tmp, { force: true }).catch(() => {});
}

async function writeAll(out: fs.promises.FileHandle, data: Uint8Array, pos: number): Promise<void> {
  let w = 0;
  while (w < data.length) w += (await out.write(data, w, data.length - w, pos + w)).bytesWritten;
}

/**
 * Compress `src` into `dst` (e.g. compressedName(src, 'zstd')). The result is one zstd frame
 * (xz stream) per chunk, concatenated; `zstd -d` / `xz -d` decode it to the original bytes.
 */
export async function compressFile(src: string, dst: string, opts: CompressOptions): Promise<CompressResult> {
  const algorithm = checkAlgorithm(opts?.algorithm);
  checkLevel(algorithm, opts.level ?? DEFAULT_LEVEL[algorithm]);
  const { st, tmp, out } = await prepare(src, dst, opts.force ?? false);
  let pool: Piscina | null = null;
  try {
    const plan = await planCompression(opts, st.size);
    pool = new Piscina({
      filename: WORKER,
      minThreads: plan.threads,
      maxThreads: plan.threads,
      concurrentTasksPerWorker: 1,
      idleTimeout: 100,
      workerData: { compressModules: { [algorithm]: compiledCodec(algorithm) } },
    });
    const inflight: Promise<CompressReply>[] = [];
    let next = 0;
    let pos = 0;
    for (let i = 0; i < plan.chunks; i++) {
      while (next < plan.chunks && inflight.length < plan.threads + 1) {
        const offset = next * plan.chunkSize;
        const task: CompressTask = {
          kind: 'compress',
          algorithm,
          level: plan.level,
          path: src,
          offset,
          length: Math.min(plan.chunkSize, st.size - offset),
        };
        const p = pool.run(task) as Promise<CompressReply>;
        p.catch(() => {}); // a later task's failure is reported when (if) we get to it
        inflight.push(p);
        next++;
      }
      let r: CompressReply;
      try {
        r = await inflight.shift()!;
      } catch (e) {
        throw new RepartError('E_IMAGE_IO', `cannot compress: worker failed: ${(e as Error)?.message ?? e}`, { file: src });
      }
      if (!(r instanceof Uint8Array)) throw taskError(r.error, src, 'compress');
      try {
        await writeAll(out, r, pos);
      } catch (e) {
        throw ioError(e, dst, 'write the output');
      }
      pos += r.length;
      opts.onProgress?.(Math.min(st.size, (i + 1) * plan.chunkSize), st.size);
    }
    await finish(st, tmp, out, dst);
    if (opts.removeSource) await fs.promises.rm(src).catch((e) => Promise.reject(ioError(e, src, 'remove the input')));
    return { src, dst, algorithm, level: plan.level, threads: plan.threads, chunkSize: plan.chunkSize, chunks: plan.chunks, bytesIn: st.size, bytesOut: pos };
  } catch (e) {
    await discard(tmp, out);
    throw e;
  } finally {
    if (pool) await pool.destroy().catch(() => {});
  }
}

/**
 * Decompress a .zst or .xz file (chosen by its magic number, not its name) into `dst`:
 * concatenated frames/streams, files made by the zstd/xz tools or by compressFile.
 */
export async function decompressFile(src: string, dst: string, opts: DecompressOptions = {}): Promise<DecompressResult> {
  const { st, tmp, out } = await prepare(src, dst, opts.force ?? false);
  const pool = new Piscina({ filename: WORKER, minThreads: 1, maxThreads: 1, idleTimeout: 100 });
  try {
    const task: DecompressTask = { kind: 'decompress', src, dst: tmp, sparse: opts.sparse ?? true };
    let r: DecompressReply;
    try {
      r = (await pool.run(task)) as DecompressReply;
    } catch (e) {
      throw new RepartError('E_IMAGE_IO', `cannot decompress: worker failed: ${(e as Error)?.message ?? e}`, { file: src });
    }
    if (!r.ok) throw taskError(r.error, src, 'decompress');
    await finish(st, tmp, out, dst);
    return { src, dst, algorithm: r.algorithm, bytesIn: r.bytesIn, bytesOut: r.bytesOut };
  } catch (e) {
    await discard(tmp, out);
    throw e;
  } finally {
    await pool.destroy().catch(() => {});
  }
}

/**
 * What nixpkgs' repart-image.nix does with `compression.enable`: each output file (the image
 * and every split file) becomes `<file>.zst` / `<file>.xz`, and the original is deleted once its
 * compressed form is complete. One file at a time: each already uses every thread allowed.
 */
export async function compressOutputs(files: string[], opts: CompressOptions): Promise<CompressResult[]> {
  const algorithm = checkAlgorithm(opts?.algorithm);
  checkLevel(algorithm, opts.level ?? DEFAULT_LEVEL[algorithm]);
  const out: CompressResult[] = [];
  for (const f of files) out.push(await compressFile(f, compressedName(f, algorithm), { removeSource: true, ...opts }));
  return out;
}
