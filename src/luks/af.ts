/**
 * Anti-forensic split (LUKS1 "AF" as LUKS2 keyslots of af.type "luks1" use it): the volume key is
 * spread over `stripes` blocks so that wiping any part of the keyslot area destroys it. Each
 * diffusion step hashes digest-sized pieces prefixed with their big-endian 32-bit index.
 */
import { createHash, randomBytes } from 'node:crypto';
import { LuksError } from './errors.js';

function digestSize(hash: string): number {
  try {
    return createHash(hash).digest().length;
  } catch (e) {
    throw new LuksError('bad-parameter', `AF hash ${hash} is not available`, { cause: e });
  }
}

/** diffuse(): in place over one block. */
function diffuse(block: Uint8Array, hash: string): void {
  const ds = digestSize(hash);
  const iv = new Uint8Array(4);
  for (let i = 0, at = 0; at < block.length; i++, at += ds) {
    const len = Math.min(ds, block.length - at);
    new DataView(iv.buffer).setUint32(0, i);
    const d = createHash(hash).update(iv).update(block.subarray(at, at + len)).digest();
    block.set(d.subarray(0, len), at);
  }
}

function xorInto(dst: Uint8Array, src: Uint8Array): void {
  for (let i = 0; i < dst.length; i++) dst[i]! ^= src[i]!;
}

/** AF_split: `key.length * stripes` bytes; stripes 0..n-2 random, the last one carries the key. */
export function afSplit(key: Uint8Array, stripes: number, hash: string, random: (n: number) => Uint8Array = randomBytes): Uint8Array {
  if (!Number.isInteger(stripes) || stripes < 1) throw new LuksError('bad-parameter', `AF stripes ${stripes} is invalid`);
  const n = key.length;
  const out = new Uint8Array(n * stripes);
  const buf = new Uint8Array(n);
  for (let i = 0; i < stripes - 1; i++) {
    const stripe = random(n);
    out.set(stripe, i * n);
    xorInto(buf, stripe);
    diffuse(buf, hash);
  }
  xorInto(buf, key);
  out.set(buf, (stripes - 1) * n);
  return out;
}

/** AF_merge: the inverse of afSplit. */
export function afMerge(split: Uint8Array, keySize: number, stripes: number, hash: string): Uint8Array {
  if (split.length < keySize * stripes) throw new LuksError('bad-metadata', `AF material is ${split.length} bytes, needs ${keySize * stripes}`);
  const buf = new Uint8Array(keySize);
  for (let i = 0; i < stripes - 1; i++) {
    xorInto(buf, split.subarray(i * keySize, (i + 1) * keySize));
    diffuse(buf, hash);
  }
  xorInto(buf, split.subarray((stripes - 1) * keySize, stripes * keySize));
  return buf;
}
