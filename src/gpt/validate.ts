/**
 * Whether a GPT read from a disk can be trusted, before anything is planned or written. Pure:
 * each check returns the first problem as a sentence, or null.
 *
 * A header copy that fails headerProblem() is treated as absent, as libfdisk's gpt_read_header()
 * does (the other copy is used); entryProblem() and copiesDiffer() judge the table that was
 * chosen and make it unusable as a whole (systemd-repart 262 asserts, fails half-way or writes
 * such tables back; repart-ts refuses them before any write).
 */
import { GPT_HEADER_SIZE, GPT_REVISION, type DecodedGptHeader } from './header.js';
import { GPT_ENTRY_SIZE, type GptEntry } from './entry.js';
import { uuidEqual } from './guid.js';

/** The largest entry array read (libfdisk has no limit; 8192 entries of 128 bytes is far beyond any real table). */
export const MAX_ENTRY_ARRAY_BYTES = 1024 * 1024;

export function entryArraySectors(h: DecodedGptHeader, sectorSize: number): bigint {
  const bytes = BigInt(h.numEntries) * BigInt(h.entrySize);
  return (bytes + BigInt(sectorSize) - 1n) / BigInt(sectorSize);
}

/**
 * Problems of one header copy read at LBA `at` of a disk of `totalSectors` sectors. `primary`:
 * the copy at LBA 1 (its entry array and alternate follow it) or the backup (they precede it).
 */
export function headerProblem(h: DecodedGptHeader, at: bigint, totalSectors: bigint, sectorSize: number, raw: { headerSize: number; revision: number }, primary: boolean): string | null {
  const N = totalSectors;
  const { headerSize, revision } = raw;
  if (headerSize < GPT_HEADER_SIZE || headerSize > sectorSize) return `HeaderSize ${headerSize} is not within ${GPT_HEADER_SIZE}…${sectorSize}`;
  if (!h.headerCrcOk) return 'header checksum mismatch';
  if (revision !== GPT_REVISION) return `Revision 0x${revision.toString(16).padStart(8, '0')} is not 1.0`;
  if (h.myLba !== at) return `MyLBA ${h.myLba} is not where the header is (LBA ${at})`;
  const fu = h.firstUsableLba, lu = h.lastUsableLba;
  if (fu > lu) return `FirstUsableLBA ${fu} is after LastUsableLBA ${lu}`;
  if (lu >= N) return `LastUsableLBA ${lu} is beyond the disk end (${N} sectors)`;
  if (at >= fu && at <= lu) return `the header (LBA ${at}) lies inside the usable area ${fu}…${lu}`;
  if (primary ? h.alternateLba <= lu || h.alternateLba >= N : h.alternateLba >= fu)
    return `AlternateLBA ${h.alternateLba} is not ${primary ? 'after the usable area and on the disk' : 'before the usable area'}`;
  if (h.entrySize < GPT_ENTRY_SIZE || h.entrySize % GPT_ENTRY_SIZE !== 0) return `SizeOfPartitionEntry ${h.entrySize} is not a multiple of ${GPT_ENTRY_SIZE}`;
  if (h.numEntries === 0) return 'NumberOfPartitionEntries is 0';
  if (BigInt(h.numEntries) * BigInt(h.entrySize) > BigInt(MAX_ENTRY_ARRAY_BYTES))
    return `the entry array (${h.numEntries} × ${h.entrySize} bytes) is larger than ${MAX_ENTRY_ARRAY_BYTES} bytes`;
  const E = entryArraySectors(h, sectorSize);
  const a = h.entriesLba, b = a + E - 1n; // inclusive
  // each copy implies the other's place: the primary array from LBA 2, the backup's before AlternateLBA
  if (fu < 2n + E) return `FirstUsableLBA ${fu} leaves no room for the primary entry array (${E} sectors from LBA 2)`;
  if (primary && h.alternateLba - E <= lu) return `no room for the backup entry array (${E} sectors) between LastUsableLBA ${lu} and AlternateLBA ${h.alternateLba}`;
  if (a < 2n || b >= N) return `the entry array (LBA ${a}…${b}) is not on the disk after the protective MBR`;
  if (a <= lu && b >= fu) return `the entry array (LBA ${a}…${b}) overlaps the usable area ${fu}…${lu}`;
  if (primary ? a <= at : b >= at) return `the entry array (LBA ${a}…${b}) is not ${primary ? 'after' : 'before'} its header`;
  return null;
}

/** Used entries: each inside FirstUsableLBA…LastUsableLBA, start ≤ end, no two overlapping. */
export function entryProblem(entries: readonly (GptEntry | null)[], h: DecodedGptHeader): string | null {
  const used: { i: number; e: GptEntry }[] = [];
  for (const [i, e] of entries.entries()) {
    if (!e) continue;
    const n = i + 1;
    if (e.firstLba > e.lastLba) return `partition ${n} starts at LBA ${e.firstLba}, after its end (LBA ${e.lastLba})`;
    if (e.firstLba < h.firstUsableLba) return `partition ${n} starts at LBA ${e.firstLba}, before FirstUsableLBA ${h.firstUsableLba} (in the GPT header area)`;
    if (e.lastLba > h.lastUsableLba) return `partition ${n} ends at LBA ${e.lastLba}, past LastUsableLBA ${h.lastUsableLba}`;
    used.push({ i: n, e });
  }
  used.sort((x, y) => (x.e.firstLba < y.e.firstLba ? -1 : x.e.firstLba > y.e.firstLba ? 1 : 0));
  for (let k = 1; k < used.length; k++) {
    const p = used[k - 1]!, q = used[k]!;
    if (q.e.firstLba <= p.e.lastLba) return `partitions ${p.i} (LBA ${p.e.firstLba}…${p.e.lastLba}) and ${q.i} (LBA ${q.e.firstLba}…${q.e.lastLba}) overlap`;
  }
  return null;
}

/**
 * Both copies valid: they must describe the same disk. The entry arrays may differ — a crash
 * between writing the backup and the primary leaves exactly that — and the primary wins, as in
 * libfdisk.
 */
export function copiesDiffer(p: DecodedGptHeader, b: DecodedGptHeader): string | null {
  if (!uuidEqual(p.diskGuid, b.diskGuid)) return 'the primary and backup GPT headers have different disk GUIDs';
  if (p.firstUsableLba !== b.firstUsableLba || p.lastUsableLba !== b.lastUsableLba)
    return `the primary (usable LBA ${p.firstUsableLba}…${p.lastUsableLba}) and backup (${b.firstUsableLba}…${b.lastUsableLba}) GPT headers disagree`;
  if (p.numEntries !== b.numEntries || p.entrySize !== b.entrySize) return 'the primary and backup GPT headers have different entry array layouts';
  if (b.alternateLba !== p.myLba) return `the backup GPT header's AlternateLBA ${b.alternateLba} is not the primary's LBA ${p.myLba}`;
  return null;
}
