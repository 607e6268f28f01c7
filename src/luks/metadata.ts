/**
 * The LUKS2 JSON metadata (config, keyslots, segments, digests, tokens). Written the way
 * libcryptsetup's json-c writes it: plain (no whitespace), key order as libcryptsetup builds the
 * objects, 64-bit quantities as decimal strings, salts and digests as padded base64.
 */
import { LuksError } from './errors.js';

export type Luks2Kdf =
  | { type: 'pbkdf2'; hash: string; iterations: number; salt: Uint8Array }
  | { type: 'argon2i' | 'argon2id'; time: number; memory: number; cpus: number; salt: Uint8Array };

export interface Luks2Keyslot {
  type: 'luks2';
  keySize: number;
  af: { type: 'luks1'; stripes: number; hash: string };
  area: { type: 'raw'; offset: bigint; size: bigint; encryption: string; keySize: number };
  kdf: Luks2Kdf;
}

export interface Luks2Segment {
  type: 'crypt';
  offset: bigint;
  /** 'dynamic': up to the end of the device */
  size: bigint | 'dynamic';
  ivTweak: bigint;
  encryption: string;
  sectorSize: number;
}

export interface Luks2Digest {
  type: 'pbkdf2';
  keyslots: number[];
  segments: number[];
  hash: string;
  iterations: number;
  salt: Uint8Array;
  digest: Uint8Array;
}

export interface Luks2Metadata {
  keyslots: Map<number, Luks2Keyslot>;
  /** kept as parsed: we write none */
  tokens: Map<number, unknown>;
  segments: Map<number, Luks2Segment>;
  digests: Map<number, Luks2Digest>;
  config: { jsonSize: bigint; keyslotsSize: bigint; flags?: string[] };
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

function kdfJson(k: Luks2Kdf): object {
  if (k.type === 'pbkdf2') return { type: k.type, hash: k.hash, iterations: k.iterations, salt: b64(k.salt) };
  return { type: k.type, time: k.time, memory: k.memory, cpus: k.cpus, salt: b64(k.salt) };
}

function mapJson<T>(m: Map<number, T>, f: (v: T) => unknown): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const id of [...m.keys()].sort((a, b) => a - b)) o[String(id)] = f(m.get(id)!);
  return o;
}

export function encodeLuks2Json(m: Luks2Metadata): string {
  const doc = {
    keyslots: mapJson(m.keyslots, (k) => ({
      type: k.type,
      key_size: k.keySize,
      af: { type: k.af.type, stripes: k.af.stripes, hash: k.af.hash },
      area: { type: k.area.type, offset: String(k.area.offset), size: String(k.area.size), encryption: k.area.encryption, key_size: k.area.keySize },
      kdf: kdfJson(k.kdf),
    })),
    tokens: mapJson(m.tokens, (t) => t),
    segments: mapJson(m.segments, (s) => ({
      type: s.type, offset: String(s.offset), size: String(s.size), iv_tweak: String(s.ivTweak),
      encryption: s.encryption, sector_size: s.sectorSize,
    })),
    digests: mapJson(m.digests, (d) => ({
      type: d.type, keyslots: d.keyslots.map(String), segments: d.segments.map(String), hash: d.hash,
      iterations: d.iterations, salt: b64(d.salt), digest: b64(d.digest),
    })),
    config: {
      json_size: String(m.config.jsonSize), keyslots_size: String(m.config.keyslotsSize),
      ...(m.config.flags && m.config.flags.length > 0 ? { flags: m.config.flags } : {}),
    },
  };
  return JSON.stringify(doc);
}

/** The JSON area: the text, then NULs up to `size` (the config's json_size). */
export function encodeJsonArea(m: Luks2Metadata, size: number): Uint8Array {
  const text = Buffer.from(encodeLuks2Json(m), 'utf8');
  // At least one NUL must follow: the reader stops there.
  if (text.length >= size) throw new LuksError('bad-parameter', `JSON metadata (${text.length} bytes) does not fit the ${size}-byte area`);
  const area = new Uint8Array(size);
  area.set(text);
  return area;
}

// ---- decoding -------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function bad(msg: string): never {
  throw new LuksError('bad-metadata', msg);
}
function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(`${what} is not an object`);
  return v as Obj;
}
function str(o: Obj, k: string, what: string): string {
  const v = o[k];
  if (typeof v !== 'string') bad(`${what}.${k} is not a string`);
  return v;
}
function int(o: Obj, k: string, what: string): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${what}.${k} is not a non-negative integer`);
  return v;
}
function u64(o: Obj, k: string, what: string): bigint {
  const s = str(o, k, what);
  if (!/^[0-9]+$/.test(s)) bad(`${what}.${k} is not a decimal string`);
  return BigInt(s);
}
function bytes(o: Obj, k: string, what: string): Uint8Array {
  const s = str(o, k, what);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) bad(`${what}.${k} is not base64`);
  return new Uint8Array(Buffer.from(s, 'base64'));
}
function ids(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && /^[0-9]+$/.test(x))) bad(`${what} is not a list of ids`);
  return (v as string[]).map(Number);
}
function idMap<T>(o: Obj, what: string, f: (v: Obj, what: string) => T): Map<number, T> {
  const m = new Map<number, T>();
  for (const [k, v] of Object.entries(obj(o[what], what))) {
    if (!/^[0-9]+$/.test(k)) bad(`${what} has a non-numeric id "${k}"`);
    m.set(Number(k), f(obj(v, `${what}.${k}`), `${what}.${k}`));
  }
  return m;
}

function decodeKdf(o: Obj, w: string): Luks2Kdf {
  const type = str(o, 'type', w);
  if (type === 'pbkdf2') return { type, hash: str(o, 'hash', w), iterations: int(o, 'iterations', w), salt: bytes(o, 'salt', w) };
  if (type === 'argon2i' || type === 'argon2id')
    return { type, time: int(o, 'time', w), memory: int(o, 'memory', w), cpus: int(o, 'cpus', w), salt: bytes(o, 'salt', w) };
  return bad(`${w}.type "${type}" is unknown`);
}

export function decodeLuks2Json(text: string): Luks2Metadata {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new LuksError('bad-metadata', `JSON area does not parse: ${(e as Error).message}`, { cause: e });
  }
  const root = obj(doc, 'metadata');
  const keyslots = idMap(root, 'keyslots', (o, w): Luks2Keyslot => {
    if (str(o, 'type', w) !== 'luks2') bad(`${w}.type is not luks2`);
    const af = obj(o['af'], `${w}.af`);
    const area = obj(o['area'], `${w}.area`);
    if (str(af, 'type', `${w}.af`) !== 'luks1') bad(`${w}.af.type is not luks1`);
    if (str(area, 'type', `${w}.area`) !== 'raw') bad(`${w}.area.type is not raw`);
    return {
      type: 'luks2',
      keySize: int(o, 'key_size', w),
      af: { type: 'luks1', stripes: int(af, 'stripes', `${w}.af`), hash: str(af, 'hash', `${w}.af`) },
      area: {
        type: 'raw', offset: u64(area, 'offset', `${w}.area`), size: u64(area, 'size', `${w}.area`),
        encryption: str(area, 'encryption', `${w}.area`), keySize: int(area, 'key_size', `${w}.area`),
      },
      kdf: decodeKdf(obj(o['kdf'], `${w}.kdf`), `${w}.kdf`),
    };
  });
  const tokens = idMap(root, 'tokens', (o) => o as unknown);
  const segments = idMap(root, 'segments', (o, w): Luks2Segment => {
    if (str(o, 'type', w) !== 'crypt') bad(`${w}.type is not crypt (only crypt segments are supported)`);
    const size = str(o, 'size', w);
    return {
      type: 'crypt', offset: u64(o, 'offset', w), size: size === 'dynamic' ? 'dynamic' : u64(o, 'size', w),
      ivTweak: u64(o, 'iv_tweak', w), encryption: str(o, 'encryption', w), sectorSize: int(o, 'sector_size', w),
    };
  });
  const digests = idMap(root, 'digests', (o, w): Luks2Digest => {
    if (str(o, 'type', w) !== 'pbkdf2') bad(`${w}.type is not pbkdf2`);
    return {
      type: 'pbkdf2', keyslots: ids(o['keyslots'], `${w}.keyslots`), segments: ids(o['segments'], `${w}.segments`),
      hash: str(o, 'hash', w), iterations: int(o, 'iterations', w), salt: bytes(o, 'salt', w), digest: bytes(o, 'digest', w),
    };
  });
  const c = obj(root['config'], 'config');
  const flags = c['flags'];
  if (flags !== undefined && (!Array.isArray(flags) || !flags.every((f) => typeof f === 'string'))) bad('config.flags is not a list of strings');
  return {
    keyslots, tokens, segments, digests,
    config: {
      jsonSize: u64(c, 'json_size', 'config'), keyslotsSize: u64(c, 'keyslots_size', 'config'),
      ...(flags !== undefined ? { flags: flags as string[] } : {}),
    },
  };
}
