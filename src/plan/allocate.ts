/**
 * context_ponder(): fit partitions into the free area, drop by priority, grow by weight,
 * place (gpt-layout.md §3). Pure: bigint arithmetic on sizes, no I/O.
 *
 * Ported upstream algorithm: allocate() follows systemd-repart's context_ponder() /
 * context_grow_partitions() step by step (257 and 262 variants), so it stays one long function
 * that can be read side by side with repart.c rather than being split.
 */
import { asCompat, type Compat } from '../compat.js';
import { RepartError } from '../errors.js';
import { roundDown, roundUp } from '../config/values.js';

export interface AllocItem {
  minSize: bigint;
  maxSize: bigint | null;
  minPadding: bigint;
  maxPadding: bigint | null;
  weight: number;
  paddingWeight: number;
  priority: number;
  /** file for error messages */
  file: string;
  /** an existing partition: where it is, and the free space after it (incremental mode) */
  existing?: { partno: number; offset: bigint; size: bigint; padding: bigint };
  /** an existing partition without definition: never resized */
  foreign?: boolean;
  /** SupplementFor=: the target's index; while suppressed this item is not made, the target takes `merged` */
  supplementFor?: number;
  /** a SupplementFor= target's bounds and weights merged with its supplement's */
  merged?: Bounds;
}

type Bounds = Pick<AllocItem, 'minSize' | 'maxSize' | 'minPadding' | 'maxPadding' | 'weight' | 'paddingWeight'>;

export interface Allocation {
  /** per item, in list order; null for dropped items */
  placed: ({ offset: bigint; size: bigint; padding: bigint } | null)[];
  /** new items in the order they were placed (partition numbers are handed out in this order) */
  placementOrder: number[];
  /** SupplementFor= items merged into their targets (not made; placed is null) */
  suppressed: boolean[];
}

const U64_MAX = (1n << 64n) - 1n;

/** scale_by_weight(), including its overflow-avoiding rescaling. */
export function scaleByWeight(value: bigint, weight: bigint, weightSum: bigint): bigint {
  for (;;) {
    if (weight === 0n) return 0n;
    if (weight === weightSum) return value;
    if (value <= U64_MAX / weight) return (value * weight) / weightSum;
    weightSum = (weightSum + 1n) / 2n;
    weight = weight / 2n;
  }
}

function clamp(v: bigint, lo: bigint, hi: bigint | null): bigint {
  if (hi !== null && v > hi) v = hi;
  return v < lo ? lo : v;
}

/** partition_min_size_with_padding(): an existing partition also needs what re-aligns the next one */
export function minWithPadding(it: AllocItem, grain: bigint): bigint {
  const sz = it.minSize + it.minPadding;
  if (it.existing) return roundUp(it.existing.offset + sz, grain) - it.existing.offset;
  return roundUp(sz, grain);
}

interface FreeArea {
  size: bigint;
  /** the existing partition (item index) right before it, if any */
  after: number | null;
  allocated: bigint;
}

const less = (a: bigint, b: bigint) => (a > b ? a - b : 0n);

/**
 * context_ponder() from free areas: from scratch one area [start, end); in incremental mode one
 * before the first existing partition and one after every existing partition with space behind it.
 * @param start,end the usable area, both grain aligned
 */
export function allocate(items: AllocItem[], start: bigint, end: bigint, grain: bigint, compatIn: Compat | number): Allocation {
  const compat = asCompat(compatIn);
  const dropped = items.map(() => false);
  // existing partitions whose priority was given up become foreign (fixed size)
  const foreign = items.map((it) => it.foreign === true);
  // a supplement is merged into its target unless it exists already (then both stay as written)
  const suppressed = items.map((it) => it.supplementFor !== undefined && !it.existing);
  const supplementOf = new Map<number, number>();
  items.forEach((it, i) => { if (it.supplementFor !== undefined) supplementOf.set(it.supplementFor, i); });
  const ex = (i: number) => items[i]!.existing!;
  /** the bounds in force: a target absorbing its (suppressed, not dropped) supplement uses the merged ones */
  const bounds = (i: number): Bounds => {
    const it = items[i]!;
    const s = supplementOf.get(i);
    return s !== undefined && suppressed[s] && !dropped[s] && it.merged ? it.merged : it;
  };
  const minOf = (i: number) => (foreign[i] ? ex(i).size : bounds(i).minSize);
  const maxOf = (i: number) => (foreign[i] ? ex(i).size : bounds(i).maxSize);
  const minWP = (i: number) => minWithPadding({ ...items[i]!, ...bounds(i), ...(foreign[i] ? { minSize: ex(i).size, minPadding: 0n } : {}) }, grain);

  // Free areas in the order repart adds them: after each existing partition (table order), then
  // the one before the first partition (or the whole disk when there is none).
  const areas: FreeArea[] = [];
  const existing = items.map((it, i) => ({ it, i })).filter(({ it }) => it.existing).sort((a, b) => a.it.existing!.partno - b.it.existing!.partno);
  for (const { it, i } of existing) if (it.existing!.padding > 0n) areas.push({ size: it.existing!.padding, after: i, allocated: 0n });
  if (existing.length === 0) {
    if (end > start) areas.push({ size: end - start, after: null, allocated: 0n });
  } else {
    let left = existing[0]!.it.existing!.offset;
    for (const { it } of existing) if (it.existing!.offset < left) left = it.existing!.offset;
    left = roundDown(left, grain);
    if (left > start) areas.push({ size: left - start, after: null, allocated: 0n });
  }
  const paddingArea = new Map<number, FreeArea>();
  for (const a of areas) if (a.after !== null) paddingArea.set(a.after, a);
  const areaOf = new Map<number, FreeArea>();

  const currentEnd = (a: FreeArea) => (a.after === null ? a.size - a.allocated : roundUp(ex(a.after).offset + ex(a.after).size, grain) + (a.size - a.allocated));
  const minEnd = (a: FreeArea) => (a.after === null ? 0n : roundUp(ex(a.after).offset + minWP(a.after), grain));
  const available = (a: FreeArea) => less(currentEnd(a), minEnd(a));

  // context_allocate_partitions(): smallest areas first, first fit
  const tryAllocate = (): boolean => {
    for (const a of areas) a.allocated = 0n;
    areaOf.clear();
    areas.sort((x, y) => (available(x) < available(y) ? -1 : available(x) > available(y) ? 1 : 0));
    for (const a of areas) if (currentEnd(a) < minEnd(a)) return false;
    for (const [i, it] of items.entries()) {
      if (dropped[i] || foreign[i] || suppressed[i]) continue;
      const required = minWP(i);
      if (it.existing) {
        if (it.existing.size + it.existing.padding < required) return false;
        continue;
      }
      const a = areas.find((x) => available(x) >= required);
      if (!a) return false;
      areaOf.set(i, a);
      a.allocated += required;
    }
    return true;
  };

  // context_unmerge_and_allocate_partitions(): un-merge one supplement, then combinations of them
  const unmerge = (): boolean => {
    const active = items.map((_, i) => i).filter((i) => suppressed[i] && !dropped[i]);
    for (const s of active) {
      suppressed[s] = false;
      if (tryAllocate()) return true;
      suppressed[s] = true;
    }
    for (const s of active) {
      suppressed[s] = false;
      if (unmerge()) return true;
      suppressed[s] = true;
    }
    return false;
  };

  // Fit, dropping the highest positive priorities (or freezing existing partitions) until it fits.
  while (!tryAllocate() && !unmerge()) {
    let P = 0;
    items.forEach((it, i) => { if (!dropped[i] && it.priority > P) P = it.priority; });
    if (P <= 0) {
      let need = 0n, space = 0n;
      for (const a of areas) a.allocated = 0n;
      items.forEach((it, i) => { if (!dropped[i] && !suppressed[i] && !it.existing) need += minWP(i); });
      for (const a of areas) space += available(a);
      throw new RepartError('E_NO_SPACE',
        `Can't fit requested partitions into available free space (${fmtBytes(space)}), refusing. ` +
        (need > space
          ? `The partitions need ${fmtBytes(need)}; grow the image (--size=) by at least ${fmtBytes(need - space)}.`
          : `The partitions need ${fmtBytes(need)}, but no single free area is large enough; grow the image (--size=).`));
    }
    items.forEach((it, i) => {
      if (it.priority < P || dropped[i]) return;
      if (it.existing) foreign[i] = true;
      else dropped[i] = true;
    });
  }

  const newSize = new Map<number, bigint>();
  const newPadding = new Map<number, bigint>();
  const FOREIGN = 0, OVERCHARGE = 1, UNDERCHARGE = 2, DISTRIBUTE = 3;

  // context_grow_partitions_on_free_area(), area by area in the sorted order
  for (const a of areas) {
    const parts = items.map((it, i) => ({ it, i })).filter(({ i }) => !dropped[i] && !suppressed[i] && (areaOf.get(i) === a || paddingArea.get(i) === a));
    // 262 keeps its list sorted by offset: the existing partition that starts the area is grown
    // before the new ones placed into it (it takes its rounded-down share first)
    if (compat.newPartitionAtGapStart) parts.sort((x, y) => (x.it.existing && !y.it.existing ? -1 : !x.it.existing && y.it.existing ? 1 : 0));
    let weightSum = 0n;
    for (const { i } of parts) weightSum += BigInt(bounds(i).weight) + BigInt(bounds(i).paddingWeight);
    let span = a.size;
    if (a.after !== null) span += roundUp(ex(a.after).offset + ex(a.after).size, grain) - ex(a.after).offset;
    const charge = (amount: bigint) => { span = less(span, roundUp(amount, grain)); };

    for (let phase = FOREIGN; phase <= DISTRIBUTE;) {
      let retry = false;
      // Size first, then padding, for each partition in list order; charges apply at once.
      const step = (into: Map<number, bigint>, i: number, weight: bigint, min: bigint, max: bigint | null, isSize: boolean) => {
        if (into.has(i)) return;
        const share = scaleByWeight(span, weight, weightSum);
        let v: bigint | null = null;
        if (phase === FOREIGN) { if (isSize && foreign[i]) v = ex(i).size; }
        else if (phase === OVERCHARGE && min > share) { v = min; retry = true; }
        else if (phase === UNDERCHARGE && max !== null && max < share) { v = max; retry = true; }
        else if (phase === DISTRIBUTE) v = clamp(roundDown(share, grain), min, max);
        if (v === null) return;
        into.set(i, v);
        charge(v);
        weightSum -= weight;
      };
      for (const { i } of parts) {
        const b = bounds(i);
        step(newSize, i, BigInt(b.weight), minOf(i), maxOf(i), true);
        step(newPadding, i, BigInt(b.paddingWeight), b.minPadding, b.maxPadding, false);
      }
      if (!retry) phase++;
    }

    // Leftover space (everyone hit a maximum): offered to the partitions in list order.
    const growOne = (i: number) => {
      if (span === 0n || foreign[i]) return;
      const cur = newSize.get(i)!;
      let m = roundDown(cur + span, grain);
      if (m < cur) m = cur;
      const max = maxOf(i);
      if (max !== null && m > max) m = max;
      charge(m - cur);
      newSize.set(i, m);
    };
    if (compat.allocator262) {
      // 262 offers it to every participant, then turns what is left into padding of the last one
      for (const { i } of parts) growOne(i);
      if (span > 0n && parts.length > 0) {
        // the partition physically last in the area: new ones go right after the existing
        // partition that starts it (the start of the gap, 262), so the last new one, if any
        const placedHere = parts.filter(({ i }) => areaOf.get(i) === a);
        const last = placedHere.length > 0 ? placedHere[placedHere.length - 1]!.i : a.after ?? parts[parts.length - 1]!.i;
        newPadding.set(last, newPadding.get(last)! + roundDown(span, grain));
      }
    } else {
      // 257 only to partitions placed into the area; the rest pads the partition before it
      for (const { i } of parts) if (areaOf.get(i) === a) growOne(i);
      if (span > 0n && a.after !== null) newPadding.set(a.after, newPadding.get(a.after)! + span);
    }
  }

  // Existing partitions with no free space after them keep their size.
  items.forEach((it, i) => {
    if (dropped[i] || suppressed[i] || !it.existing || paddingArea.has(i)) return;
    newSize.set(i, it.existing.size);
    newPadding.set(i, it.existing.padding);
  });

  const placed: Allocation['placed'] = items.map(() => null);
  const placementOrder: number[] = [];
  items.forEach((it, i) => {
    if (!dropped[i] && !suppressed[i] && it.existing) placed[i] = { offset: it.existing.offset, size: newSize.get(i)!, padding: newPadding.get(i)! };
  });
  for (const a of areas) {
    let cursor = a.after === null ? start : ex(a.after).offset + newSize.get(a.after)! + newPadding.get(a.after)!;
    cursor = roundUp(cursor, grain);
    items.forEach((_, i) => {
      if (areaOf.get(i) !== a) return;
      const size = newSize.get(i)!;
      const padding = newPadding.get(i)!;
      placed[i] = { offset: cursor, size, padding };
      placementOrder.push(i);
      cursor += size + padding;
      if (compat.allocator262) cursor = roundUp(cursor, grain);
    });
  }
  return { placed, placementOrder, suppressed: suppressed.map((x, i) => x && !dropped[i]) };
}

export function fmtBytes(n: bigint): string {
  // systemd's format_bytes(): the first decimal is truncated, not rounded, and ".0" is left out
  const units = ['K', 'M', 'G', 'T', 'P', 'E'];
  let u = -1;
  while (u < units.length - 1 && n >= 1024n ** BigInt(u + 2)) u++;
  if (u < 0) return `${n}B`;
  const factor = 1024n ** BigInt(u + 1);
  const tenth = u === 0 ? (n * 10n / factor) % 10n : (n / (factor / 1024n) * 10n / 1024n) % 10n;
  return `${n / factor}${tenth > 0n ? `.${tenth}` : ''}${units[u]}`;
}
