/**
 * --el-torito=yes (systemd-repart 261+): a minimal ISO 9660 volume in the free space before the
 * first partition, whose El Torito boot catalog points UEFI firmware at the ESP, so the same
 * image boots when written to optical media. Laid out as 262 writes it (measured byte for byte):
 *
 *   2048-byte sector 16  primary volume descriptor (21 sectors, root directory in sector 20)
 *                    17  boot record "EL TORITO SPECIFICATION", catalog in sector 19
 *                    18  volume descriptor set terminator
 *                    19  boot catalog: validation entry (platform EFI), default entry
 *                        (bootable, no emulation, load RBA = ESP offset / 2048, 0 sectors),
 *                        an empty final section header
 *                    20  root directory: "." and ".."
 * The dates are SOURCE_DATE_EPOCH's (else now), in UTC.
 */
import { RepartError } from '../errors.js';

export const ISO_SECTOR = 2048;
/** Byte offset of the first descriptor and the number of bytes written from there. */
export const EL_TORITO_OFFSET = 16 * ISO_SECTOR;
export const EL_TORITO_LENGTH = 5 * ISO_SECTOR;

const PVD = 16, BOOT_RECORD = 17, TERMINATOR = 18, CATALOG = 19, ROOT_DIR = 20;
const VOLUME_SECTORS = 21;
const ROOT_DIR_BYTES = 68;

export interface ElToritoOptions {
  /** byte offset of the ESP in the image (a multiple of 2048) */
  espOffset: bigint;
  system?: string;
  volume?: string;
  publisher?: string;
  /** seconds since the epoch, for the descriptor and directory dates */
  time: number;
}

/** Identifier lengths in the primary volume descriptor (what repart accepts). */
export const ID_LIMITS = { system: 32, volume: 32, publisher: 128 } as const;

export function checkIdentifier(kind: keyof typeof ID_LIMITS, v: string): void {
  if (v.length > ID_LIMITS[kind] || !/^[\x20-\x7e]*$/.test(v))
    throw new RepartError('E_USAGE', `Invalid value '${v}' for --el-torito-${kind}=.`, {});
}

function both32(b: Buffer, at: number, v: number): void { b.writeUInt32LE(v, at); b.writeUInt32BE(v, at + 4); }
function both16(b: Buffer, at: number, v: number): void { b.writeUInt16LE(v, at); b.writeUInt16BE(v, at + 2); }
function text(b: Buffer, at: number, len: number, s: string, fill = 0x20): void {
  b.fill(fill, at, at + len);
  b.write(s, at, len, 'latin1');
}

/** ISO 9660 "dec-datetime": YYYYMMDDHHMMSScc and a zero GMT offset. */
function decDate(b: Buffer, at: number, d: Date | null): void {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const s = d ? `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}00` : '0'.repeat(16);
  b.write(s, at, 16, 'latin1');
  b[at + 16] = 0;
}

function dirRecord(b: Buffer, at: number, name: number, d: Date): void {
  b[at] = 34;
  both32(b, at + 2, ROOT_DIR);
  both32(b, at + 10, ROOT_DIR_BYTES);
  b[at + 18] = d.getUTCFullYear() - 1900;
  b[at + 19] = d.getUTCMonth() + 1;
  b[at + 20] = d.getUTCDate();
  b[at + 21] = d.getUTCHours();
  b[at + 22] = d.getUTCMinutes();
  b[at + 23] = d.getUTCSeconds();
  b[at + 25] = 2; // directory
  both16(b, at + 28, 1);
  b[at + 32] = 1;
  b[at + 33] = name;
}

function descriptorHeader(b: Buffer, type: number): void {
  b[0] = type;
  b.write('CD001', 1, 'latin1');
  b[6] = 1;
}

/** The five sectors written at EL_TORITO_OFFSET. */
export function encodeElTorito(o: ElToritoOptions): Buffer {
  if (o.espOffset % BigInt(ISO_SECTOR) !== 0n) throw new RepartError('E_CONFIG_VALUE', 'El Torito needs the ESP aligned to 2048 bytes', {});
  const d = new Date(o.time * 1000);
  const out = Buffer.alloc(EL_TORITO_LENGTH);
  const sector = (n: number) => out.subarray((n - PVD) * ISO_SECTOR, (n - PVD + 1) * ISO_SECTOR);

  const pvd = sector(PVD);
  descriptorHeader(pvd, 1);
  text(pvd, 8, 32, o.system ?? '');
  text(pvd, 40, 32, o.volume ?? '');
  both32(pvd, 80, VOLUME_SECTORS);
  both16(pvd, 120, 1);
  both16(pvd, 124, 1);
  both16(pvd, 128, ISO_SECTOR);
  dirRecord(pvd, 156, 0, d);
  text(pvd, 190, 128, '');
  text(pvd, 318, 128, o.publisher ?? '');
  text(pvd, 446, 128, '');
  text(pvd, 574, 128, 'SYSTEMD-REPART');
  text(pvd, 702, 37 * 3, '');
  decDate(pvd, 813, d);
  decDate(pvd, 830, d);
  decDate(pvd, 847, null);
  decDate(pvd, 864, null);
  pvd[881] = 1;

  const br = sector(BOOT_RECORD);
  descriptorHeader(br, 0);
  br.write('EL TORITO SPECIFICATION', 7, 'latin1');
  br.writeUInt32LE(CATALOG, 71);

  descriptorHeader(sector(TERMINATOR), 0xff);

  const cat = sector(CATALOG);
  cat[0] = 1;
  cat[1] = 0xef; // EFI
  cat[30] = 0x55;
  cat[31] = 0xaa;
  let sum = 0;
  for (let i = 0; i < 32; i += 2) sum = (sum + cat.readUInt16LE(i)) & 0xffff;
  cat.writeUInt16LE((0x10000 - sum) & 0xffff, 28);
  cat[32] = 0x88; // bootable, no emulation
  cat.writeUInt32LE(Number(o.espOffset / BigInt(ISO_SECTOR)), 32 + 8);
  cat[64] = 0x91; // final section header, no entries

  const root = sector(ROOT_DIR);
  dirRecord(root, 0, 0, d);
  dirRecord(root, 34, 1, d);
  return out;
}

export interface ElToritoInfo {
  system: string;
  volume: string;
  publisher: string;
  application: string;
  catalogSector: number;
  platform: number;
  bootable: boolean;
  loadRba: number;
  created: string;
}

/** Reads back what encodeElTorito() wrote (for tests and diagnostics); null if there is none. */
export function decodeElTorito(b: Uint8Array): ElToritoInfo | null {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length < EL_TORITO_LENGTH) return null;
  const sector = (n: number) => buf.subarray((n - PVD) * ISO_SECTOR, (n - PVD + 1) * ISO_SECTOR);
  const pvd = sector(PVD), br = sector(BOOT_RECORD);
  if (pvd[0] !== 1 || pvd.toString('latin1', 1, 6) !== 'CD001') return null;
  if (br[0] !== 0 || br.toString('latin1', 7, 30) !== 'EL TORITO SPECIFICATION') return null;
  const catalogSector = br.readUInt32LE(71);
  const cat = sector(catalogSector);
  if (cat[0] !== 1 || cat[30] !== 0x55 || cat[31] !== 0xaa) return null;
  let sum = 0;
  for (let i = 0; i < 32; i += 2) sum = (sum + cat.readUInt16LE(i)) & 0xffff;
  if (sum !== 0) return null;
  const trim = (at: number, len: number) => pvd.toString('latin1', at, at + len).replace(/ +$/, '');
  return {
    system: trim(8, 32), volume: trim(40, 32), publisher: trim(318, 128), application: trim(574, 128),
    catalogSector, platform: cat[1]!, bootable: cat[32] === 0x88, loadRba: cat.readUInt32LE(40),
    created: pvd.toString('latin1', 813, 829),
  };
}

/** The ESP the catalog points at: the first live partition of type esp (repart refuses without). */
export function elToritoEsp<P extends { type: { role: string | null }; dropped?: boolean; offset: bigint }>(partitions: P[]): P {
  const esp = partitions.find((p) => !p.dropped && p.type.role === 'esp');
  if (!esp) throw new RepartError('E_CONFIG_CONFLICT', 'El Torito boot catalog requires an ESP.', {});
  return esp;
}

/** Writes the descriptors and catalog into the image file (the space before the first partition). */
export async function writeElTorito(image: string, o: ElToritoOptions): Promise<void> {
  const { open } = await import('node:fs/promises');
  const f = await open(image, 'r+');
  try {
    await f.write(encodeElTorito(o), 0, EL_TORITO_LENGTH, EL_TORITO_OFFSET);
  } finally {
    await f.close();
  }
}
