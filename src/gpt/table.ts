/**
 * A whole GPT as libfdisk writes a new label for repart: protective MBR, primary header and
 * entry array at LBA 1/2, backup entry array and header in the last E+1 sectors.
 */
import { crc32 } from './crc32.js';
import { decodeGptEntry, encodeGptEntry, GPT_ENTRY_SIZE, type GptEntry } from './entry.js';
import { decodeGptHeader, encodeGptHeader, type DecodedGptHeader } from './header.js';
import { decodeProtectiveMbr, encodeProtectiveMbr, protectiveSizeFor } from './mbr.js';
import type { Uuid } from './guid.js';
import { RepartError } from '../errors.js';

export const GPT_NUM_ENTRIES = 128;
const ENTRY_ARRAY_BYTES = GPT_NUM_ENTRIES * GPT_ENTRY_SIZE;
const MIB = 1024 * 1024;

export interface GptGeometry {
  sectorSize: number;
  totalSectors: bigint;
  /** E: sectors of one entry array */
  entryArraySectors: bigint;
  firstUsableLba: bigint;
  lastUsableLba: bigint;
}

/** libfdisk's count_first_last_lba() + topology_get_first_lba() for an image file (no topology). */
export function gptGeometry(imageBytes: bigint, sectorSize: number): GptGeometry {
  const ss = BigInt(sectorSize);
  const N = imageBytes / ss;
  const E = (BigInt(ENTRY_ARRAY_BYTES) + ss - 1n) / ss;
  const uefiFirst = 2n + E;
  const lastUsable = N - 2n - E;
  let topoFirst = BigInt(MIB) / ss;
  // Files report a 512-byte physical sector; below 4 MiB libfdisk stops aligning to 1 MiB.
  if (N <= 4n * topoFirst) topoFirst = 512n / ss;
  const first = uefiFirst < topoFirst && topoFirst < lastUsable ? topoFirst : uefiFirst;
  return { sectorSize, totalSectors: N, entryArraySectors: E, firstUsableLba: first, lastUsableLba: lastUsable };
}

export interface GptTable {
  diskGuid: Uuid;
  /** index = partition entry number (partno); null = unused slot. Length ≤ 128. */
  entries: (GptEntry | null)[];
}

export interface EncodedGpt {
  /** bytes for offset 0: MBR sector, header sector, entry array */
  head: Uint8Array;
  /** bytes for offset tailOffset: backup entry array then backup header */
  tail: Uint8Array;
  tailOffset: bigint;
}

export function encodeEntryArray(entries: (GptEntry | null)[]): Uint8Array {
  const arr = new Uint8Array(ENTRY_ARRAY_BYTES);
  entries.forEach((e, i) => {
    if (e) encodeGptEntry(e, arr, i * GPT_ENTRY_SIZE);
  });
  return arr;
}

export function encodeGpt(table: GptTable, geo: GptGeometry): EncodedGpt {
  const ss = geo.sectorSize;
  const E = geo.entryArraySectors;
  const N = geo.totalSectors;
  if (table.entries.length > GPT_NUM_ENTRIES) throw new RangeError('more than 128 GPT entries');
  const arrayBytes = Number(E) * ss; // ≥ 16384; the slack after 128 entries stays zero
  const arr = new Uint8Array(arrayBytes);
  arr.set(encodeEntryArray(table.entries));
  const arrCrc = crc32(arr.subarray(0, ENTRY_ARRAY_BYTES));
  const common = {
    firstUsableLba: geo.firstUsableLba,
    lastUsableLba: geo.lastUsableLba,
    diskGuid: table.diskGuid,
    numEntries: GPT_NUM_ENTRIES,
    entrySize: GPT_ENTRY_SIZE,
    entriesCrc32: arrCrc,
  };
  const primary = encodeGptHeader({ ...common, myLba: 1n, alternateLba: N - 1n, entriesLba: 2n }, ss);
  const backup = encodeGptHeader({ ...common, myLba: N - 1n, alternateLba: 1n, entriesLba: N - 1n - E }, ss);

  const head = new Uint8Array(ss * 2 + arrayBytes);
  head.set(encodeProtectiveMbr({ sizeInLba: protectiveSizeFor(N) }), 0);
  head.set(primary, ss);
  head.set(arr, ss * 2);
  const tail = new Uint8Array(arrayBytes + ss);
  tail.set(arr, 0);
  tail.set(backup, arrayBytes);
  return { head, tail, tailOffset: (N - 1n - E) * BigInt(ss) };
}

export interface ReadGpt {
  sectorSize: number;
  header: DecodedGptHeader;
  table: GptTable;
}

export type ReadAt = (offset: bigint, length: number) => Promise<Uint8Array>;

/**
 * Reads the primary GPT, probing 512 and 4096-byte sectors as libfdisk/blkid do.
 * Returns null when there is no GPT (no protective MBR or no header).
 */
export async function readGpt(read: ReadAt, imageBytes: bigint, where = ''): Promise<ReadGpt | null> {
  const mbr = decodeProtectiveMbr(await read(0n, 512));
  if (!mbr) return null;
  for (const ss of [512, 4096]) {
    if (imageBytes < BigInt(ss * 2)) continue;
    const header = decodeGptHeader(await read(BigInt(ss), ss));
    if (!header) continue;
    if (!header.headerCrcOk) throw new RepartError('E_GPT_CORRUPT', `${where}GPT header checksum mismatch`);
    if (header.entrySize !== GPT_ENTRY_SIZE || header.numEntries > 4096)
      throw new RepartError('E_GPT_CORRUPT', `${where}unsupported GPT entry layout`);
    const arr = await read(header.entriesLba * BigInt(ss), header.numEntries * header.entrySize);
    if (crc32(arr) !== header.entriesCrc32) throw new RepartError('E_GPT_CORRUPT', `${where}GPT entry array checksum mismatch`);
    const entries: (GptEntry | null)[] = [];
    for (let i = 0; i < header.numEntries; i++) entries.push(decodeGptEntry(arr, i * GPT_ENTRY_SIZE));
    while (entries.length && entries[entries.length - 1] === null) entries.pop();
    return { sectorSize: ss, header, table: { diskGuid: header.diskGuid, entries } };
  }
  return null;
}
