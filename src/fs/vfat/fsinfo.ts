/**
 * The FAT32 FSInfo sector: free-cluster count and allocation hint. Only its first 512 bytes are
 * meaningful (mkfs.fat writes exactly 512 bytes even with 4 KiB sectors).
 */

export const FSINFO_SIZE = 512;
const LEAD_SIG = 0x41615252; // "RRaA"
const STRUC_SIG = 0x61417272; // "rrAa"
const TRAIL_SIG = 0xaa55; // stored as the last two bytes, like a boot sector

export interface FsInfo {
  /** 0xffffffff = unknown */
  freeClusters: number;
  /** most recently allocated cluster (mkfs.fat: 2; mtools: last cluster it allocated) */
  nextFree: number;
}

export function encodeFsInfo(info: FsInfo): Uint8Array {
  const b = new Uint8Array(FSINFO_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, LEAD_SIG, true);
  v.setUint32(0x1e4, STRUC_SIG, true);
  v.setUint32(0x1e8, info.freeClusters >>> 0, true);
  v.setUint32(0x1ec, info.nextFree >>> 0, true);
  v.setUint16(0x1fe, TRAIL_SIG, true);
  return b;
}

export function decodeFsInfo(buf: Uint8Array): FsInfo {
  const v = new DataView(buf.buffer, buf.byteOffset, FSINFO_SIZE);
  if (v.getUint32(0, true) !== LEAD_SIG || v.getUint32(0x1e4, true) !== STRUC_SIG || v.getUint16(0x1fe, true) !== TRAIL_SIG) {
    throw new Error('not an FSInfo sector (bad signature)');
  }
  return { freeClusters: v.getUint32(0x1e8, true), nextFree: v.getUint32(0x1ec, true) };
}
