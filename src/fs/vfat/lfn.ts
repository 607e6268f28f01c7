/** VFAT long-name entries (VSEs): 13 UTF-16 units each, stored before their short entry. */

export const LFN_CHARS = 13;
const LAST = 0x40;
const OFFSETS = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

export interface LfnEntry {
  /** 1-based sequence number (1..20). */
  seq: number;
  last: boolean;
  checksum: number;
  /** 13 UTF-16 code units, already padded (0x0000 terminator, then 0xffff). */
  units: Uint16Array;
}

export function encodeLfnEntry(e: LfnEntry, out: Uint8Array = new Uint8Array(32), off = 0): Uint8Array {
  out[off] = e.seq | (e.last ? LAST : 0);
  out[off + 11] = 0x0f;
  out[off + 12] = 0;
  out[off + 13] = e.checksum;
  out[off + 26] = 0;
  out[off + 27] = 0;
  for (let i = 0; i < LFN_CHARS; i++) {
    const u = e.units[i]!;
    out[off + OFFSETS[i]!] = u & 0xff;
    out[off + OFFSETS[i]! + 1] = u >> 8;
  }
  return out;
}

export function decodeLfnEntry(buf: Uint8Array, off = 0): LfnEntry {
  const units = new Uint16Array(LFN_CHARS);
  for (let i = 0; i < LFN_CHARS; i++) units[i] = buf[off + OFFSETS[i]!]! | (buf[off + OFFSETS[i]! + 1]! << 8);
  return { seq: buf[off]! & 0x1f, last: (buf[off]! & LAST) !== 0, checksum: buf[off + 13]!, units };
}

/** The short-name checksum every VSE carries (rotate right, add). */
export function shortNameChecksum(name11: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + name11[i]!) & 0xff;
  return sum;
}

/** The VSEs for a long name, in on-disk order (highest sequence number first), like mtools'
 * write_vfat: a 0x0000 terminator only when the name does not fill its last entry, then 0xffff. */
export function lfnEntriesFor(name: Uint16Array, checksum: number): LfnEntry[] {
  const n = Math.ceil(name.length / LFN_CHARS);
  const out: LfnEntry[] = [];
  for (let seq = n; seq >= 1; seq--) {
    const units = new Uint16Array(LFN_CHARS).fill(0xffff);
    const base = (seq - 1) * LFN_CHARS;
    for (let i = 0; i < LFN_CHARS; i++) {
      if (base + i < name.length) units[i] = name[base + i]!;
      else {
        units[i] = 0;
        break;
      }
    }
    out.push({ seq, last: seq === n, checksum, units });
  }
  return out;
}

/** Reassemble a long name from VSEs given in on-disk order; null if the set is inconsistent. */
export function longNameFrom(entries: LfnEntry[], checksum: number): Uint16Array | null {
  if (entries.length === 0 || !entries[0]!.last || entries[0]!.seq !== entries.length) return null;
  const units: number[] = [];
  for (let k = entries.length - 1; k >= 0; k--) {
    const e = entries[k]!;
    if (e.checksum !== checksum || e.seq !== entries.length - k) return null;
    for (const u of e.units) units.push(u);
  }
  const end = units.indexOf(0);
  return Uint16Array.from(end >= 0 ? units.slice(0, end) : units);
}
