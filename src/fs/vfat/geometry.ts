/**
 * The volume geometry mkfs.fat (dosfstools 4.2) chooses for a regular file of a given size:
 * establish_params() + the sizing loop of setup_tables(). Reproduced step by step, including
 * its integer quirks, because repart's ESP must come out byte-identical (formatting.md §11.3).
 * Ported upstream algorithm: computeGeometry() mirrors mkfs.fat's code path as one function.
 */
import type { FatBits } from './fat-table.js';

export interface GeometryOptions {
  /** bytes available to the file system. */
  size: number;
  /** logical sector size (mkfs.fat -S); 512 when not given. */
  sectorSize?: number;
  /** FAT type (mkfs.fat -F); chosen like mkfs.fat when omitted. */
  fatBits?: FatBits;
  /** sectors per cluster (mkfs.fat -s); chosen like mkfs.fat when omitted. */
  sectorsPerCluster?: number;
  /** root directory entries for FAT12/16 (mkfs.fat -r). */
  rootEntries?: number;
  numFats?: number;
}

export interface Geometry {
  fatBits: FatBits;
  sectorSize: number;
  totalSectors: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  numFats: number;
  fatLength: number;
  /** FAT12/16 root directory slots (0 on FAT32). */
  rootEntries: number;
  rootDirSectors: number;
  clusterCount: number;
  media: number;
  heads: number;
  sectorsPerTrack: number;
  hiddenSectors: number;
  backupBootSector: number;
  infoSector: number;
  /** first sector of the data area (cluster 2). */
  dataStart: number;
  warnings: string[];
}

const MAX_CLUST_12 = 4084;
const MIN_CLUST_16 = 4087;
const MAX_CLUST_16 = 65524;
const MIN_CLUST_32 = 65525;
const MAX_CLUST_32 = 268435446;

const cdiv = (a: number, b: number): number => Math.floor((a + b - 1) / b);
/** C `unsigned` arithmetic where a subtraction may go below zero on tiny volumes. */
const u32 = (x: number): number => (x < 0 ? x + 0x100000000 : x) % 0x100000000;

export class GeometryError extends Error {}

export function computeGeometry(opts: GeometryOptions): Geometry {
  const ss = opts.sectorSize ?? 512;
  if (![512, 1024, 2048, 4096, 8192, 16384, 32768].includes(ss)) throw new GeometryError(`bad logical sector size ${ss}`);
  const size = opts.size;
  const nrFats = opts.numFats ?? 2;
  const warnings: string[] = [];
  let sizeFat: 0 | FatBits = opts.fatBits ?? 0;
  const sizeFatByUser = opts.fatBits !== undefined;

  // establish_params(): a regular file has no hardware geometry, no start sector, and is not
  // TYPE_FIXED, so the floppy table applies to the classic floppy sizes.
  const totalForGeom = Math.floor(size / ss);
  let heads: number;
  let spt: number;
  if (totalForGeom <= 524288) {
    heads = totalForGeom <= 32768 ? 2 : totalForGeom <= 65536 ? 4 : totalForGeom <= 262144 ? 8 : 16;
    spt = totalForGeom <= 4096 ? 16 : 32;
  } else {
    heads = totalForGeom <= 16 * 63 * 1024 ? 16 : totalForGeom <= 32 * 63 * 1024 ? 32 : totalForGeom <= 64 * 63 * 1024 ? 64 : totalForGeom <= 128 * 63 * 1024 ? 128 : 255;
    spt = 63;
  }
  let media = 0xf8;
  let clusterSize = 4;
  let defRootEntries = 512;
  const floppy: Record<number, [number, number, number, number, number]> = {
    360: [9, 2, 0xfd, 2, 112],
    720: [9, 2, 0xf9, 2, 112],
    1200: [15, 2, 0xf9, 1, 224],
    1440: [18, 2, 0xf0, 1, 224],
    2880: [36, 2, 0xf0, 2, 224],
  };
  const fl = floppy[Math.floor(size / 1024)];
  if (fl) [spt, heads, media, clusterSize, defRootEntries] = fl;
  if (!sizeFat && size >= 512 * 1024 * 1024) sizeFat = 32;
  if (sizeFat === 32) {
    const sectors = Math.floor(size / ss);
    clusterSize = sectors > 32 * 1024 * 1024 * 2 ? 64 : sectors > 16 * 1024 * 1024 * 2 ? 32 : sectors > 8 * 1024 * 1024 * 2 ? 16 : sectors > 260 * 1024 * 2 ? 8 : 1;
  }
  let rootDirEntries = opts.rootEntries ?? defRootEntries;

  // setup_tables()
  if (sizeFat === 32) rootDirEntries = 0;
  let reserved = sizeFat === 32 ? 32 : 1;
  const blocks = Math.floor(size / 1024);
  const orphaned = Math.floor((size % 1024) / ss);
  let numSectors = Math.floor((blocks * 1024) / ss) + orphaned;
  if (numSectors > 0xffffffff) {
    warnings.push('target too large, space at end will be left unused');
    numSectors = 0xffffffff;
  }
  let align = true;
  numSectors = Math.floor(numSectors / spt) * spt;

  const rootDirSectors0 = cdiv(rootDirEntries * 32, ss);
  if (numSectors <= 8192) align = false;
  const alignObj = (sectors: number, cs: number): number => (align ? (sectors + cs - 1) & ~(cs - 1) : sectors);

  let maxClustSize: number;
  if (opts.sectorsPerCluster) clusterSize = maxClustSize = opts.sectorsPerCluster;
  else maxClustSize = 128;

  let clust12 = 0, clust16 = 0, clust32 = 0;
  let fatlength12 = 0, fatlength16 = 0, fatlength32 = 0;
  do {
    const fatdata32 = u32(numSectors - alignObj(reserved, clusterSize));
    const fatdata1216 = u32(fatdata32 - alignObj(rootDirSectors0, clusterSize));

    clust12 = Math.floor((2 * (fatdata1216 * ss + nrFats * 3)) / (2 * clusterSize * ss + nrFats * 3)) >>> 0;
    fatlength12 = cdiv(Math.floor(((clust12 + 2) * 3 + 1) / 2), ss);
    fatlength12 = alignObj(fatlength12, clusterSize);
    clust12 = Math.floor(u32(fatdata1216 - nrFats * fatlength12) / clusterSize);
    let maxclust12 = Math.floor((fatlength12 * 2 * ss) / 3);
    if (maxclust12 > MAX_CLUST_12) maxclust12 = MAX_CLUST_12;
    if (clust12 > maxclust12) clust12 = 0;

    clust16 = Math.floor((fatdata1216 * ss + nrFats * 4) / (clusterSize * ss + nrFats * 2)) >>> 0;
    fatlength16 = cdiv((clust16 + 2) * 2, ss);
    fatlength16 = alignObj(fatlength16, clusterSize);
    clust16 = Math.floor(u32(fatdata1216 - nrFats * fatlength16) / clusterSize);
    let maxclust16 = Math.floor((fatlength16 * ss) / 2);
    if (maxclust16 > MAX_CLUST_16) maxclust16 = MAX_CLUST_16;
    if (clust16 > maxclust16) clust16 = 0;
    if (clust16 && clust16 < MIN_CLUST_16) clust16 = 0;

    clust32 = Math.floor((fatdata32 * ss + nrFats * 8) / (clusterSize * ss + nrFats * 4)) >>> 0;
    fatlength32 = cdiv((clust32 + 2) * 4, ss);
    fatlength32 = alignObj(fatlength32, clusterSize);
    clust32 = Math.floor(u32(fatdata32 - nrFats * fatlength32) / clusterSize);
    let maxclust32 = Math.floor((fatlength32 * ss) / 4);
    if (maxclust32 > MAX_CLUST_32) maxclust32 = MAX_CLUST_32;
    if (clust32 > maxclust32) clust32 = 0;
    if (clust32 && clust32 < MIN_CLUST_32 && !(sizeFatByUser && sizeFat === 32)) clust32 = 0;

    if ((clust12 && (sizeFat === 0 || sizeFat === 12)) || (clust16 && (sizeFat === 0 || sizeFat === 16)) || (clust32 && sizeFat === 32)) break;
    clusterSize = (clusterSize << 1) & 0xff;
  } while (clusterSize && clusterSize <= maxClustSize);

  if (!sizeFat) sizeFat = clust16 > clust12 ? 16 : 12;
  let clusterCount: number;
  let fatLength: number;
  if (sizeFat === 12) {
    clusterCount = clust12;
    fatLength = fatlength12;
  } else if (sizeFat === 16) {
    clusterCount = clust16;
    fatLength = fatlength16;
  } else {
    if (clust32 < MIN_CLUST_32) warnings.push('Number of clusters for 32 bit FAT is less then suggested minimum.');
    clusterCount = clust32;
    fatLength = fatlength32;
    rootDirEntries = 0;
  }
  reserved = alignObj(reserved, clusterSize);
  if (align) rootDirEntries = alignObj(rootDirSectors0, clusterSize) * (ss >> 5);

  let backupBoot = 0;
  const infoSector: number = 1;
  if (sizeFat === 32) {
    backupBoot = reserved >= 7 && infoSector !== 6 ? 6
      : reserved >= 3 + infoSector && infoSector !== reserved - 2 && infoSector !== reserved - 1 ? reserved - 2
      : reserved >= 3 && infoSector !== reserved - 1 ? reserved - 1 : 0;
  }
  if (!clusterCount || !clusterSize) {
    throw new GeometryError(opts.sectorsPerCluster ? 'Not enough or too many clusters for filesystem - try less or more sectors per cluster'
      : 'Attempting to create a too small or a too large filesystem');
  }
  const rootDirSectors = cdiv(rootDirEntries * 32, ss);
  const dataStart = reserved + nrFats * fatLength + rootDirSectors;
  const startDataBlock = Math.floor((dataStart * (ss / 512) + 1) / 2);
  if (blocks < startDataBlock + 32) throw new GeometryError('Too few blocks for viable filesystem');

  return {
    fatBits: sizeFat,
    sectorSize: ss,
    totalSectors: numSectors,
    sectorsPerCluster: clusterSize,
    reservedSectors: reserved,
    numFats: nrFats,
    fatLength,
    rootEntries: rootDirEntries,
    rootDirSectors,
    clusterCount,
    media,
    heads,
    sectorsPerTrack: spt,
    hiddenSectors: 0,
    backupBootSector: backupBoot,
    infoSector: sizeFat === 32 ? infoSector : 0,
    dataStart,
    warnings,
  };
}
