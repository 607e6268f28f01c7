/**
 * A whole LUKS2 header area (both header copies + keyslot material) as systemd-repart's offline
 * Encrypt=key-file leaves it, built from parameters without touching a file; and the reverse:
 * unlocking a header area with a key file.
 */
import { randomBytes } from 'node:crypto';
import { createDigest, verifyDigest } from './digest.js';
import { LuksError } from './errors.js';
import { decodeLuks2Header, encodeLuks2Header, type Luks2BinaryHeader } from './header.js';
import { checkKdf, createKeyslot, openKeyslot, type KeyslotKdf } from './keyslot.js';
import {
  LUKS2_AF_STRIPES, LUKS2_CIPHER, LUKS2_DATA_OFFSET, LUKS2_HEADER_SIZE, LUKS2_JSON_SIZE, LUKS2_KEYSLOTS_OFFSET,
  LUKS2_KEYSLOTS_SIZE, LUKS2_VOLUME_KEY_SIZE, keyslotAreaSize,
} from './layout.js';
import { decodeLuks2Json, encodeJsonArea, type Luks2Metadata } from './metadata.js';

export interface Luks2Pbkdf {
  hash: 'sha256' | 'sha512';
  iterations: number;
}

/** A keyslot KDF: argon2id/argon2i (`memory` in KiB, `cpus` = lanes) or pbkdf2. */
export type Luks2KeyslotKdf = KeyslotKdf;

/**
 * The keyslot KDF when the caller does not choose: argon2id, time 4, 256 MiB, 2 lanes.
 * libcryptsetup (systemd-repart) uses argon2id with time 4 and cpus 2 too, but benchmarks the
 * memory (~787 MiB on the measuring machine, up to 1 GiB) for a 2 s unlock. A fixed 256 MiB
 * keeps the build at ~1 s per encrypted partition and an unlock at a fraction of a second
 * while staying memory-hard (any value in 32 KiB..4 GiB is valid LUKS2; libcryptsetup on a
 * small machine benchmarks to a similar figure).
 */
export const DEFAULT_KEYSLOT_KDF: Luks2KeyslotKdf = { type: 'argon2id', time: 4, memory: 262_144, cpus: 2 };
/** The PBKDF2 parameters used when a caller asks for `{ type: 'pbkdf2' }` without choosing. */
export const DEFAULT_KEYSLOT_PBKDF: Luks2Pbkdf = { hash: 'sha256', iterations: 1_000_000 };
/** The digest only guards a random 512-bit key; libcryptsetup benchmarks it to ~1/8 s. */
export const DEFAULT_DIGEST_ITERATIONS = 100_000;

export interface Luks2FormatOptions {
  /** the passphrase: the key file's bytes, unmodified */
  keyFile: Uint8Array;
  /** LUKS UUID, canonical lower-case form */
  uuid: string;
  label: string;
  sectorSize: 512 | 4096;
  /** config flag "allow-discards" (systemd-repart 261+ sets it unless Discard=no) */
  allowDiscards?: boolean;
  /** the keyslot KDF; default DEFAULT_KEYSLOT_KDF (argon2id) */
  kdf?: Luks2KeyslotKdf;
  /**
   * shorthand for `kdf: { type: 'pbkdf2', ...pbkdf }` (EncryptKDF=minimal passes sha512/1000);
   * ignored when `kdf` is given
   */
  pbkdf?: Luks2Pbkdf;
  digestIterations?: number;
  /** for tests: a fixed volume key */
  volumeKey?: Uint8Array;
}

export interface Luks2Format {
  volumeKey: Uint8Array;
  metadata: Luks2Metadata;
  primary: Uint8Array;
  secondary: Uint8Array;
  /** the encrypted AF material of keyslot 0, to be written at LUKS2_KEYSLOTS_OFFSET */
  keyslotMaterial: Uint8Array;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function validateFormatOptions(o: Luks2FormatOptions): void {
  // an empty key is allowed: systemd-repart uses one when no --key-file= is given
  if (!(o.keyFile instanceof Uint8Array)) throw new LuksError('bad-parameter', 'the key must be bytes');
  if (!UUID_RE.test(o.uuid)) throw new LuksError('bad-parameter', `UUID "${o.uuid}" is not a lower-case canonical UUID`);
  if (o.sectorSize !== 512 && o.sectorSize !== 4096) throw new LuksError('bad-parameter', `sector size ${String(o.sectorSize)} is not 512 or 4096`);
  if (o.label.includes('\0')) throw new LuksError('bad-parameter', 'label contains a NUL character');
  if (Buffer.byteLength(o.label, 'utf8') > 47) throw new LuksError('bad-parameter', `label "${o.label}" is longer than 47 bytes`);
  if (o.volumeKey !== undefined && o.volumeKey.length !== LUKS2_VOLUME_KEY_SIZE)
    throw new LuksError('bad-parameter', `volume key must be ${LUKS2_VOLUME_KEY_SIZE} bytes`);
  const it = o.digestIterations ?? DEFAULT_DIGEST_ITERATIONS;
  if (!Number.isSafeInteger(it) || it < 1000) throw new LuksError('bad-parameter', `digest iterations ${it} below the LUKS2 minimum of 1000`);
  checkKdf(keyslotKdf(o));
}

/** The keyslot KDF the options ask for. */
export function keyslotKdf(o: Pick<Luks2FormatOptions, 'kdf' | 'pbkdf'>): Luks2KeyslotKdf {
  if (o.kdf) return o.kdf;
  if (o.pbkdf) return { type: 'pbkdf2', hash: o.pbkdf.hash, iterations: o.pbkdf.iterations };
  return DEFAULT_KEYSLOT_KDF;
}

export function formatLuks2(o: Luks2FormatOptions, random: (n: number) => Uint8Array = randomBytes): Luks2Format {
  validateFormatOptions(o);
  const volumeKey = o.volumeKey ?? random(LUKS2_VOLUME_KEY_SIZE);
  const kdf = keyslotKdf(o);
  // libcryptsetup: the AF hash is the PBKDF's hash, and its default (sha256) for argon2
  const { keyslot, material } = createKeyslot(volumeKey, o.keyFile, {
    kdf, afHash: kdf.type === 'pbkdf2' ? kdf.hash : 'sha256', stripes: LUKS2_AF_STRIPES,
    areaOffset: BigInt(LUKS2_KEYSLOTS_OFFSET), areaSize: BigInt(keyslotAreaSize()), encryption: LUKS2_CIPHER,
  }, random);
  const metadata: Luks2Metadata = {
    keyslots: new Map([[0, keyslot]]),
    tokens: new Map(),
    segments: new Map([[0, {
      type: 'crypt', offset: LUKS2_DATA_OFFSET, size: 'dynamic', ivTweak: 0n, encryption: LUKS2_CIPHER, sectorSize: o.sectorSize,
    }]]),
    digests: new Map([[0, createDigest(volumeKey, o.digestIterations ?? DEFAULT_DIGEST_ITERATIONS, [0], [0], 'sha256', random(32))]]),
    config: {
      jsonSize: BigInt(LUKS2_JSON_SIZE), keyslotsSize: BigInt(LUKS2_KEYSLOTS_SIZE),
      ...(o.allowDiscards ? { flags: ['allow-discards'] } : {}),
    },
  };
  const area = encodeJsonArea(metadata, LUKS2_JSON_SIZE);
  const hdr = (hdrOffset: bigint): Uint8Array => encodeLuks2Header({
    hdrSize: LUKS2_HEADER_SIZE, seqid: 1n, label: o.label, checksumAlgorithm: 'sha256', salt: random(64),
    uuid: o.uuid, subsystem: '', hdrOffset,
  }, area);
  return { volumeKey, metadata, primary: hdr(0n), secondary: hdr(BigInt(LUKS2_HEADER_SIZE)), keyslotMaterial: material };
}

export interface Luks2Unlocked {
  header: Luks2BinaryHeader;
  metadata: Luks2Metadata;
  volumeKey: Uint8Array;
  keyslot: number;
}

/**
 * The metadata of `head` (the device's first bytes, at least both header copies): the primary
 * copy, or the secondary when the primary is damaged.
 */
export function readLuks2(head: Uint8Array): { header: Luks2BinaryHeader; metadata: Luks2Metadata } {
  let first: unknown;
  for (const at of [0, LUKS2_HEADER_SIZE]) {
    try {
      const { header, json } = decodeLuks2Header(head.subarray(at));
      if (header.hdrOffset !== BigInt(at)) throw new LuksError('bad-header', `header at ${at} claims offset ${header.hdrOffset}`);
      return { header, metadata: decodeLuks2Json(json) };
    } catch (e) {
      first ??= e;
    }
  }
  throw first;
}

/** Recovers the volume key from `head` (through the keyslot areas) with `keyFile`. */
export function unlockLuks2(head: Uint8Array, keyFile: Uint8Array): Luks2Unlocked {
  const { header, metadata } = readLuks2(head);
  for (const [id, k] of metadata.keyslots) {
    const digest = [...metadata.digests.values()].find((d) => d.keyslots.includes(id));
    if (!digest) continue;
    const from = Number(k.area.offset);
    const material = head.subarray(from, from + Number(k.area.size));
    const candidate = openKeyslot(k, material, keyFile);
    if (verifyDigest(digest, candidate)) return { header, metadata, volumeKey: candidate, keyslot: id };
  }
  throw new LuksError('wrong-key', 'no keyslot can be opened with this key file');
}
