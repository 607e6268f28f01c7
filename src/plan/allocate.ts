/**
 * context_ponder(): fit partitions into the free area, drop by priority, grow by weight,
 * place (gpt-layout.md §3). Pure: bigint arithmetic on sizes, no I/O.
 */
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
}

export interface Allocation {
  /** per item, in list order; null for dropped items */
  placed: ({ offset: bigint; size: bigint; padding: bigint } | null)[];
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

export function minWithPadding(it: AllocItem, grain: bigint): bigint {
  return roundUp(it.minSize + it.minPadding, grain);
}

/**
 * @param start,end the free area [start, end), both grain aligned
 */
export function allocate(items: AllocItem[], start: bigint, end: bigint, grain: bigint, compat: number): Allocation {
  const areaSize = end > start ? end - start : 0n;
  const dropped = items.map(() => false);

  // Fit, dropping the highest positive priorities until everything fits.
  for (;;) {
    let need = 0n;
    items.forEach((it, i) => { if (!dropped[i]) need += minWithPadding(it, grain); });
    if (need <= areaSize) break;
    let P = 0;
    items.forEach((it, i) => { if (!dropped[i] && it.priority > P) P = it.priority; });
    if (P <= 0) {
      throw new RepartError('E_NO_SPACE',
        `Can't fit requested partitions into available free space (${fmtBytes(areaSize)}), refusing. ` +
        `The partitions need ${fmtBytes(need)}; grow the image (--size=) by at least ${fmtBytes(need - areaSize)}.`);
    }
    items.forEach((it, i) => { if (it.priority >= P) dropped[i] = true; });
  }

  const live = items.map((it, i) => ({ it, i })).filter(({ i }) => !dropped[i]);
  const newSize = new Map<number, bigint>();
  const newPadding = new Map<number, bigint>();
  let span = areaSize;
  let weightSum = 0n;
  for (const { it } of live) weightSum += BigInt(it.weight) + BigInt(it.paddingWeight);
  const charge = (amount: bigint) => {
    const r = roundUp(amount, grain);
    span = r >= span ? 0n : span - r;
  };

  const OVERCHARGE = 1, UNDERCHARGE = 2, DISTRIBUTE = 3;
  for (let phase = OVERCHARGE; phase <= DISTRIBUTE;) {
    let retry = false;
    // Size first, then padding, for each partition in list order; charges apply at once.
    const step = (into: Map<number, bigint>, i: number, weight: bigint, min: bigint, max: bigint | null) => {
      if (into.has(i)) return;
      const share = scaleByWeight(span, weight, weightSum);
      let v: bigint | null = null;
      if (phase === OVERCHARGE && min > share) { v = min; retry = true; }
      else if (phase === UNDERCHARGE && max !== null && max < share) { v = max; retry = true; }
      else if (phase === DISTRIBUTE) v = clamp(roundDown(share, grain), min, max);
      if (v === null) return;
      into.set(i, v);
      charge(v);
      weightSum -= weight;
    };
    for (const { it, i } of live) {
      step(newSize, i, BigInt(it.weight), it.minSize, it.maxSize);
      step(newPadding, i, BigInt(it.paddingWeight), it.minPadding, it.maxPadding);
    }
    if (!retry) phase++;
  }

  // Leftover space (everyone hit a maximum): offered to the partitions in list order.
  if (span > 0n) {
    for (const { it, i } of live) {
      const cur = newSize.get(i)!;
      if (it.maxSize !== null && cur >= it.maxSize) continue;
      let m = roundDown(cur + span, grain);
      if (it.maxSize !== null && m > it.maxSize) m = it.maxSize;
      charge(m - cur);
      newSize.set(i, m);
      if (span === 0n) break;
    }
    // v262 turns what is still left into padding of the last partition; older versions lose it.
    if (span > 0n && compat >= 262 && live.length > 0) {
      const last = live[live.length - 1]!.i;
      newPadding.set(last, newPadding.get(last)! + roundDown(span, grain));
    }
  }

  const placed: Allocation['placed'] = items.map(() => null);
  let cursor = start;
  for (const { i } of live) {
    const size = newSize.get(i)!;
    const padding = newPadding.get(i)!;
    placed[i] = { offset: cursor, size, padding };
    cursor += size + padding;
    if (compat >= 262) cursor = roundUp(cursor, grain);
  }
  return { placed };
}

export function fmtBytes(n: bigint): string {
  const units = ['B', 'K', 'M', 'G', 'T', 'P', 'E'];
  let v = Number(n);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${n}B` : `${v.toFixed(1).replace(/\.0$/, '')}${units[u]}`;
}
