/**
 * What `mkfs.vfat -i <id> -n <label> [-F bits] [-S ss]` writes (dosfstools 4.2 setup_tables /
 * write_tables), as data: the boot sector, FSInfo, the first FAT entries and the label entry.
 */
import { encodeBootSector, type BootSector } from './boot-sector.js';
import { encodeFsInfo } from './fsinfo.js';
import { ATTR_VOLUME, encodeDirEntry, fatDateTime } from './dirent.js';
import { computeGeometry, GeometryError, type Geometry, type GeometryOptions } from './geometry.js';

export const NO_NAME = 'NO NAME    ';

const DUMMY_BOOT_CODE = Buffer.concat([
  Buffer.from([0x0e, 0x1f, 0xbe, 0x5b, 0x7c, 0xac, 0x22, 0xc0, 0x74, 0x0b, 0x56, 0xb4, 0x0e, 0xbb, 0x07, 0x00, 0xcd, 0x10, 0x5e, 0xeb, 0xf0, 0x32, 0xe4, 0xcd, 0x16, 0xcd, 0x19, 0xeb, 0xfe]),
  Buffer.from('This is not a bootable disk.  Please insert a bootable floppy and\r\npress any key to try again ... \r\n', 'latin1'),
]);

/**
 * repart's mangle_fat_label(): non-ASCII → '_', at most 11 characters, upper case, and the
 * characters FAT labels cannot hold → '_'.
 */
export function mangleFatLabel(label: string): string {
  let out = '';
  for (const ch of label) {
    if (out.length >= 11) break;
    const c = ch.codePointAt(0)!;
    if (c >= 0x80) out += '_';
    else if (c < 0x20 || c === 0x7f || '*?.,;:/\\|+=<>[]"'.includes(ch)) out += '_';
    else out += ch.toUpperCase();
  }
  return out;
}

/** mkfs.fat's processing of -n: pad to 11, "NO NAME" when blank, refuse what it refuses. */
export function fatLabelBytes(label: string): Uint8Array {
  if (label.length > 11) throw new GeometryError('Label can be no longer than 11 characters');
  for (const ch of label) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x80) throw new GeometryError('label must be ASCII');
    if (c < 0x20) throw new GeometryError('Labels with characters below 0x20 are not allowed');
    if ('*?.,;:/\\|+=<>[]"'.includes(ch)) throw new GeometryError('Labels with characters *?.,;:/\\|+=<>[]" are not allowed');
  }
  let s = label.padEnd(11, ' ');
  if (s === '           ') s = NO_NAME;
  if (s[0] === ' ') throw new GeometryError("Label can't start with a space character");
  return new Uint8Array(Buffer.from(s, 'latin1'));
}

export interface MkfsOptions extends GeometryOptions {
  volumeId: number;
  /** the label as given to mkfs.fat -n (already mangled); '' = NO NAME. */
  label: string;
  /** time of the label entry (Unix seconds); mkfs.fat uses its clock through localtime. */
  labelTime: number;
}

export interface MkfsImage {
  geometry: Geometry;
  bootSector: BootSector;
  bootBytes: Uint8Array;
  fsInfoBytes: Uint8Array | null;
  label: Uint8Array;
  /** 32-byte volume label entry, or null for NO NAME. */
  labelEntry: Uint8Array | null;
  /** FAT entries 0, 1 (and 2 for the FAT32 root) as mkfs.fat sets them. */
  initialFat: number[];
}

export function mkfs(opts: MkfsOptions): MkfsImage {
  const label = fatLabelBytes(opts.label);
  const g = computeGeometry(opts);
  const fat32 = g.fatBits === 32;
  const bootCode = new Uint8Array(fat32 ? 420 : 448);
  bootCode.set(DUMMY_BOOT_CODE.subarray(0, Math.min(DUMMY_BOOT_CODE.length, bootCode.length)));
  if (fat32) {
    bootCode[419] = 0;
    const msg = 90 + 29 + 0x7c00;
    bootCode[3] = msg & 0xff;
    bootCode[4] = msg >> 8;
  }
  const fsTypeStr = fat32 ? 'FAT32   ' : g.fatBits === 16 ? 'FAT16   ' : 'FAT12   ';
  const bs: BootSector = {
    jump: Uint8Array.from([0xeb, fat32 ? 0x58 : 0x3c, 0x90]),
    oemName: new Uint8Array(Buffer.from('mkfs.fat', 'latin1')),
    bytesPerSector: g.sectorSize,
    sectorsPerCluster: g.sectorsPerCluster,
    reservedSectors: g.reservedSectors,
    numFats: g.numFats,
    rootEntries: g.rootEntries,
    totalSectors16: g.totalSectors >= 65536 ? 0 : g.totalSectors,
    media: g.media,
    fatLength16: fat32 ? 0 : g.fatLength,
    sectorsPerTrack: g.sectorsPerTrack,
    heads: g.heads,
    hiddenSectors: g.hiddenSectors,
    totalSectors32: g.totalSectors >= 65536 ? g.totalSectors : 0,
    driveNumber: g.media === 0xf8 ? 0x80 : 0,
    bootFlags: 0,
    extBootSignature: 0x29,
    volumeId: opts.volumeId >>> 0,
    volumeLabel: label,
    fsType: new Uint8Array(Buffer.from(fsTypeStr, 'latin1')),
    bootCode,
    signature: 0xaa55,
  };
  if (fat32) {
    bs.fat32 = { fatLength32: g.fatLength, extFlags: 0, version: 0, rootCluster: 2, infoSector: g.infoSector, backupBootSector: g.backupBootSector };
  }
  let labelEntry: Uint8Array | null = null;
  if (Buffer.from(label).toString('latin1') !== NO_NAME) {
    const t = new Date(opts.labelTime * 1000);
    const y = t.getUTCFullYear() - 1900;
    const { date, time } = y >= 80 && y <= 207 ? fatDateTime(opts.labelTime) : { date: 1 + (1 << 5), time: 0 };
    const name = label.slice();
    if (name[0] === 0xe5) name[0] = 0x05;
    labelEntry = encodeDirEntry({ name, attr: ATTR_VOLUME, ntCase: 0, ctimeCs: 0, ctime: time, cdate: date, adate: date, time, date, start: 0, size: 0 });
  }
  const mask = fat32 ? 0x0fffffff : g.fatBits === 16 ? 0xffff : 0xfff;
  const initialFat = [(mask & ~0xff) | g.media, mask];
  if (fat32) initialFat.push(0x0ffffff8);
  return {
    geometry: g,
    bootSector: bs,
    bootBytes: encodeBootSector(bs),
    fsInfoBytes: fat32 ? encodeFsInfo({ freeClusters: g.clusterCount - 1, nextFree: 2 }) : null,
    label,
    labelEntry,
    initialFat,
  };
}
