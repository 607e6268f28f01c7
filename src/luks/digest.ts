/**
 * The LUKS2 "pbkdf2" digest: how a candidate volume key (from any keyslot) is recognised as the
 * right one. digest = PBKDF2(hash, key, salt, iterations, digest size of hash).
 */
import { createHash, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Luks2Digest } from './metadata.js';

export const DIGEST_SALT_SIZE = 32;

export function createDigest(
  volumeKey: Uint8Array, iterations: number, keyslots: number[], segments: number[], hash = 'sha256',
  salt: Uint8Array = randomBytes(DIGEST_SALT_SIZE),
): Luks2Digest {
  const size = createHash(hash).digest().length;
  const digest = new Uint8Array(pbkdf2Sync(volumeKey, salt, iterations, size, hash));
  return { type: 'pbkdf2', keyslots, segments, hash, iterations, salt, digest };
}

export function verifyDigest(d: Luks2Digest, volumeKey: Uint8Array): boolean {
  const got = pbkdf2Sync(volumeKey, d.salt, d.iterations, d.digest.length, d.hash);
  return got.length === d.digest.length && timingSafeEqual(got, d.digest);
}
