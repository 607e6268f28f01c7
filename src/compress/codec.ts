/**
 * The two codecs as WebAssembly (wasm/zstd, wasm/xz: libzstd and liblzma from Debian source,
 * built by tools/build-compress-wasm.sh), behind one small streaming interface.
 *
 * Each stream owns an input and an output area inside its module's memory. Callers fill the
 * input area directly (fs.readSync into it: no copy through JS buffers) and get the output as
 * views of the output area, valid until the next call on the module. Memory may grow during
 * any call, so views are always taken fresh from the module after a call.
 *
 * Everything here is synchronous: it runs in worker threads (src/compress/worker.ts), where
 * blocking is the point. A module is compiled once per thread and instantiated once per
 * codec per thread; streams are cheap and reusable.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { workerData } from 'node:worker_threads';

export type Algorithm = 'zstd' | 'xz';
export const ALGORITHMS: readonly Algorithm[] = ['zstd', 'xz'];

/** wasm/ at the package root (this file is dist/src/compress/codec.js). */
export const COMPRESS_WASM_DIR = fileURLToPath(new URL('../../../wasm/', import.meta.url));

/** Size of each stream's input and output areas. */
export const IO_SIZE = 1 << 20;

interface EmModule {
  HEAPU8: Uint8Array;
  HEAPU32: Uint32Array;
  UTF8ToString(ptr: number): string;
  _malloc(n: number): number;
  _free(p: number): void;
  [fn: `_rz_${string}`]: (...args: number[]) => number;
}

type Factory = (opts: Record<string, unknown>) => Promise<EmModule>;

const require = createRequire(import.meta.url);
const instances = new Map<Algorithm, EmModule>();
const pending = new Map<Algorithm, Promise<EmModule>>();
const compiled = new Map<Algorithm, WebAssembly.Module>();

/**
 * The compiled module for a codec, once per process: workers receive it through workerData
 * (a WebAssembly.Module crosses threads without being compiled again), so a pool of N
 * workers compiles and tiers up the code once, not N times.
 */
export function compiledCodec(algorithm: Algorithm): WebAssembly.Module {
  let m = compiled.get(algorithm);
  if (!m) {
    const shared = (workerData as { compressModules?: Partial<Record<Algorithm, WebAssembly.Module>> } | null)?.compressModules?.[algorithm];
    m = shared ?? new WebAssembly.Module(readFileSync(`${COMPRESS_WASM_DIR}${algorithm}/${algorithm}.wasm`));
    compiled.set(algorithm, m);
  }
  return m;
}

/** Load (once per thread) the module for a codec. */
export async function loadCodec(algorithm: Algorithm): Promise<EmModule> {
  const have = instances.get(algorithm);
  if (have) return have;
  let p = pending.get(algorithm);
  if (!p) {
    p = (async () => {
      const wasm = compiledCodec(algorithm);
      const factory = require(`${COMPRESS_WASM_DIR}${algorithm}/${algorithm}.cjs`) as Factory;
      const m = await factory({
        instantiateWasm(imports: WebAssembly.Imports, done: (i: WebAssembly.Instance) => void) {
          done(new WebAssembly.Instance(wasm, imports));
          return {};
        },
        print() {},
        printErr() {},
      });
      instances.set(algorithm, m);
      return m;
    })();
    pending.set(algorithm, p);
  }
  return p;
}

/** Thrown for data the codec rejects; the caller turns it into a typed error with the file name. */
export class CodecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

/** Output sink: `out` is a view into wasm memory, valid only during the call. */
export type Sink = (out: Uint8Array) => void;

export interface CodecStream {
  /** The input area: fill its first n bytes, then call write(n, …). Fetch it again after each write. */
  input(): Uint8Array;
  /**
   * Feed n bytes from the input area. Encoders: `end` finishes the current frame/stream (the
   * next write starts a new one after begin()). Decoders: `end` means no more input follows,
   * and a truncated last frame/stream is an error.
   */
  write(n: number, end: boolean, sink: Sink): void;
  free(): void;
}

export interface Encoder extends CodecStream {
  /** Start a new independent frame (zstd) / stream (xz); size < 0 when unknown. */
  begin(size: number): void;
}

class Areas {
  readonly inPtr: number;
  readonly outPtr: number;
  readonly io: number;
  constructor(readonly m: EmModule) {
    this.inPtr = m._malloc(IO_SIZE);
    this.outPtr = m._malloc(IO_SIZE);
    this.io = m._malloc(8);
    if (!this.inPtr || !this.outPtr || !this.io) throw new CodecError('out of WebAssembly memory');
  }
  input(): Uint8Array {
    return this.m.HEAPU8.subarray(this.inPtr, this.inPtr + IO_SIZE);
  }
  consumed(): number {
    return this.m.HEAPU32[this.io >>> 2]!;
  }
  produced(): number {
    return this.m.HEAPU32[(this.io >>> 2) + 1]!;
  }
  emit(sink: Sink): void {
    const n = this.produced();
    if (n > 0) sink(this.m.HEAPU8.subarray(this.outPtr, this.outPtr + n));
  }
  free(): void {
    this.m._free(this.inPtr);
    this.m._free(this.outPtr);
    this.m._free(this.io);
  }
}

// ---- zstd ----

const ZSTD_DEFAULT_WINDOW_LOG_MAX = 27; // the zstd CLI's default decoder memory limit (128 MiB window)

function zstdCheck(m: EmModule, r: number, what: string): number {
  if (m._rz_zstd_is_error!(r)) throw new CodecError(`zstd ${what}: ${m.UTF8ToString(m._rz_zstd_error_name!(r))}`);
  return r >>> 0;
}

export function zstdVersion(m: EmModule): string {
  return m.UTF8ToString(m._rz_zstd_version!());
}

export function zstdMaxLevel(m: EmModule): number {
  return m._rz_zstd_max_level!();
}

export function zstdEncoderMemory(m: EmModule, level: number, frameSize: number): number {
  return m._rz_zstd_cstream_size!(level, frameSize);
}

export function zstdEncoder(m: EmModule, level: number): Encoder {
  const a = new Areas(m);
  const cctx = m._rz_zstd_cctx!(level, 1);
  if (!cctx) {
    a.free();
    throw new CodecError(`zstd: cannot create a compression context at level ${level}`);
  }
  return {
    input: () => a.input(),
    begin(size) {
      zstdCheck(m, m._rz_zstd_begin!(cctx, size), 'begin');
    },
    write(n, end, sink) {
      let off = 0;
      for (;;) {
        const r = zstdCheck(m, m._rz_zstd_compress!(cctx, a.inPtr + off, n - off, a.outPtr, IO_SIZE, end ? 1 : 0, a.io), 'compress');
        off += a.consumed();
        a.emit(sink);
        if (off < n) continue;
        if (!end || r === 0) return;
      }
    },
    free() {
      m._rz_zstd_cctx_free!(cctx);
      a.free();
    },
  };
}

export function zstdDecoder(m: EmModule, windowLogMax = ZSTD_DEFAULT_WINDOW_LOG_MAX): CodecStream {
  const a = new Areas(m);
  const dctx = m._rz_zstd_dctx!(windowLogMax);
  if (!dctx) {
    a.free();
    throw new CodecError('zstd: cannot create a decompression context');
  }
  // 0 = at a frame boundary (also before any input: an empty file decodes to nothing, as `zstd -d` does)
  let last = 0;
  return {
    input: () => a.input(),
    write(n, end, sink) {
      let off = 0;
      for (;;) {
        last = zstdCheck(m, m._rz_zstd_decompress!(dctx, a.inPtr + off, n - off, a.outPtr, IO_SIZE, a.io), 'decompress');
        off += a.consumed();
        const full = a.produced() === IO_SIZE;
        a.emit(sink);
        // a full output area may hold back more output even when all input is consumed,
        // unless the frame just ended (another call would start waiting for the next one)
        if (off < n || (full && last !== 0)) continue;
        break;
      }
      if (end && last !== 0) throw new CodecError('zstd: truncated input (the last frame is incomplete)');
    },
    free() {
      m._rz_zstd_dctx_free!(dctx);
      a.free();
    },
  };
}

// ---- xz ----

const LZMA_OK = 0;
const LZMA_STREAM_END = 1;
const LZMA_BUF_ERROR = 10;
const LZMA_ERRORS: Record<number, string> = {
  5: 'out of memory',
  6: 'memory usage limit reached',
  7: 'file format not recognized',
  8: 'unsupported options',
  9: 'compressed data is corrupt',
  10: 'unexpected end of input',
  11: 'programming error',
};

function xzError(r: number, what: string): CodecError {
  return new CodecError(`xz ${what}: ${LZMA_ERRORS[r] ?? `liblzma error ${r}`}`);
}

export function xzVersion(m: EmModule): string {
  return m.UTF8ToString(m._rz_xz_version!());
}

export function xzEncoderMemory(m: EmModule, preset: number): number {
  return m._rz_xz_encoder_memusage!(preset);
}

export function xzEncoder(m: EmModule, preset: number): Encoder {
  const a = new Areas(m);
  const s = m._rz_xz_stream!();
  if (!s) {
    a.free();
    throw new CodecError('xz: out of WebAssembly memory');
  }
  return {
    input: () => a.input(),
    begin() {
      const r = m._rz_xz_encoder!(s, preset);
      if (r !== LZMA_OK) throw xzError(r, `encoder (preset ${preset})`);
    },
    write(n, end, sink) {
      let off = 0;
      for (;;) {
        const r = m._rz_xz_code!(s, a.inPtr + off, n - off, a.outPtr, IO_SIZE, end ? 1 : 0, a.io);
        off += a.consumed();
        a.emit(sink);
        if (r === LZMA_STREAM_END) return;
        if (r !== LZMA_OK) throw xzError(r, 'compress');
        if (off < n) continue;
        if (!end) return;
      }
    },
    free() {
      m._rz_xz_stream_free!(s);
      a.free();
    },
  };
}

export function xzDecoder(m: EmModule): CodecStream {
  const a = new Areas(m);
  const s = m._rz_xz_stream!();
  if (!s) {
    a.free();
    throw new CodecError('xz: out of WebAssembly memory');
  }
  const r0 = m._rz_xz_decoder!(s, -1);
  if (r0 !== LZMA_OK) {
    m._rz_xz_stream_free!(s);
    a.free();
    throw xzError(r0, 'decoder');
  }
  let done = false;
  return {
    input: () => a.input(),
    write(n, end, sink) {
      if (done) {
        if (n > 0) throw new CodecError('xz: data after the end of the input');
        return;
      }
      let off = 0;
      for (;;) {
        // LZMA_CONCATENATED: only LZMA_FINISH tells the decoder that no further stream follows
        const r = m._rz_xz_code!(s, a.inPtr + off, n - off, a.outPtr, IO_SIZE, end ? 1 : 0, a.io);
        off += a.consumed();
        const full = a.produced() === IO_SIZE;
        a.emit(sink);
        if (r === LZMA_STREAM_END) {
          done = true;
          return;
        }
        if (r === LZMA_BUF_ERROR && end) throw new CodecError('xz: truncated input');
        if (r !== LZMA_OK) throw xzError(r, 'decompress');
        if (off < n || full || end) continue;
        return;
      }
    },
    free() {
      m._rz_xz_stream_free!(s);
      a.free();
    },
  };
}

/** Magic numbers, for choosing a decoder from the data itself. */
export function sniff(head: Uint8Array): Algorithm | null {
  const b = head;
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  // skippable frame 0x184D2A50..5F, little-endian
  if (b.length >= 4 && (b[0]! & 0xf0) === 0x50 && b[1] === 0x2a && b[2] === 0x4d && b[3] === 0x18) return 'zstd';
  if (b.length >= 6 && b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58 && b[4] === 0x5a && b[5] === 0x00) return 'xz';
  return null;
}
