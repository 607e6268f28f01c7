/**
 * The dm-verity superblock libcryptsetup writes at the start of the hash device
 * (`struct verity_sb` in lib/verity/verity.c): 512 bytes, little-endian, packed.
 *
 *   0   signature "verity\0\0"     8
 *   8   version (always 1)         u32
 *  12   hash_type (0 Chrome OS, 1 normal) u32
 *  16   uuid (string order)        16
 *  32   algorithm, NUL padded      32
 *  64   data_block_size            u32
 *  68   hash_block_size            u32
 *  72   data_blocks                u64
 *  80   salt_size                  u16
 *  82   pad                        6
 *  88   salt                       256
 * 344   pad                        168
 */
import { RepartError } from '../errors.js';

export const VERITY_SB_SIZE = 512;
export const VERITY_SIGNATURE = new Uint8Array([0x76, 0x65, 0x72, 0x69, 0x74, 0x79, 0, 0]);
export const VERITY_MAX_SALT = 256;

export interface VeritySuperblock {
  version: number;
  hashType: number;
  /** 16 bytes in string order (uuid_parse()), not GPT's mixed-endian order. */
  uuid: Uint8Array;
  algorithm: string;
  dataBlockSize: number;
  hashBlockSize: number;
  dataBlocks: bigint;
  salt: Uint8Array;
}

/** VERITY_BLOCK_SIZE_OK(): libcryptsetup accepts powers of two from 512 B to 512 KiB. */
export function isValidVerityBlockSize(n: number): boolean {
  return Number.isInteger(n) && n >= 512 && n <= 512 * 1024 && (n & (n - 1)) === 0;
}

export function encodeVeritySuperblock(sb: VeritySuperblock): Uint8Array {
  if (sb.uuid.length !== 16) throw new RepartError('E_CONFIG_VALUE', `verity superblock UUID must be 16 bytes, got ${sb.uuid.length}`);
  if (sb.salt.length > VERITY_MAX_SALT) throw new RepartError('E_CONFIG_VALUE', `verity salt is ${sb.salt.length} bytes, at most ${VERITY_MAX_SALT} fit the superblock`);
  const alg = Buffer.from(sb.algorithm, 'ascii');
  // strncpy() into 32 bytes: a 32-byte name would lose its NUL, which VERITY_read_sb tolerates
  // (strndup), but nothing sensible is that long.
  if (alg.length > 32) throw new RepartError('E_CONFIG_VALUE', `verity hash algorithm name "${sb.algorithm}" is longer than 32 bytes`);
  const b = new Uint8Array(VERITY_SB_SIZE);
  const v = new DataView(b.buffer);
  b.set(VERITY_SIGNATURE, 0);
  v.setUint32(8, sb.version, true);
  v.setUint32(12, sb.hashType, true);
  b.set(sb.uuid, 16);
  b.set(alg, 32);
  v.setUint32(64, sb.dataBlockSize, true);
  v.setUint32(68, sb.hashBlockSize, true);
  v.setBigUint64(72, sb.dataBlocks, true);
  v.setUint16(80, sb.salt.length, true);
  b.set(sb.salt, 88);
  return b;
}

/** Checks what VERITY_read_sb() checks, so a decoded superblock is one veritysetup would accept. */
export function decodeVeritySuperblock(b: Uint8Array): VeritySuperblock {
  if (b.length < VERITY_SB_SIZE) throw new RepartError('E_IMAGE_IO', `verity superblock needs ${VERITY_SB_SIZE} bytes, got ${b.length}`);
  for (let i = 0; i < 8; i++) {
    if (b[i] !== VERITY_SIGNATURE[i]) throw new RepartError('E_IMAGE_IO', 'not a verity superblock (signature "verity\\0\\0" missing)');
  }
  const v = new DataView(b.buffer, b.byteOffset, VERITY_SB_SIZE);
  const version = v.getUint32(8, true);
  if (version !== 1) throw new RepartError('E_IMAGE_IO', `unsupported verity superblock version ${version}`);
  const hashType = v.getUint32(12, true);
  if (hashType > 1) throw new RepartError('E_IMAGE_IO', `unsupported verity hash type ${hashType}`);
  const dataBlockSize = v.getUint32(64, true);
  const hashBlockSize = v.getUint32(68, true);
  if (!isValidVerityBlockSize(dataBlockSize) || !isValidVerityBlockSize(hashBlockSize)) {
    throw new RepartError('E_IMAGE_IO', `unsupported verity block sizes ${dataBlockSize}/${hashBlockSize}`);
  }
  const saltSize = v.getUint16(80, true);
  if (saltSize > VERITY_MAX_SALT) throw new RepartError('E_IMAGE_IO', `verity superblock salt size ${saltSize} is corrupt`);
  const algBytes = b.subarray(32, 64);
  const nul = algBytes.indexOf(0);
  return {
    version,
    hashType,
    uuid: Uint8Array.from(b.subarray(16, 32)),
    algorithm: Buffer.from(algBytes.subarray(0, nul < 0 ? 32 : nul)).toString('ascii'),
    dataBlockSize,
    hashBlockSize,
    dataBlocks: v.getBigUint64(72, true),
    salt: Uint8Array.from(b.subarray(88, 88 + saltSize)),
  };
}
