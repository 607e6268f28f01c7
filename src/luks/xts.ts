/**
 * aes-xts-plain64 as dm-crypt applies it to LUKS2: one XTS unit per encryption sector, the tweak
 * is the 64-bit little-endian sector number counted in 512-byte units even for 4096-byte
 * sectors (LUKS2 does not set dm-crypt's iv_large_sectors; measured against libcryptsetup's
 * output, see README.md), plus the segment's iv_tweak.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { LuksError } from './errors.js';

export const IV_UNIT = 512;

/**
 * Encrypts or decrypts `data` in place. `firstIv` is the plain64 IV of data[0], i.e. its byte
 * offset within the segment / 512 (+ iv_tweak).
 */
export function xtsSectors(mode: 'encrypt' | 'decrypt', key: Uint8Array, data: Uint8Array, sectorSize: number, firstIv: bigint): void {
  if (key.length !== 64) throw new LuksError('bad-parameter', `aes-xts-plain64 with AES-256 needs a 64-byte key, got ${key.length}`);
  if (sectorSize < IV_UNIT || sectorSize % IV_UNIT !== 0 || data.length % sectorSize !== 0)
    throw new LuksError('bad-parameter', `${data.length} bytes are not whole ${sectorSize}-byte sectors`);
  const iv = Buffer.alloc(16);
  const step = BigInt(sectorSize / IV_UNIT);
  let n = firstIv;
  for (let at = 0; at < data.length; at += sectorSize, n += step) {
    iv.writeBigUInt64LE(n & 0xffffffffffffffffn, 0);
    const c = mode === 'encrypt' ? createCipheriv('aes-256-xts', key, iv) : createDecipheriv('aes-256-xts', key, iv);
    const sector = data.subarray(at, at + sectorSize);
    const r = c.update(sector);
    c.final();
    sector.set(r);
  }
}
