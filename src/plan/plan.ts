/**
 * From definitions to a complete partition table: identifiers, labels, flags, image size,
 * allocation and placement. Pure apart from the warnings it reports.
 */
import type { PartitionDefinition } from '../config/definition.js';
import { roundDown, roundUp } from '../config/values.js';
import { uuidEqual, type Uuid } from '../gpt/guid.js';
import { gptGeometry, type GptGeometry } from '../gpt/table.js';
import { defaultLabelPrefix, knowsGrowFs, knowsNoAuto, knowsReadOnly, type PartitionType } from '../gpt/types.js';
import { allocate } from './allocate.js';
import { deriveUuid, derivePartitionUuid, randomUuid } from './ids.js';
import { maxPadding, maxSize, minPadding, minSize, minSizeWithPadding, type SizeContext } from './sizes.js';

export interface PlanOptions {
  compat: number;
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
  warn: (msg: string) => void;
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
}

export interface Plan {
  imageSize: bigint;
  geometry: GptGeometry;
  grain: bigint;
  diskGuid: Uuid;
  partitions: PlannedPartition[];
}

const BIT_NOAUTO = 1n << 63n;
const BIT_RO = 1n << 60n;
const BIT_GROWFS = 1n << 59n;
const LOW48 = (1n << 48n) - 1n;

function mergeFlags(d: PartitionDefinition, compat: number, warn: (m: string) => void): bigint {
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

/** Labels: Label=, else the type's name, then name-2, -3, … avoiding labels of earlier partitions only. */
export function deriveLabels(defs: PartitionDefinition[]): string[] {
  const labels: string[] = [];
  for (const d of defs) {
    if (d.label !== undefined) { labels.push(d.label); continue; }
    const prefix = defaultLabelPrefix(d.type);
    let cand = prefix;
    for (let n = 2; labels.includes(cand); n++) cand = `${prefix}-${n}`;
    labels.push(cand);
  }
  return labels;
}

export function autoSize(sumMin: bigint, sectorSize: number, grain: bigint, compat: number): bigint {
  if (compat >= 262) return roundUp(1024n * 1024n, grain) + 16384n + BigInt(sectorSize) + sumMin;
  return 1069056n + sumMin;
}

export function makePlan(defs: PartitionDefinition[], o: PlanOptions): Plan {
  const grain = BigInt(Math.max(o.grain ?? 4096, o.sectorSize));
  const sc: SizeContext = { compat: o.compat, grain, fsSectorSize: o.fsSectorSize };
  const inputs = (i: number) => ({ copyBlocksSize: o.copyBlocksSizes?.get(i) });

  // UUIDs: k counts every earlier definition of the same (final) type.
  const uuids: Uuid[] = [];
  defs.forEach((d, i) => {
    if (d.uuid) { uuids.push(d.uuid); return; }
    let k = 0;
    for (let j = 0; j < i; j++) if (uuidEqual(defs[j]!.type.uuid, d.type.uuid)) k++;
    uuids.push(derivePartitionUuid(o.seed, d.type.uuid, k));
  });
  defs.forEach((d, i) => {
    if (d.uuid) return;
    const clash = uuids.some((u, j) => j !== i && uuidEqual(u, uuids[i]!));
    if (clash) {
      o.warn(`${d.file}: derived partition UUID already in use, using a random one`);
      uuids[i] = randomUuid();
    }
  });

  const labels = deriveLabels(defs);

  let imageSize: bigint;
  if (o.size === 'auto') {
    let sum = 0n;
    defs.forEach((d, i) => { sum += minSizeWithPadding(d, sc, inputs(i)); });
    imageSize = autoSize(sum, o.sectorSize, grain, o.compat);
  } else imageSize = o.size;

  const geometry = gptGeometry(imageSize, o.sectorSize);
  const ss = BigInt(o.sectorSize);
  const start = roundUp(geometry.firstUsableLba * ss, grain);
  const end = roundDown((geometry.lastUsableLba + 1n) * ss, grain);

  const alloc = allocate(defs.map((d, i) => ({
    minSize: minSize(d, sc, inputs(i)),
    maxSize: maxSize(d, sc, inputs(i)),
    minPadding: minPadding(d),
    maxPadding: maxPadding(d),
    weight: d.weight,
    paddingWeight: d.paddingWeight,
    priority: d.priority,
    file: d.file,
  })), start, end, grain, o.compat);

  let partno = 0;
  const partitions = defs.map((d, i): PlannedPartition => {
    const flags = mergeFlags(d, o.compat, o.warn);
    const p = alloc.placed[i];
    return {
      def: d,
      type: d.type,
      uuid: uuids[i]!,
      fsUuid: deriveUuid(uuids[i]!, 'file-system-uuid'),
      label: labels[i]!,
      flags,
      diskAttributes: (flags & LOW48) !== 0n ? 0n : flags,
      dropped: p === null,
      partno: p === null ? -1 : partno++,
      offset: p?.offset ?? 0n,
      size: p?.size ?? 0n,
      padding: p?.padding ?? 0n,
    };
  });

  return { imageSize, geometry, grain, diskGuid: deriveUuid(o.seed, 'disk-uuid'), partitions };
}
