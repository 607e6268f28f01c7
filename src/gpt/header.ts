/** GPT header (UEFI 2.x §5.3.2), 92 bytes used; the rest of the sector is zero. */
import { crc32 } from './crc32.js';
import { uuidFromDisk, uuidToDisk, type Uuid } from './guid.js';

export const GPT_SIGNATURE = 'EFI PART';
export const GPT_REVISION = 0x00010000;
export const GPT_HEADER_SIZE = 92;

export interface GptHeader {
  myLba: bigint;
  alternateLba: bigint;
  firstUsableLba: bigint;
  lastUsableLba: bigint;
  diskGuid: Uuid;
  entriesLba: bigint;
  numEntries: number;
  entrySize: number;
  entriesCrc32: number;
}

/** Encodes into a sector-sized buffer; the header CRC is computed here. */
export function encodeGptHeader(h: GptHeader, sectorSize: number): Uint8Array {
  const b = new Uint8Array(sectorSize);
  const v = new DataView(b.buffer);
  b.set(Buffer.from(GPT_SIGNATURE, 'ascii'), 0);
  v.setUint32(8, GPT_REVISION, true);
  v.setUint32(12, GPT_HEADER_SIZE, true);
  v.setBigUint64(24, h.myLba, true);
  v.setBigUint64(32, h.alternateLba, true);
  v.setBigUint64(40, h.firstUsableLba, true);
  v.setBigUint64(48, h.lastUsableLba, true);
  uuidToDisk(h.diskGuid, b, 56);
  v.setBigUint64(72, h.entriesLba, true);
  v.setUint32(80, h.numEntries, true);
  v.setUint32(84, h.entrySize, true);
  v.setUint32(88, h.entriesCrc32 >>> 0, true);
  v.setUint32(16, crc32(b.subarray(0, GPT_HEADER_SIZE)), true);
  return b;
}

export interface DecodedGptHeader extends GptHeader {
  /** false too when HeaderSize is below 92 or beyond the sector (the CRC cannot be checked) */
  headerCrcOk: boolean;
}

/** Revision and HeaderSize as stored: a header is only trusted for the ones encodeGptHeader() writes. */
export function headerLayout(b: Uint8Array): { revision: number; headerSize: number } {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  return { revision: v.getUint32(8, true), headerSize: v.getUint32(12, true) };
}

/** Returns null only without the "EFI PART" signature; every other field is left to validate.ts. */
export function decodeGptHeader(b: Uint8Array): DecodedGptHeader | null {
  if (b.length < GPT_HEADER_SIZE) return null;
  if (Buffer.from(b.subarray(0, 8)).toString('latin1') !== GPT_SIGNATURE) return null;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const size = v.getUint32(12, true);
  let crcOk = false;
  if (size >= GPT_HEADER_SIZE && size <= b.length) {
    const copy = Uint8Array.from(b.subarray(0, size));
    new DataView(copy.buffer).setUint32(16, 0, true);
    crcOk = crc32(copy) === v.getUint32(16, true);
  }
  return {
    myLba: v.getBigUint64(24, true),
    alternateLba: v.getBigUint64(32, true),
    firstUsableLba: v.getBigUint64(40, true),
    lastUsableLba: v.getBigUint64(48, true),
    diskGuid: uuidFromDisk(b, 56),
    entriesLba: v.getBigUint64(72, true),
    numEntries: v.getUint32(80, true),
    entrySize: v.getUint32(84, true),
    entriesCrc32: v.getUint32(88, true),
    headerCrcOk: crcOk,
  };
}
