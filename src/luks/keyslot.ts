/**
 * A LUKS2 "luks2" keyslot: the volume key, AF-split, encrypted with a key derived from the
 * passphrase (here: the key file's bytes, as cryptsetup --key-file takes them) and stored in the
 * keyslots area. The keyslot material is encrypted like a data segment with 512-byte sectors
 * whose plain64 IV restarts at 0 at the start of the keyslot's area.
 *
 * Deriving: argon2id (systemd-repart's default through libcryptsetup; argon2.ts) or pbkdf2
 * (EncryptKDF=minimal). Both are opened too, argon2i as well.
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { afMerge, afSplit } from './af.js';
import { argon2 } from './argon2.js';
import { LuksError } from './errors.js';
import type { Luks2Kdf, Luks2Keyslot } from './metadata.js';
import { xtsSectors } from './xts.js';

export const KEYSLOT_SALT_SIZE = 32;
const AREA_SECTOR = 512;

/** libcryptsetup's limits for argon2 keyslots (lib/utils_pbkdf.c, crypt_pbkdf_get_limits). */
export const ARGON2_LIMITS = { minTime: 4, minMemory: 32, maxMemory: 4 * 1024 * 1024, minCpus: 1, maxCpus: 4 } as const;

/** How the keyslot key is derived; `memory` in KiB, `cpus` = argon2 lanes. */
export type KeyslotKdf =
  | { type: 'pbkdf2'; hash: string; iterations: number }
  | { type: 'argon2id' | 'argon2i'; time: number; memory: number; cpus: number };

export interface KeyslotParams {
  kdf: KeyslotKdf;
  /** AF diffuser hash; libcryptsetup uses the PBKDF hash for pbkdf2 keyslots, sha256 for argon2 */
  afHash: string;
  stripes: number;
  /** byte offset of the keyslot area from the device start, and its size */
  areaOffset: bigint;
  areaSize: bigint;
  encryption: 'aes-xts-plain64';
}

export interface CreatedKeyslot {
  keyslot: Luks2Keyslot;
  /** the encrypted AF material, to be written at area.offset (shorter than or equal to area.size) */
  material: Uint8Array;
}

export function checkKdf(k: KeyslotKdf): void {
  if (k.type === 'pbkdf2') {
    if (k.hash !== 'sha256' && k.hash !== 'sha512') throw new LuksError('bad-parameter', `PBKDF2 hash ${String(k.hash)} is not sha256 or sha512`);
    if (!Number.isSafeInteger(k.iterations) || k.iterations < 1000 || k.iterations > 0xffffffff)
      throw new LuksError('bad-parameter', `PBKDF2 iterations ${k.iterations} below the LUKS2 minimum of 1000 (or above 2^32-1)`);
    return;
  }
  if (k.type !== 'argon2id' && k.type !== 'argon2i') throw new LuksError('bad-parameter', `keyslot KDF ${String((k as { type: unknown }).type)} is not pbkdf2, argon2i or argon2id`);
  const L = ARGON2_LIMITS;
  if (!Number.isSafeInteger(k.time) || k.time < L.minTime || k.time > 0xffffffff)
    throw new LuksError('bad-parameter', `${k.type} time ${k.time} is below libcryptsetup's minimum of ${L.minTime} (or above 2^32-1)`);
  if (!Number.isSafeInteger(k.memory) || k.memory < L.minMemory || k.memory > L.maxMemory)
    throw new LuksError('bad-parameter', `${k.type} memory ${k.memory} KiB is outside libcryptsetup's ${L.minMemory}..${L.maxMemory} KiB`);
  if (!Number.isSafeInteger(k.cpus) || k.cpus < L.minCpus || k.cpus > L.maxCpus)
    throw new LuksError('bad-parameter', `${k.type} cpus ${k.cpus} is outside libcryptsetup's ${L.minCpus}..${L.maxCpus}`);
}

/** The keyslot area's key, as libcryptsetup's crypt_pbkdf() derives it (argon2: no secret, no AD). */
export function deriveAreaKey(k: Luks2Kdf, passphrase: Uint8Array, keySize: number): Uint8Array {
  if (k.type === 'pbkdf2') return new Uint8Array(pbkdf2Sync(passphrase, k.salt, k.iterations, keySize, k.hash));
  return argon2({ type: k.type, time: k.time, memory: k.memory, lanes: k.cpus, password: passphrase, salt: k.salt, length: keySize });
}

/** Bytes of AF material, whole 512-byte sectors. */
export function afMaterialSize(keySize: number, stripes: number): number {
  return Math.ceil((keySize * stripes) / AREA_SECTOR) * AREA_SECTOR;
}

export function createKeyslot(
  volumeKey: Uint8Array, passphrase: Uint8Array, p: KeyslotParams,
  random: (n: number) => Uint8Array = randomBytes,
): CreatedKeyslot {
  checkKdf(p.kdf);
  const keySize = volumeKey.length;
  const size = afMaterialSize(keySize, p.stripes);
  if (BigInt(size) > p.areaSize) throw new LuksError('bad-parameter', `keyslot material of ${size} bytes exceeds its ${p.areaSize}-byte area`);
  const salt = random(KEYSLOT_SALT_SIZE);
  const kdf: Luks2Kdf = { ...p.kdf, salt };
  const areaKey = deriveAreaKey(kdf, passphrase, keySize);
  const material = new Uint8Array(size);
  material.set(afSplit(volumeKey, p.stripes, p.afHash, random));
  xtsSectors('encrypt', areaKey, material, AREA_SECTOR, 0n);
  return {
    keyslot: {
      type: 'luks2',
      keySize,
      af: { type: 'luks1', stripes: p.stripes, hash: p.afHash },
      area: { type: 'raw', offset: p.areaOffset, size: p.areaSize, encryption: p.encryption, keySize },
      kdf,
    },
    material,
  };
}

/**
 * The candidate volume key a passphrase yields from `material` (the keyslot's area, at least the
 * AF sectors). Whether it is right is for the digest to say.
 */
export function openKeyslot(k: Luks2Keyslot, material: Uint8Array, passphrase: Uint8Array): Uint8Array {
  if (k.area.encryption !== 'aes-xts-plain64') throw new LuksError('bad-parameter', `keyslot encryption ${k.area.encryption} is not supported`);
  const size = afMaterialSize(k.keySize, k.af.stripes);
  if (material.length < size) throw new LuksError('bad-metadata', `keyslot material is ${material.length} bytes, needs ${size}`);
  const areaKey = deriveAreaKey(k.kdf, passphrase, k.area.keySize);
  const plain = Uint8Array.from(material.subarray(0, size));
  xtsSectors('decrypt', areaKey, plain, AREA_SECTOR, 0n);
  return afMerge(plain, k.keySize, k.af.stripes, k.af.hash);
}
