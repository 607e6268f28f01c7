/**
 * Deterministic identifiers from the seed (gpt-layout.md §4): HMAC-SHA256 keyed with the
 * 16 seed bytes, truncated to 16 bytes and marked as a v4 UUID.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Uuid } from '../gpt/guid.js';

/** id128_make_v4_uuid() */
export function makeV4(b: Uint8Array): Uuid {
  const u = Uint8Array.from(b.subarray(0, 16));
  u[6] = (u[6]! & 0x0f) | 0x40;
  u[8] = (u[8]! & 0x3f) | 0x80;
  return u;
}

export function hmac(key: Uint8Array, message: Uint8Array | string): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(message).digest());
}

/** derive_uuid(): v4(HMAC(base, token)) */
export function deriveUuid(base: Uuid, token: string): Uuid {
  return makeV4(hmac(base, Buffer.from(token, 'ascii')));
}

/** partition_acquire_uuid(): k-th partition (0-based) of a type; the counter is omitted for k = 0. */
export function derivePartitionUuid(seed: Uuid, typeUuid: Uuid, k: number): Uuid {
  const msg = new Uint8Array(k === 0 ? 16 : 24);
  msg.set(typeUuid, 0);
  if (k !== 0) new DataView(msg.buffer).setBigUint64(16, BigInt(k), true);
  return makeV4(hmac(seed, msg));
}

export function randomUuid(): Uuid {
  return makeV4(randomBytes(16));
}
