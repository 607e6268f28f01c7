/**
 * Where libcryptsetup puts the dm-verity hash tree (lib/verity/verity_hash.c, hash_levels() and
 * VERITY_create_or_verify_hash(); verity.c VERITY_hash_offset_block()), and how big repart thinks
 * the hash partition must be (repart.c calculate_verity_hash_size()).
 *
 * The tree is stored top level first: after the superblock's block comes the single block of the
 * highest level, then each lower level, and the level that hashes the data blocks comes last.
 */
import { RepartError } from '../errors.js';
import { VERITY_SB_SIZE, isValidVerityBlockSize } from './superblock.js';

export const SHA256_DIGEST_SIZE = 32;
const VERITY_MAX_LEVELS = 63;

export interface VerityLevel {
  /** hash block index (in hash-block units from the start of the hash device) of the level's first block */
  firstBlock: number;
  blocks: number;
}

export interface VerityLayout {
  dataBlocks: number;
  dataBlockSize: number;
  hashBlockSize: number;
  /** digests per hash block (rounded down to a power of two, as libcryptsetup does) */
  hashesPerBlock: number;
  /** levels[0] holds the digests of the data blocks; the last level is one block whose digest is the root hash. Empty for a single data block: then the root hash is that block's digest. */
  levels: VerityLevel[];
  /** hash blocks in front of the tree: 1 for the superblock (rounded up to a hash block), 0 without one */
  treeStartBlock: number;
  /** bytes of the hash device libcryptsetup writes or expects: superblock block + every level */
  hashBytes: number;
}

function checkSafe(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RepartError('E_CONFIG_VALUE', `verity ${what} ${n} is out of range`);
}

export function checkVerityBlockSizes(dataBlockSize: number, hashBlockSize: number): void {
  if (!isValidVerityBlockSize(dataBlockSize)) throw new RepartError('E_CONFIG_VALUE', `invalid verity data block size ${dataBlockSize} (a power of two from 512 to 524288)`);
  if (!isValidVerityBlockSize(hashBlockSize)) throw new RepartError('E_CONFIG_VALUE', `invalid verity hash block size ${hashBlockSize} (a power of two from 512 to 524288)`);
}

function bitsDown(u: number): number {
  let i = 0;
  while (Math.floor(u / 2 ** i) > 1) i++;
  return i;
}

/** The tree libcryptsetup builds for `dataBlocks` data blocks (sha256, hash area at offset 0). */
export function verityLayout(dataBlocks: number, dataBlockSize: number, hashBlockSize: number, superblock = true): VerityLayout {
  checkVerityBlockSizes(dataBlockSize, hashBlockSize);
  checkSafe(dataBlocks, 'data block count');
  const bits = bitsDown(hashBlockSize / SHA256_DIGEST_SIZE);
  const per = 2 ** bits;
  // levels = smallest L with (N - 1) >> (bits * L) == 0; a single block needs no tree at all.
  let nLevels = 0;
  if (dataBlocks > 0) while (Math.floor((dataBlocks - 1) / per ** nLevels) > 0) nLevels++;
  if (nLevels > VERITY_MAX_LEVELS) throw new RepartError('E_CONFIG_VALUE', 'too many verity tree levels');
  const sizes: number[] = [];
  let r = dataBlocks;
  for (let i = 0; i < nLevels; i++) {
    r = Math.ceil(r / per);
    sizes.push(r);
  }
  const treeStartBlock = superblock ? Math.ceil(VERITY_SB_SIZE / hashBlockSize) : 0;
  const levels: VerityLevel[] = new Array(nLevels);
  let pos = treeStartBlock;
  for (let i = nLevels - 1; i >= 0; i--) {
    levels[i] = { firstBlock: pos, blocks: sizes[i]! };
    pos += sizes[i]!;
  }
  const hashBytes = pos * hashBlockSize;
  checkSafe(hashBytes, 'hash area size');
  return { dataBlocks, dataBlockSize, hashBlockSize, hashesPerBlock: per, levels, treeStartBlock, hashBytes };
}

/** Hash device bytes `veritysetup format` / repart's crypt_format() write for a data area of `dataBytes` (partial trailing blocks are not hashed). */
export function verityHashBytes(dataBytes: number | bigint, dataBlockSize: number, hashBlockSize: number, superblock = true): number {
  checkVerityBlockSizes(dataBlockSize, hashBlockSize);
  const n = Number(BigInt(dataBytes) / BigInt(dataBlockSize));
  return verityLayout(n, dataBlockSize, hashBlockSize, superblock).hashBytes;
}

/**
 * repart.c calculate_verity_hash_size() (v257+): the hash partition size repart reserves from the
 * data partition's SizeMaxBytes= (context_update_verity_size). It rounds the data size *up* to
 * whole blocks and always counts a root block, so it is one hash block more than libcryptsetup
 * needs for a single data block and otherwise equal to verityHashBytes() for whole blocks.
 */
export function repartVerityHashSize(dataBytes: bigint, hashBlockSize: bigint, dataBlockSize: bigint): bigint {
  const dataBlocks = (dataBytes + dataBlockSize - 1n) / dataBlockSize;
  const per = hashBlockSize / BigInt(SHA256_DIGEST_SIZE);
  let hashBlocks = 2n; // the root block and the superblock
  let remaining = dataBlocks;
  while (remaining > per) {
    const lvl = (remaining + per - 1n) / per;
    hashBlocks += lvl;
    remaining = lvl;
  }
  return hashBlocks * hashBlockSize;
}
