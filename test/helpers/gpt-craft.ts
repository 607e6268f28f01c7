/**
 * Hand-made damage to GPT images for the safety and fuzz tests: field writes in either header
 * copy or entry array, with the CRCs fixed afterwards (corrupt but CRC-valid tables) or not.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { crc32 } from '../../src/gpt/crc32.js';

export type Which = 'primary' | 'backup';

export interface CopyView {
  which: Which;
  /** byte offset of the header sector */
  header: number;
  /** byte offset of the entry array (as the header says, clamped to the buffer) */
  entries: number;
}

export const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

const u64 = (b: Buffer, at: number) => b.readBigUInt64LE(at);

/** Where both copies are (the backup as the primary's AlternateLBA says, else the last sector). */
export function copies(b: Buffer, ss: number): CopyView[] {
  const out: CopyView[] = [];
  const alt = b.toString('latin1', ss, ss + 8) === 'EFI PART' ? u64(b, ss + 32) : BigInt(b.length / ss - 1);
  for (const [which, lba] of [['primary', 1n], ['backup', alt]] as const) {
    const header = Number(lba) * ss;
    if (header + ss > b.length) continue;
    const el = u64(b, header + 72) * BigInt(ss);
    out.push({ which, header, entries: el < BigInt(b.length) ? Number(el) : -1 });
  }
  return out;
}

/** Recomputes the entry array CRC (when the array lies in the buffer) and the header CRC. */
export function fixCrcs(b: Buffer, c: CopyView): void {
  const n = b.readUInt32LE(c.header + 80), es = b.readUInt32LE(c.header + 84);
  const len = n * es;
  if (c.entries >= 0 && len > 0 && c.entries + len <= b.length) b.writeUInt32LE(crc32(b.subarray(c.entries, c.entries + len)), c.header + 88);
  const hs = b.readUInt32LE(c.header + 12);
  if (hs >= 92 && c.header + hs <= b.length) {
    b.writeUInt32LE(0, c.header + 16);
    b.writeUInt32LE(crc32(b.subarray(c.header, c.header + hs)), c.header + 16);
  }
}

/** Applies `fn` to the chosen copies, then fixes their CRCs (unless fix is false). */
export function patch(b: Buffer, ss: number, which: Which[], fn: (b: Buffer, c: CopyView) => void, fix = true): Buffer {
  const cs = copies(b, ss).filter((c) => which.includes(c.which));
  for (const c of cs) fn(b, c);
  if (fix) for (const c of cs) fixCrcs(b, c);
  return b;
}

export const HEADER = { revision: 8, headerSize: 12, myLba: 24, alternateLba: 32, firstUsable: 40, lastUsable: 48, diskGuid: 56, entriesLba: 72, numEntries: 80, entrySize: 84 } as const;

/** Writes a used entry (Linux generic type) at index i of both arrays. */
export function setEntry(b: Buffer, ss: number, i: number, first: bigint, last: bigint, which: Which[] = ['primary', 'backup']): Buffer {
  return patch(b, ss, which, (buf, c) => {
    const at = c.entries + i * 128;
    Buffer.from('af3dc60f838472478e793d69d8477de4', 'hex').copy(buf, at);
    Buffer.from(`5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a${(i % 16).toString(16)}`, 'hex').copy(buf, at + 16);
    buf.writeBigUInt64LE(first, at + 32);
    buf.writeBigUInt64LE(last, at + 40);
  });
}
