/**
 * Argon2 (RFC 9106, version 0x13): the reference implementation from Debian's `argon2` source
 * package, compiled to WebAssembly by tools/build-argon2-wasm.sh (wasm/argon2/). Node 20's
 * node:crypto has no argon2; libcryptsetup's default keyslot KDF is argon2id.
 *
 * Lanes are computed one after another in one thread; the result is the same as with parallel
 * lanes (RFC 9106 §3.4 defines it independently of threads). Each call gets a fresh instance so
 * the (up to 4 GiB) memory it grew to is garbage once the call returns.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LuksError } from './errors.js';

export const ARGON2_WASM = fileURLToPath(new URL('../../../wasm/argon2/argon2.wasm', import.meta.url));

export type Argon2Type = 'argon2d' | 'argon2i' | 'argon2id';
const TYPE_ID: Record<Argon2Type, number> = { argon2d: 0, argon2i: 1, argon2id: 2 };

export interface Argon2Params {
  type: Argon2Type;
  /** passes (t) */
  time: number;
  /** KiB (m); at least 8 × lanes */
  memory: number;
  /** lanes (p) */
  lanes: number;
  password: Uint8Array;
  salt: Uint8Array;
  secret?: Uint8Array;
  associatedData?: Uint8Array;
  /** tag length in bytes (T) */
  length: number;
  /** 0x13 (RFC 9106) unless told; 0x10 only to check old test vectors */
  version?: 0x10 | 0x13;
}

interface Exports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  malloc(n: number): number;
  free(p: number): void;
  rz_argon2(...a: number[]): number;
  rz_argon2_error(code: number): number;
}

let compiled: WebAssembly.Module | undefined;

function instance(): Exports {
  if (!compiled) {
    try {
      compiled = new WebAssembly.Module(readFileSync(ARGON2_WASM));
    } catch (e) {
      throw new LuksError('io', `cannot load ${ARGON2_WASM}: ${(e as Error).message}`, { cause: e });
    }
  }
  const e = new WebAssembly.Instance(compiled, { env: { emscripten_notify_memory_growth() {} } }).exports as unknown as Exports;
  e._initialize();
  return e;
}

function u32(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < 0 || v > 0xffffffff) throw new LuksError('bad-parameter', `argon2 ${what} ${v} is not a 32-bit unsigned integer`);
  return v;
}

/** The Argon2 tag for `p`. Synchronous: ~1 s for 256 MiB × 4 passes. */
export function argon2(p: Argon2Params): Uint8Array {
  const type = TYPE_ID[p.type];
  if (type === undefined) throw new LuksError('bad-parameter', `argon2 type ${String(p.type)} is unknown`);
  u32(p.time, 'time'); u32(p.memory, 'memory'); u32(p.lanes, 'lanes'); u32(p.length, 'length');
  // the C code checks these too, but a 4 GiB request should fail before growing memory
  if (p.memory > 4 * 1024 * 1024) throw new LuksError('bad-parameter', `argon2 memory ${p.memory} KiB exceeds 4 GiB`);
  const e = instance();
  const inputs = [p.password, p.salt, p.secret ?? new Uint8Array(0), p.associatedData ?? new Uint8Array(0)];
  const ptrs = inputs.map((b) => {
    const at = e.malloc(Math.max(1, b.length));
    new Uint8Array(e.memory.buffer, at, b.length).set(b);
    return at;
  });
  const out = e.malloc(Math.max(1, p.length));
  try {
    const rc = e.rz_argon2(
      type, p.version ?? 0x13, p.time, p.memory, p.lanes,
      ptrs[0]!, inputs[0]!.length, ptrs[1]!, inputs[1]!.length, ptrs[2]!, inputs[2]!.length, ptrs[3]!, inputs[3]!.length,
      out, p.length,
    );
    if (rc !== 0) {
      const msgAt = e.rz_argon2_error(rc);
      const mem = new Uint8Array(e.memory.buffer);
      const end = mem.indexOf(0, msgAt);
      const msg = Buffer.from(mem.subarray(msgAt, end)).toString('latin1');
      throw new LuksError('bad-parameter', `argon2 (${p.type}, t=${p.time}, m=${p.memory} KiB, p=${p.lanes}): ${msg}`);
    }
    return Uint8Array.from(new Uint8Array(e.memory.buffer, out, p.length));
  } finally {
    // the instance is dropped anyway; wipe what held the password and the tag
    const mem = new Uint8Array(e.memory.buffer);
    for (let i = 0; i < ptrs.length; i++) mem.fill(0, ptrs[i]!, ptrs[i]! + inputs[i]!.length);
    mem.fill(0, out, out + p.length);
  }
}
