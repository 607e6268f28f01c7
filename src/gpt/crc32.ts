/**
 * IEEE CRC-32 as used by GPT (the same as zlib's), in JavaScript: node:zlib's crc32 would cost
 * more to load (~2-4 ms of every run's start-up) than the few 16 KiB entry arrays a run checksums
 * (slicing by 8, ~1 ms for 16 KiB before the code is optimized; test/gpt-crc32 checks it
 * against node:zlib).
 */

/** 8 tables of 256: T[k*256 + n] is the CRC of byte n followed by k zero bytes. */
let tables: Int32Array | null = null;

function makeTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

export function crc32(data: Uint8Array): number {
  const t = (tables ??= makeTables());
  let c = -1;
  let i = 0;
  const n8 = data.length & ~7;
  for (; i < n8; i += 8) {
    const a = c ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    c = t[1792 + (a & 0xff)]! ^ t[1536 + ((a >>> 8) & 0xff)]! ^ t[1280 + ((a >>> 16) & 0xff)]! ^ t[1024 + (a >>> 24)]!
      ^ t[768 + data[i + 4]!]! ^ t[512 + data[i + 5]!]! ^ t[256 + data[i + 6]!]! ^ t[data[i + 7]!]!;
  }
  for (; i < data.length; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
