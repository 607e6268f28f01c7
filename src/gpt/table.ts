/**
 * A whole GPT as libfdisk writes a new label for repart: protective MBR, primary header and
 * entry array at LBA 1/2, backup entry array and header in the last E+1 sectors.
 */
import { crc32 } from './crc32.js';
import { decodeGptEntry, encodeGptEntry, GPT_ENTRY_SIZE, type GptEntry } from './entry.js';
import { decodeGptHeader, encodeGptHeader, headerLayout, type DecodedGptHeader } from './header.js';
import { copiesDiffer, entryProblem, headerProblem } from './validate.js';
import { decodeProtectiveMbr, encodeProtectiveMbr, isHybridMbr, protectiveSizeFor } from './mbr.js';
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
  /**
   * The header of the copy that was read, seen as a primary: when only the backup is valid,
   * myLba is 1, alternateLba where the backup is, entriesLba 2.
   */
  header: DecodedGptHeader;
  table: GptTable;
  /** which copy the table comes from (the primary when both are valid) */
  source: 'primary' | 'backup';
  /** the other copy's problem, when it is not valid (it is written anew with the next change) */
  otherProblem?: string;
  /** sector 0 is a hybrid MBR, kept as it is when the table is written */
  hybridMbr?: boolean;
}

export type ReadAt = (offset: bigint, length: number) => Promise<Uint8Array>;

/** What is at the start of a disk, GPT-wise. */
export type GptProbe =
  | { kind: 'gpt'; gpt: ReadGpt }
  /** no protective MBR: not a GPT (another label, a file system, or nothing) */
  | { kind: 'none' }
  /** a protective MBR, but no valid GPT header copy (libfdisk then sees a DOS label) */
  | { kind: 'invalid'; problems: string[] };

interface Copy { header: DecodedGptHeader; array: Uint8Array }

/** One header copy at `lba`: null without a signature, else the copy or why it is not valid. */
async function readCopy(read: ReadAt, lba: bigint, N: bigint, ss: number, primary: boolean): Promise<Copy | string | null> {
  if (lba < 1n || lba >= N) return null;
  const sector = await read(lba * BigInt(ss), ss);
  const header = decodeGptHeader(sector);
  if (!header) return null;
  const problem = headerProblem(header, lba, N, ss, headerLayout(sector), primary);
  if (problem) return problem;
  const array = await read(header.entriesLba * BigInt(ss), header.numEntries * header.entrySize);
  if (crc32(array) !== header.entriesCrc32) return 'entry array checksum mismatch';
  return { header, array };
}

/**
 * Reads the GPT as libfdisk does: the primary header, else the backup (at the primary's
 * AlternateLBA, or the last sector); 512 then 4096-byte sectors. Throws E_GPT_CORRUPT when the
 * chosen table's entries or the two copies contradict each other (validate.ts).
 */
export async function probeGpt(read: ReadAt, imageBytes: bigint, where = ''): Promise<GptProbe> {
  if (imageBytes < 512n) return { kind: 'none' };
  const mbr = await read(0n, 512);
  if (!decodeProtectiveMbr(mbr)) return { kind: 'none' };
  const problems: string[] = [];
  for (const ss of [512, 4096]) {
    const N = imageBytes / BigInt(ss);
    if (N < 3n) continue;
    const p = await readCopy(read, 1n, N, ss, true);
    const backupAt = typeof p === 'object' && p !== null ? p.header.alternateLba : N - 1n;
    const b = await readCopy(read, backupAt, N, ss, false);
    if (p === null && b === null) continue;
    const valid = typeof p === 'object' && p !== null ? p : typeof b === 'object' && b !== null ? b : null;
    const describe = (c: Copy | string | null, what: string) => `${what} GPT header${typeof c === 'string' ? `: ${c}` : ' missing'}`;
    if (!valid) {
      problems.push(`${describe(p, `${ss}-byte-sector primary`)}; ${describe(b, 'backup')}`);
      continue;
    }
    const source = valid === p ? 'primary' : 'backup';
    const other = source === 'primary' ? b : p;
    if (typeof other === 'object' && other !== null) {
      const differ = copiesDiffer(valid.header, other.header);
      if (differ) throw new RepartError('E_GPT_CORRUPT', `${where}${differ}; not touching this disk`);
    }
    const h = valid.header;
    const header: DecodedGptHeader = source === 'primary' ? h : { ...h, myLba: 1n, alternateLba: h.myLba, entriesLba: 2n };
    const entries: (GptEntry | null)[] = [];
    for (let i = 0; i < h.numEntries; i++) entries.push(decodeGptEntry(valid.array, i * h.entrySize));
    const bad = entryProblem(entries, h);
    if (bad) throw new RepartError('E_GPT_CORRUPT', `${where}corrupt GPT (${source} copy): ${bad}; not touching this disk`);
    while (entries.length && entries[entries.length - 1] === null) entries.pop();
    const gpt: ReadGpt = { sectorSize: ss, header, table: { diskGuid: h.diskGuid, entries }, source };
    if (isHybridMbr(mbr)) gpt.hybridMbr = true;
    if (typeof other === 'string') gpt.otherProblem = other;
    else if (other === null) gpt.otherProblem = 'missing';
    return { kind: 'gpt', gpt };
  }
  return { kind: 'invalid', problems: problems.length ? problems : ['no GPT header at LBA 1 or at the disk end'] };
}

/**
 * The GPT of a disk, or null when it has none (no protective MBR); a protective MBR without a
 * valid GPT is an error here (E_GPT_CORRUPT).
 */
export async function readGpt(read: ReadAt, imageBytes: bigint, where = ''): Promise<ReadGpt | null> {
  const r = await probeGpt(read, imageBytes, where);
  if (r.kind === 'invalid') throw new RepartError('E_GPT_CORRUPT', `${where}no valid GPT: ${r.problems.join('; ')}`);
  return r.kind === 'gpt' ? r.gpt : null;
}
