import { crc32 as zcrc32 } from 'node:zlib';

/** IEEE CRC-32 as used by GPT (same as zlib's). node:zlib has it since Node 20.15/22.2. */
export function crc32(data: Uint8Array): number {
  return zcrc32(data) >>> 0;
}
