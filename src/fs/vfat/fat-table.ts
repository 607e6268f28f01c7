/**
 * One File Allocation Table: an array of cluster entries packed as 12, 16 or 32 bits.
 * Entries are kept unpacked (Uint32Array) while planning and packed once for writing.
 */

export type FatBits = 12 | 16 | 32;

/** end-of-chain marker as mtools writes it (mkfs.fat's root cluster uses 0x?ff8 instead). */
export function endOfChain(bits: FatBits): number {
  return bits === 32 ? 0x0fffffff : bits === 16 ? 0xffff : 0xfff;
}

export function fatByteLength(bits: FatBits, entries: number): number {
  return bits === 12 ? Math.ceil((entries * 3) / 2) : (entries * bits) / 8;
}

/** Pack `entries` into `out` (which may be longer: the rest of the FAT stays zero). */
export function encodeFat(bits: FatBits, entries: Uint32Array, out: Uint8Array = new Uint8Array(fatByteLength(bits, entries.length))): Uint8Array {
  const n = entries.length;
  if (bits === 32) {
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i < n; i++) v.setUint32(i * 4, entries[i]! & 0x0fffffff, true);
  } else if (bits === 16) {
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i < n; i++) v.setUint16(i * 2, entries[i]! & 0xffff, true);
  } else {
    for (let i = 0; i < n; i++) {
      const val = entries[i]! & 0xfff;
      const o = (i * 3) >> 1;
      if ((i & 1) === 0) {
        out[o] = val & 0xff;
        out[o + 1] = (out[o + 1]! & 0xf0) | (val >> 8);
      } else {
        out[o] = (out[o]! & 0x0f) | ((val & 0x0f) << 4);
        out[o + 1] = val >> 4;
      }
    }
  }
  return out;
}

export function decodeFat(bits: FatBits, buf: Uint8Array, count: number): Uint32Array {
  const e = new Uint32Array(count);
  if (bits === 32) {
    const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let i = 0; i < count; i++) e[i] = v.getUint32(i * 4, true) & 0x0fffffff;
  } else if (bits === 16) {
    const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let i = 0; i < count; i++) e[i] = v.getUint16(i * 2, true);
  } else {
    for (let i = 0; i < count; i++) {
      const o = (i * 3) >> 1;
      const w = buf[o]! | (buf[o + 1]! << 8);
      e[i] = (i & 1) === 0 ? w & 0xfff : w >> 4;
    }
  }
  return e;
}
