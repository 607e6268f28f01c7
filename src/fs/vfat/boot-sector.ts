/**
 * The FAT boot sector (BPB + extended BPB), laid out as dosfstools' `struct msdos_boot_sector`.
 * One 512-byte structure; with larger logical sectors mkfs.fat still writes only these 512 bytes
 * and leaves the rest of the sector zero.
 */

export const BOOT_SECTOR_SIZE = 512;

export interface Fat32Fields {
  fatLength32: number;
  /** bit 7: FAT mirroring off; low 4 bits: active FAT. mkfs.fat writes 0. */
  extFlags: number;
  version: number;
  rootCluster: number;
  infoSector: number;
  backupBootSector: number;
}

export interface BootSector {
  jump: Uint8Array; // 3 bytes
  oemName: Uint8Array; // 8 bytes
  bytesPerSector: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  numFats: number;
  rootEntries: number;
  totalSectors16: number;
  media: number;
  fatLength16: number;
  sectorsPerTrack: number;
  heads: number;
  hiddenSectors: number;
  totalSectors32: number;
  /** present exactly when the volume is FAT32 (fatLength16 == 0 on disk). */
  fat32?: Fat32Fields;
  driveNumber: number;
  bootFlags: number;
  extBootSignature: number;
  volumeId: number;
  volumeLabel: Uint8Array; // 11 bytes
  fsType: Uint8Array; // 8 bytes
  /** 448 bytes (FAT12/16) or 420 bytes (FAT32). */
  bootCode: Uint8Array;
  signature: number;
}

export function encodeBootSector(bs: BootSector): Uint8Array {
  const b = new Uint8Array(BOOT_SECTOR_SIZE);
  const v = new DataView(b.buffer);
  b.set(bs.jump.subarray(0, 3), 0);
  b.set(bs.oemName.subarray(0, 8), 3);
  v.setUint16(11, bs.bytesPerSector, true);
  v.setUint8(13, bs.sectorsPerCluster);
  v.setUint16(14, bs.reservedSectors, true);
  v.setUint8(16, bs.numFats);
  v.setUint16(17, bs.rootEntries, true);
  v.setUint16(19, bs.totalSectors16, true);
  v.setUint8(21, bs.media);
  v.setUint16(22, bs.fatLength16, true);
  v.setUint16(24, bs.sectorsPerTrack, true);
  v.setUint16(26, bs.heads, true);
  v.setUint32(28, bs.hiddenSectors >>> 0, true);
  v.setUint32(32, bs.totalSectors32 >>> 0, true);
  let vi = 36;
  if (bs.fat32) {
    v.setUint32(36, bs.fat32.fatLength32, true);
    v.setUint16(40, bs.fat32.extFlags, true);
    v.setUint16(42, bs.fat32.version, true);
    v.setUint32(44, bs.fat32.rootCluster, true);
    v.setUint16(48, bs.fat32.infoSector, true);
    v.setUint16(50, bs.fat32.backupBootSector, true);
    vi = 64;
  }
  v.setUint8(vi, bs.driveNumber);
  v.setUint8(vi + 1, bs.bootFlags);
  v.setUint8(vi + 2, bs.extBootSignature);
  v.setUint32(vi + 3, bs.volumeId >>> 0, true);
  b.set(bs.volumeLabel.subarray(0, 11), vi + 7);
  b.set(bs.fsType.subarray(0, 8), vi + 18);
  const codeLen = bs.fat32 ? 420 : 448;
  b.set(bs.bootCode.subarray(0, codeLen), vi + 26);
  v.setUint16(510, bs.signature, true);
  return b;
}

export function decodeBootSector(buf: Uint8Array): BootSector {
  if (buf.length < BOOT_SECTOR_SIZE) throw new RangeError('boot sector needs 512 bytes');
  const v = new DataView(buf.buffer, buf.byteOffset, BOOT_SECTOR_SIZE);
  const fatLength16 = v.getUint16(22, true);
  const isFat32 = fatLength16 === 0;
  const vi = isFat32 ? 64 : 36;
  const bs: BootSector = {
    jump: buf.slice(0, 3),
    oemName: buf.slice(3, 11),
    bytesPerSector: v.getUint16(11, true),
    sectorsPerCluster: v.getUint8(13),
    reservedSectors: v.getUint16(14, true),
    numFats: v.getUint8(16),
    rootEntries: v.getUint16(17, true),
    totalSectors16: v.getUint16(19, true),
    media: v.getUint8(21),
    fatLength16,
    sectorsPerTrack: v.getUint16(24, true),
    heads: v.getUint16(26, true),
    hiddenSectors: v.getUint32(28, true),
    totalSectors32: v.getUint32(32, true),
    driveNumber: v.getUint8(vi),
    bootFlags: v.getUint8(vi + 1),
    extBootSignature: v.getUint8(vi + 2),
    volumeId: v.getUint32(vi + 3, true),
    volumeLabel: buf.slice(vi + 7, vi + 18),
    fsType: buf.slice(vi + 18, vi + 26),
    bootCode: buf.slice(vi + 26, vi + 26 + (isFat32 ? 420 : 448)),
    signature: v.getUint16(510, true),
  };
  if (isFat32) {
    bs.fat32 = {
      fatLength32: v.getUint32(36, true),
      extFlags: v.getUint16(40, true),
      version: v.getUint16(42, true),
      rootCluster: v.getUint32(44, true),
      infoSector: v.getUint16(48, true),
      backupBootSector: v.getUint16(50, true),
    };
  }
  return bs;
}
