/**
 * Protective MBR as libfdisk's gpt_mknew_pmbr() writes it: one 0xEE record covering the disk,
 * everything else zero (no boot code, no disk signature).
 */
export interface ProtectiveMbr {
  /** size field of the 0xEE record, in logical sectors: min(N-1, 0xFFFFFFFF). */
  sizeInLba: number;
}

export const MBR_SIZE = 512;

export function encodeProtectiveMbr(m: ProtectiveMbr): Uint8Array {
  const b = new Uint8Array(MBR_SIZE);
  const v = new DataView(b.buffer);
  b[446] = 0x00; // not bootable
  b[447] = 0x00; b[448] = 0x02; b[449] = 0x00; // CHS start (0,0,2)
  b[450] = 0xee;
  b[451] = 0xff; b[452] = 0xff; b[453] = 0xff; // CHS end
  v.setUint32(454, 1, true);
  v.setUint32(458, m.sizeInLba >>> 0, true);
  b[510] = 0x55; b[511] = 0xaa;
  return b;
}

/** Returns null unless the sector holds an MBR with a 0xEE (GPT protective) record. */
export function decodeProtectiveMbr(b: Uint8Array): ProtectiveMbr | null {
  if (b.length < MBR_SIZE || b[510] !== 0x55 || b[511] !== 0xaa) return null;
  const v = new DataView(b.buffer, b.byteOffset, MBR_SIZE);
  for (let i = 0; i < 4; i++) {
    const rec = 446 + 16 * i;
    if (b[rec + 4] === 0xee) return { sizeInLba: v.getUint32(rec + 12, true) };
  }
  return null;
}

export function protectiveSizeFor(totalSectors: bigint): number {
  const n = totalSectors - 1n;
  return Number(n > 0xffffffffn ? 0xffffffffn : n);
}

/**
 * A hybrid MBR: the 0xEE record beside other used records (legacy boot entries). libfdisk leaves
 * such an MBR as it is when it writes the GPT; so does repart-ts.
 */
export function isHybridMbr(b: Uint8Array): boolean {
  if (!decodeProtectiveMbr(b)) return false;
  for (let i = 0; i < 4; i++) {
    const type = b[446 + 16 * i + 4];
    if (type !== 0 && type !== 0xee) return true;
  }
  return false;
}
