/**
 * From definitions to a complete partition table: identifiers, labels, flags, image size,
 * allocation and placement. Pure apart from the warnings it reports.
 */
import { asCompat, type Compat } from '../compat.js';
import { emptyDefinition, type PartitionDefinition } from '../config/definition.js';
import { roundDown, roundUp } from '../config/values.js';
import { uuidEqual, type Uuid } from '../gpt/guid.js';
import { gptGeometry, type GptGeometry } from '../gpt/table.js';
import { defaultLabelPrefix, knowsGrowFs, knowsNoAuto, knowsReadOnly, typeFromUuid, type PartitionType } from '../gpt/types.js';
import { bindExisting, currentPadding, type ExistingTable } from './existing.js';
import { allocate, minWithPadding, type AllocItem } from './allocate.js';
import { deriveUuid, derivePartitionUuid, randomUuid } from './ids.js';
import { maxPadding, maxSize, minPadding, minSize, type SizeContext } from './sizes.js';

export interface PlanOptions {
  compat: Compat | number;
  seed: Uuid;
  sectorSize: number;
  /** alignment; default max(4096, sectorSize) */
  grain?: number;
  /** file system sector size default (formatting.md §2.3) */
  fsSectorSize: number;
  /** 'auto', an explicit --size (already rounded up to 4096), or the existing file size */
  size: 'auto' | bigint;
  /** CopyBlocks= source sizes, by definition index */
  copyBlocksSizes?: Map<number, bigint>;
  /** incremental mode: the partition table already in the image */
  existing?: ExistingTable;
  warn: (msg: string) => void;
  /** a random UUID, for a derived one that clashes (default: node:crypto) */
  randomUuid?: () => Uuid;
}

export interface PlannedPartition {
  def: PartitionDefinition;
  type: PartitionType;
  uuid: Uuid;
  fsUuid: Uuid;
  label: string;
  /** flags as repart computes them */
  flags: bigint;
  /** what libfdisk actually stores (bits 0..47 make it drop everything, gpt-layout.md §6) */
  diskAttributes: bigint;
  dropped: boolean;
  partno: number;
  offset: bigint;
  size: bigint;
  padding: bigint;
  /** incremental mode: the partition was there already (size and padding before this run) */
  existing?: { size: bigint; padding: bigint; attributes: bigint };
  /** an existing partition no definition claimed; `def` is a stand-in */
  foreign: boolean;
  /** the name its GPT entry is written with, when not `label` (partitions without definition) */
  gptName?: string;
}

export interface Plan {
  imageSize: bigint;
  geometry: GptGeometry;
  grain: bigint;
  diskGuid: Uuid;
  /** definitions in order, then foreign partitions */
  partitions: PlannedPartition[];
  /** the order repart lists them in (262 sorts by offset after allocating) */
  listOrder: number[];
}

const BIT_NOAUTO = 1n << 63n;
const BIT_RO = 1n << 60n;
const BIT_GROWFS = 1n << 59n;
const LOW48 = (1n << 48n) - 1n;

function mergeFlags(d: PartitionDefinition, compat: Compat, warn: (m: string) => void): bigint {
  let f = d.flags ?? 0n;
  const apply = (v: boolean | undefined, knows: boolean, bit: bigint, key: string) => {
    if (v === undefined) return;
    if (!knows) {
      warn(`${d.file}: ${key}= is not supported for partition type ${d.type.name}, ignoring`);
      return;
    }
    f = v ? f | bit : f & ~bit;
  };
  apply(d.noAuto, knowsNoAuto(d.type), BIT_NOAUTO, 'NoAuto');
  apply(d.readOnly, knowsReadOnly(d.type, compat), BIT_RO, 'ReadOnly');
  apply(d.growFileSystem, knowsGrowFs(d.type), BIT_GROWFS, 'GrowFileSystem');
  return f;
}

/**
 * Labels: an existing partition's non-empty label, else Label=, else the type's name, then
 * name-2, -3, … avoiding labels of earlier partitions only.
 */
export function deriveLabels(defs: PartitionDefinition[], current: readonly (string | undefined)[] = []): string[] {
  const labels: string[] = [];
  for (const [i, d] of defs.entries()) {
    const c = current[i];
    if (c !== undefined && c !== '') { labels.push(c); continue; }
    if (d.label !== undefined) { labels.push(d.label); continue; }
    const prefix = defaultLabelPrefix(d.type);
    let cand = prefix;
    for (let n = 2; labels.includes(cand); n++) cand = `${prefix}-${n}`;
    labels.push(cand);
  }
  return labels;
}

export function autoSize(sumMin: bigint, sectorSize: number, grain: bigint, compat: Compat | number): bigint {
  if (asCompat(compat).autoSizeByGrain) return roundUp(1024n * 1024n, grain) + 16384n + BigInt(sectorSize) + sumMin;
  return 1069056n + sumMin;
}

/** UUIDs: an existing partition keeps its own; k counts every earlier list entry of the same type. */
function partitionUuids(list: PartitionDefinition[], current: readonly ({ uuid: Uuid } | undefined)[], o: PlanOptions): Uuid[] {
  const uuids: Uuid[] = [];
  const derived = list.map(() => false);
  list.forEach((d, i) => {
    const cur = current[i];
    if (cur && cur.uuid.some((b) => b !== 0)) { uuids.push(cur.uuid); return; }
    if (d.uuid) { uuids.push(d.uuid); return; }
    let k = 0;
    for (let j = 0; j < i; j++) if (uuidEqual(list[j]!.type.uuid, d.type.uuid)) k++;
    uuids.push(derivePartitionUuid(o.seed, d.type.uuid, k));
    derived[i] = true;
  });
  list.forEach((d, i) => {
    if (!derived[i]) return;
    const clash = uuids.some((u, j) => j !== i && uuidEqual(u, uuids[i]!));
    if (clash) {
      o.warn(`${d.file}: derived partition UUID already in use, using a random one`);
      uuids[i] = (o.randomUuid ?? randomUuid)();
    }
  });

  return uuids;
}

/**
 * Partition numbers: existing ones keep theirs; new ones in placement order take the lowest free
 * slot (262: above the last existing partition of the same type, when there is one).
 */
function partitionNumbers(list: PartitionDefinition[], current: readonly ({ partno: number } | undefined)[], placementOrder: number[], ex: ExistingTable | undefined, compat: Compat): number[] {
  const partnos: number[] = list.map((_, i) => current[i]?.partno ?? -1);
  const used = new Set(partnos.filter((n) => n >= 0));
  for (const i of placementOrder) {
    let from = 0;
    if (compat.partnoAfterSameType) for (const e of ex?.partitions ?? []) if (uuidEqual(e.type, list[i]!.type.uuid) && e.partno + 1 > from) from = e.partno + 1;
    let n = from;
    while (used.has(n)) n++;
    if (n >= 128 && from > 0) for (n = 0; used.has(n);) n++;
    used.add(n);
    partnos[i] = n;
  }

  return partnos;
}

export function makePlan(defs: PartitionDefinition[], o: PlanOptions): Plan {
  const compat = asCompat(o.compat);
  const grain = BigInt(Math.max(o.grain ?? 4096, o.sectorSize));
  const sc: SizeContext = { compat, grain, fsSectorSize: o.fsSectorSize };
  const ex = o.existing;
  const { bound, foreign } = bindExisting(defs, ex);
  // the list: definitions in order, then the partitions no definition claimed
  const list = [...defs, ...foreign.map((e) => {
    const d = emptyDefinition('', `foreign-${e.partno}`);
    d.type = typeFromUuid(e.type);
    d.splitName = ''; // repart splits only what it has definitions for
    return d;
  })];
  const current = [...bound, ...foreign];
  const isForeign = (i: number) => i >= defs.length;
  const inputs = (i: number) => ({ copyBlocksSize: current[i] ? undefined : o.copyBlocksSizes?.get(i), existingSize: current[i]?.size });

  const uuids = partitionUuids(list, current, o);

  const labels = deriveLabels(list, current.map((c) => c?.label));

  const ss = BigInt(o.sectorSize);
  const items: AllocItem[] = list.map((d, i) => {
    const cur = current[i];
    return {
      minSize: isForeign(i) ? cur!.size : minSize(d, sc, inputs(i)),
      maxSize: isForeign(i) ? cur!.size : maxSize(d, sc, inputs(i)),
      minPadding: isForeign(i) ? 0n : minPadding(d),
      maxPadding: isForeign(i) ? null : maxPadding(d),
      weight: d.weight,
      paddingWeight: d.paddingWeight,
      priority: d.priority,
      file: d.file,
      foreign: isForeign(i),
      existing: cur ? { partno: cur.partno, offset: cur.offset, size: cur.size, padding: 0n } : undefined,
    };
  });
  // SupplementFor=: the target's bounds with the supplement's sizes and paddings folded in and the
  // supplement's weights (partition_min_size() & co. with p->suppressing set)
  list.forEach((d, i) => {
    if (d.supplementFor === undefined || isForeign(i)) return;
    const ti = list.findIndex((x, k) => !isForeign(k) && x.id === d.supplementFor);
    if (ti < 0) return;
    const t = list[ti]!;
    const hi = (a?: bigint, b?: bigint) => (a === undefined ? b : b === undefined ? a : a > b ? a : b);
    const lo = (a?: bigint, b?: bigint) => (a === undefined ? b : b === undefined ? a : a < b ? a : b);
    const m: PartitionDefinition = { ...t, sizeMin: hi(t.sizeMin, d.sizeMin), sizeMax: lo(t.sizeMax, d.sizeMax), paddingMin: hi(t.paddingMin, d.paddingMin), paddingMax: lo(t.paddingMax, d.paddingMax) };
    items[i]!.supplementFor = ti;
    items[ti]!.merged = { minSize: minSize(m, sc, inputs(ti)), maxSize: maxSize(m, sc, inputs(ti)), minPadding: minPadding(m), maxPadding: maxPadding(m), weight: d.weight, paddingWeight: d.paddingWeight };
  });

  let imageSize: bigint;
  if (o.size === 'auto') {
    let sum = 0n;
    // a supplement that will be merged counts through its target's merged bounds
    const merging = new Set(items.filter((it) => it.supplementFor !== undefined && !it.existing).map((it) => it.supplementFor!));
    items.forEach((it, i) => {
      if (it.supplementFor !== undefined && !it.existing) return;
      sum += minWithPadding(merging.has(i) && it.merged ? { ...it, ...it.merged } : it, grain);
    });
    imageSize = autoSize(sum, o.sectorSize, grain, compat);
    // an image file is only ever grown
    if (ex && imageSize < ex.imageSize) imageSize = ex.imageSize;
  } else imageSize = o.size;

  let geometry = gptGeometry(imageSize, o.sectorSize);
  if (ex) {
    // The file is grown before the table is read: libfdisk keeps the table's first usable LBA and
    // moves the last one with the backup header to the (new) end.
    const moved = geometry.totalSectors - 1n !== ex.alternateLba;
    geometry = { ...geometry, firstUsableLba: ex.firstUsableLba, lastUsableLba: moved ? geometry.lastUsableLba : ex.lastUsableLba };
    items.forEach((it, i) => { if (it.existing) it.existing.padding = currentPadding(current[i]!, ex, geometry.lastUsableLba, grain); });
  }
  const start = roundUp(geometry.firstUsableLba * ss, grain);
  const end = roundDown((geometry.lastUsableLba + 1n) * ss, grain);

  const alloc = allocate(items, start, end, grain, compat);

  const partnos = partitionNumbers(list, current, alloc.placementOrder, ex, compat);

  const partitions = list.map((d, i): PlannedPartition => {
    const cur = current[i];
    const flags = isForeign(i) ? cur!.attributes : mergeFlags(d, compat, o.warn);
    const p = alloc.placed[i];
    const it = items[i]!;
    return {
      def: d,
      type: d.type,
      uuid: uuids[i]!,
      fsUuid: deriveUuid(uuids[i]!, 'file-system-uuid'),
      label: labels[i]!,
      flags,
      // libfdisk leaves an existing entry's attributes alone
      diskAttributes: cur ? cur.attributes : (flags & LOW48) !== 0n ? 0n : flags,
      dropped: p === null,
      partno: p === null ? -1 : partnos[i]!,
      offset: p?.offset ?? 0n,
      size: p?.size ?? 0n,
      padding: p?.padding ?? 0n,
      existing: cur && it.existing ? { size: cur.size, padding: it.existing.padding, attributes: cur.attributes } : undefined,
      foreign: isForeign(i),
      // a partition without definition keeps its table entry's name (even none): repart only
      // sets the labels of partitions it has definitions for
      ...(isForeign(i) ? { gptName: cur!.label } : {}),
    };
  });

  // 262 re-sorts its list after allocating: by offset, dropped partitions last
  const listOrder = list.map((_, i) => i);
  if (compat.listByOffset) {
    listOrder.sort((a, b) => {
      const pa = partitions[a]!, pb = partitions[b]!;
      if (pa.dropped !== pb.dropped) return pa.dropped ? 1 : -1;
      if (pa.dropped) return a - b;
      return pa.offset < pb.offset ? -1 : pa.offset > pb.offset ? 1 : a - b;
    });
  }

  const diskGuid = ex && ex.diskGuid.some((b) => b !== 0) ? ex.diskGuid : deriveUuid(o.seed, 'disk-uuid');
  return { imageSize, geometry, grain, diskGuid, partitions, listOrder };
}
