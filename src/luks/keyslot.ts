/**
 * A LUKS2 "luks2" keyslot: the volume key, AF-split, encrypted with a key derived from the
 * passphrase (here: the key file's bytes, as cryptsetup --key-file takes them) and stored in the
 * keyslots area. The keyslot material is encrypted like a data segment with 512-byte sectors
 * whose plain64 IV restarts at 0 at the start of the keyslot's area.
 *
 * Deriving: pbkdf2 only. systemd-repart's default is argon2id (memory-hard; Node 20's crypto has
 * no argon2), so keyslots written here use PBKDF2, which LUKS2 and cryptsetup accept everywhere;
 * opening an argon2 keyslot is refused with a clear error.
 */
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { afMerge, afSplit } from './af.js';
import { LuksError } from './errors.js';
import type { Luks2Keyslot } from './metadata.js';
import { xtsSectors } from './xts.js';

export const KEYSLOT_SALT_SIZE = 32;
const AREA_SECTOR = 512;

export interface KeyslotParams {
  /** PBKDF2 hash and iteration count */
  hash: string;
  iterations: number;
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

/** Bytes of AF material, whole 512-byte sectors. */
export function afMaterialSize(keySize: number, stripes: number): number {
  return Math.ceil((keySize * stripes) / AREA_SECTOR) * AREA_SECTOR;
}

export function createKeyslot(
  volumeKey: Uint8Array, passphrase: Uint8Array, p: KeyslotParams,
  random: (n: number) => Uint8Array = randomBytes,
): CreatedKeyslot {
  if (!Number.isSafeInteger(p.iterations) || p.iterations < 1000)
    throw new LuksError('bad-parameter', `PBKDF2 iterations ${p.iterations} below the LUKS2 minimum of 1000`);
  const keySize = volumeKey.length;
  const size = afMaterialSize(keySize, p.stripes);
  if (BigInt(size) > p.areaSize) throw new LuksError('bad-parameter', `keyslot material of ${size} bytes exceeds its ${p.areaSize}-byte area`);
  const salt = random(KEYSLOT_SALT_SIZE);
  const areaKey = pbkdf2Sync(passphrase, salt, p.iterations, keySize, p.hash);
  const material = new Uint8Array(size);
  material.set(afSplit(volumeKey, p.stripes, p.afHash, random));
  xtsSectors('encrypt', areaKey, material, AREA_SECTOR, 0n);
  return {
    keyslot: {
      type: 'luks2',
      keySize,
      af: { type: 'luks1', stripes: p.stripes, hash: p.afHash },
      area: { type: 'raw', offset: p.areaOffset, size: p.areaSize, encryption: p.encryption, keySize },
      kdf: { type: 'pbkdf2', hash: p.hash, iterations: p.iterations, salt },
    },
    material,
  };
}

/**
 * The candidate volume key a passphrase yields from `material` (the keyslot's area, at least the
 * AF sectors). Whether it is right is for the digest to say.
 */
export function openKeyslot(k: Luks2Keyslot, material: Uint8Array, passphrase: Uint8Array): Uint8Array {
  if (k.kdf.type !== 'pbkdf2') throw new LuksError('bad-parameter', `keyslot KDF ${k.kdf.type} cannot be opened here (only pbkdf2)`);
  if (k.area.encryption !== 'aes-xts-plain64') throw new LuksError('bad-parameter', `keyslot encryption ${k.area.encryption} is not supported`);
  const size = afMaterialSize(k.keySize, k.af.stripes);
  if (material.length < size) throw new LuksError('bad-metadata', `keyslot material is ${material.length} bytes, needs ${size}`);
  const areaKey = pbkdf2Sync(passphrase, k.kdf.salt, k.kdf.iterations, k.area.keySize, k.kdf.hash);
  const plain = Uint8Array.from(material.subarray(0, size));
  xtsSectors('decrypt', areaKey, plain, AREA_SECTOR, 0n);
  return afMerge(plain, k.keySize, k.af.stripes, k.af.hash);
}
