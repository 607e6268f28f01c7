/**
 * Seed-derived verity parameters (repart.c context_acquire_partition_uuids_and_labels(), v255+)
 * and the partition UUIDs taken from the root hash (partition_format_verity_hash()).
 */
import type { Uuid } from '../gpt/guid.js';
import { deriveUuid, hmac } from '../plan/ids.js';

/** derive_salt(seed, "verity-salt"): the whole 32-byte HMAC-SHA256, not truncated or v4-marked. */
export function deriveVeritySalt(seed: Uuid): Uint8Array {
  return hmac(seed, Buffer.from('verity-salt', 'ascii'));
}

/** derive_uuid(seed, "verity-uuid"): the superblock UUID, the same for every hash partition of a run. */
export function deriveVerityUuid(seed: Uuid): Uuid {
  return deriveUuid(seed, 'verity-uuid');
}

/**
 * Unless UUID= is set: the data partition gets the root hash's first 16 bytes, the hash partition
 * its last 16, copied raw (no v4 marking), in string order like every repart UUID.
 */
export function verityPartitionUuids(rootHash: Uint8Array): { data: Uuid; hash: Uuid } {
  if (rootHash.length < 32) throw new RangeError(`root hash of ${rootHash.length} bytes is too short for two partition UUIDs`);
  return { data: Uint8Array.from(rootHash.subarray(0, 16)), hash: Uint8Array.from(rootHash.subarray(rootHash.length - 16)) };
}
