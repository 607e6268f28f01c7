/**
 * An existing partition table as repart's incremental mode sees it (context_load_partition_table(),
 * gpt-layout.md §3.2): which entry belongs to which definition, what is foreign, and how much
 * free space follows each partition. Pure.
 */
import type { PartitionDefinition } from '../config/definition.js';
import { roundDown, roundUp } from '../config/values.js';
import { uuidEqual, type Uuid } from '../gpt/guid.js';
import type { ReadGpt } from '../gpt/table.js';

export interface ExistingPartition {
  /** GPT entry index */
  partno: number;
  type: Uuid;
  uuid: Uuid;
  label: string;
  offset: bigint;
  size: bigint;
  attributes: bigint;
}

export interface ExistingTable {
  diskGuid: Uuid;
  sectorSize: number;
  /** the image file's size before anything is grown */
  imageSize: bigint;
  firstUsableLba: bigint;
  lastUsableLba: bigint;
  /** where the backup header is (the old end of a grown image) */
  alternateLba: bigint;
  numEntries: number;
  entrySize: number;
  /** a hybrid MBR is kept as it is */
  hybridMbr: boolean;
  /** in table (entry index) order */
  partitions: ExistingPartition[];
}

export function existingFromGpt(g: ReadGpt, imageSize: bigint): ExistingTable {
  const ss = BigInt(g.sectorSize);
  const partitions: ExistingPartition[] = [];
  g.table.entries.forEach((e, partno) => {
    if (!e) return;
    partitions.push({
      partno, type: e.typeGuid, uuid: e.partGuid, label: e.name, attributes: e.attributes,
      offset: e.firstLba * ss, size: (e.lastLba - e.firstLba + 1n) * ss,
    });
  });
  return {
    diskGuid: g.table.diskGuid, sectorSize: g.sectorSize, imageSize,
    firstUsableLba: g.header.firstUsableLba, lastUsableLba: g.header.lastUsableLba, alternateLba: g.header.alternateLba,
    numEntries: g.header.numEntries, entrySize: g.header.entrySize, hybridMbr: g.hybridMbr ?? false,
    partitions,
  };
}

export interface Binding {
  /** per definition: the existing partition it took over, if any */
  bound: (ExistingPartition | undefined)[];
  /** entries no definition claimed, in table order: kept as they are */
  foreign: ExistingPartition[];
}

/** Each entry, in table order, goes to the first definition of its type that has none yet. */
export function bindExisting(defs: readonly PartitionDefinition[], table: ExistingTable | undefined): Binding {
  const bound: (ExistingPartition | undefined)[] = defs.map(() => undefined);
  const foreign: ExistingPartition[] = [];
  for (const e of table?.partitions ?? []) {
    const i = defs.findIndex((d, k) => bound[k] === undefined && uuidEqual(d.type.uuid, e.type));
    if (i >= 0) bound[i] = e;
    else foreign.push(e);
  }
  return { bound, foreign };
}

/**
 * determine_current_padding(): from the partition's end to the next partition's start (or the end
 * of the usable area), both rounded inwards to the grain.
 */
export function currentPadding(e: ExistingPartition, table: ExistingTable, lastUsableLba: bigint, grain: bigint): bigint {
  const end = e.offset + e.size;
  let next: bigint | null = null;
  for (const q of table.partitions) if (q.offset >= end && (next === null || q.offset < next)) next = q.offset;
  if (next === null) next = (lastUsableLba + 1n) * BigInt(table.sectorSize);
  const a = roundUp(end, grain);
  const b = roundDown(next, grain);
  return b > a ? b - a : 0n;
}
