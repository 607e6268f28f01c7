/**
 * Writing the image, in steps (src/image/build.ts): a new temporary file (--empty=create), or the
 * existing image in place, its tables written last:
 *   "open image"          the file; in place, what the new layout does not keep zeroed  writes: image, attempts
 *   "format self-sized"   erofs/squashfs/btrfs --shrink first, in provisional windows; the plan
 *                         is then recomputed from what they used (a re-layout if one would move)
 *                                                                                 writes: fsSize, plan, formatted
 *   "copy blocks"         CopyBlocks= / --copy-from= contents                       writes: (image bytes)
 *   "format"              every other file system; a minimized one that turns out too small is
 *                         grown a step and laid out again (bounded)                writes: formatted, stats
 * The verity, signature and encryption stages follow; "write table" commits.
 */
import { fmtBytes } from '../plan/allocate.js';
import { roundUp } from '../config/values.js';
import { RepartError } from '../errors.js';
import type { FormatEvents } from '../fs/driver.js';
import { formatInProcess } from '../fs/registry.js';
import { FormatJobError, ImageWriter, type OpenOptions, type PartitionContent } from '../image/build.js';
import type { ExistingTable } from '../plan/existing.js';
import type { Plan, PlannedPartition } from '../plan/plan.js';
import { deferredEntries, isLive, isWritten, setPlan, type BuildContext, type PartitionState, type Stage } from './context.js';
import { checkMax, settleSelfSized } from './minimize.js';
import { planFor } from './plan.js';

/** Write attempts (a re-layout or a no-space retry each start one more). */
export const MAX_ATTEMPTS = 4;

const writing = (ctx: BuildContext) => !ctx.request.dryRun && ctx.changed;

/** The partitions formatted in the image, in plan order (progress ids are positions here). */
const formatted = (ctx: BuildContext): PartitionState[] => ctx.partitions.filter((s) => isWritten(s) && s.def.format !== undefined);

/** The LUKS2 layout, loaded only when a partition of `parts` is encrypted. */
async function luksFor(parts: readonly PartitionState[]): Promise<typeof import('../luks/layout.js') | undefined> {
  return parts.some((s) => s.def.encrypt === 'key-file') ? import('../luks/layout.js') : undefined;
}

/** Where a partition's contents go inside it, and how large they are (undefined: all of it, from its start). */
function windowOf(s: PartitionState, luks: typeof import('../luks/layout.js') | undefined): { contentOffset?: bigint; size?: bigint } {
  const w: { contentOffset?: bigint; size?: bigint } = {};
  if (s.def.encrypt === 'key-file') {
    // the contents go where the LUKS2 data segment will be, 32 MiB smaller than the partition
    const l = luks!.luksPlaintextWindow(s.placed!.size);
    w.contentOffset = l.offset;
    w.size = l.length;
  }
  if (s.fsSize !== undefined) w.size = s.fsSize;
  return w;
}

async function formatInImage(ctx: BuildContext, parts: PartitionState[]): Promise<void> {
  const all = formatted(ctx);
  const name = (s: PartitionState) => s.placed!.label || s.placed!.type.name;
  const id = (k: number) => String(all.indexOf(parts[k]!));
  const pr = ctx.request.progress;
  // a run with nothing to format (GPT only) loads neither the job builder nor the LUKS2 layout
  const [jobs, luks] = parts.length ? await Promise.all([import('./jobs.js'), luksFor(parts)]) : [null, undefined];
  // workers format while this thread is idle: it reads their source files ahead (src/build/readahead.ts)
  const ra = ctx.request.formatter && parts.some((s) => s.tree) ? await import('./readahead.js') : null;
  const contents: PartitionContent[] = parts.map((s) => ({ job: jobs!.formatJobFor(ctx, s, s.placed!), ...windowOf(s, luks) }));
  const ahead = ra ? parts.map((s, k) => {
    if (!s.tree) return null;
    // ... and hands the files it read to a tool that opens each once (src/fs/wasm/fd-handoff.ts)
    const job = contents[k]!.job;
    job.openedSources = ra.handoffFor(s.tree, job.format);
    return new ra.ReadAhead(s.tree, { handoff: job.openedSources });
  }) : [];
  // ... and starts writing the image back, so that the commit's fsync finds little left (src/image/flush-behind.ts)
  const flush = ctx.request.formatter ? ctx.image!.flushBehind() : null;
  const events: FormatEvents = {
    start: (k) => pr?.start?.(id(k), name(parts[k]!)),
    progress: (k, p) => {
      ahead[k]?.progress(p.bytes);
      pr?.update?.(id(k), p);
    },
    done: (k, r) => {
      flush?.flush();
      pr?.finish?.(id(k));
      if (r.toolOutput?.trim()) ctx.warn(r.toolOutput.trimEnd()); // 262 shows its mkfs child's output
      r.warnings.forEach((w) => ctx.warn(`${name(parts[k]!)}: ${w}`));
    },
  };
  let out;
  try {
    out = await ctx.image!.format(parts.map((s, k) => ({ p: s.placed!, content: contents[k]! })), ctx.request.formatter ?? formatInProcess, events);
  } finally {
    for (const a of ahead) a?.stop();
    await Promise.all([...ahead.map((a) => a?.done), flush?.stop()]);
  }
  parts.forEach((s, k) => { s.formatted = out[k]; });
}

/**
 * What incremental mode carries over from the image as it is: everything except the new
 * partitions (they start zeroed) and, with --discard=yes, the gaps repart discards (after each new
 * partition, and before the first partition).
 */
function keptRanges(plan: Plan, oldSize: bigint, deferred: ReadonlySet<PlannedPartition>, discard: boolean): [bigint, bigint][] {
  const live = plan.partitions.filter((p) => !p.dropped);
  const ss = BigInt(plan.geometry.sectorSize);
  const usableEnd = (plan.geometry.lastUsableLba + 1n) * ss;
  const nextStart = (from: bigint) => live.reduce((m, q) => (q.offset >= from && q.offset < m ? q.offset : m), usableEnd);
  const cleared: [bigint, bigint][] = [];
  for (const p of live) {
    if (p.existing || deferred.has(p)) continue;
    cleared.push([p.offset, p.offset + p.size]);
    if (discard) cleared.push([p.offset + p.size, nextStart(p.offset + p.size)]);
  }
  if (discard) {
    const first = plan.geometry.firstUsableLba * ss;
    cleared.push([first, nextStart(first)]);
  }
  cleared.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const keep: [bigint, bigint][] = [];
  let pos = 0n;
  for (const [a, b] of cleared) {
    if (a > pos) keep.push([pos, (a < oldSize ? a : oldSize) - pos]);
    if (b > pos) pos = b;
  }
  if (oldSize > pos) keep.push([pos, oldSize - pos]);
  return keep.filter(([, len]) => len > 0n);
}

/** What writing in place needs to know of the old table (the old backup GPT is restored if a run fails). */
export function inPlaceBase(t: ExistingTable, keep: [bigint, bigint][]): NonNullable<OpenOptions['base']> {
  const ss = BigInt(t.sectorSize);
  const sectors = (BigInt(t.numEntries * t.entrySize) + ss - 1n) / ss + 1n;
  return { keep, oldBackup: [(t.alternateLba + 1n - sectors) * ss, sectors * ss], keepMbr: t.hybridMbr };
}

export const openImageStage: Stage = {
  name: 'open image',
  when: writing,
  run(ctx: BuildContext) {
    const plan = ctx.plan!;
    ctx.attempts++;
    ctx.image = ImageWriter.open({
      target: ctx.device,
      mode: ctx.request.empty === 'create' ? 'create' : 'in-place',
      imageSize: plan.imageSize,
      base: ctx.table && inPlaceBase(ctx.table, keptRanges(plan, ctx.table.imageSize, deferredEntries(ctx), ctx.request.discard)),
      splitPaths: ctx.partitions.filter((s) => s.splitPath !== undefined && isLive(s)).map((s) => s.splitPath!),
    });
  },
};

export const formatSelfSizedStage: Stage = {
  name: 'format self-sized',
  when: writing,
  async run(ctx: BuildContext) {
    const first = formatted(ctx).filter((s) => s.selfSized);
    if (first.length === 0) return;
    try {
      await formatInImage(ctx, first);
    } catch (e) {
      // a self-sized tool that fails (no space, a crash) is reported as the tool's error
      throw e instanceof FormatJobError ? e.error : e;
    }
    for (const s of first) settleSelfSized(ctx, s, s.formatted!.usedBytes);
    checkMax(ctx);
    if (ctx.partitions.some((s) => s.verityHash)) (await import('./verity-sizes.js')).followVerityData(ctx, first);
    const next = planFor(ctx);
    // Partitions already written must stay where they are; if one would move (a fixed --size
    // shares space by weight), everything is built again with the sizes now known.
    if (first.some((s) => next.partitions[s.index]!.offset !== s.placed!.offset)) {
      for (const s of ctx.partitions) if (s.selfSized) s.extraPasses++;
      return relayout(ctx);
    }
    setPlan(ctx, next);
    ctx.image!.resize(next.imageSize);
  },
};

function relayout(ctx: BuildContext): { next: 'replan' } {
  if (ctx.attempts >= MAX_ATTEMPTS) throw new RepartError('E_NO_SPACE', `the layout did not settle after ${MAX_ATTEMPTS} attempts`, {});
  return { next: 'replan' };
}

export const copyBlocksStage: Stage = {
  name: 'copy blocks',
  when: writing,
  async run(ctx: BuildContext) {
    const parts = ctx.partitions.filter((s) => s.blocks && isLive(s));
    const luks = await luksFor(parts);
    ctx.image!.copyBlocks(parts.map((s) => ({ p: s.placed!, src: s.blocks!, contentOffset: windowOf(s, luks).contentOffset })));
  },
};

export const formatStage: Stage = {
  name: 'format',
  when: writing,
  async run(ctx: BuildContext) {
    const rest = formatted(ctx).filter((s) => !s.selfSized);
    try {
      await formatInImage(ctx, rest);
    } catch (e) {
      if (!(e instanceof FormatJobError)) throw e;
      const s = rest[e.index];
      // The model was short for a minimized file system: grow it by a small step and build
      // again (bounded; every retry is reported and counted as a formatting pass).
      if (!(e.error instanceof RepartError && e.error.code === 'E_FS_NO_SPACE') || s?.fsSize === undefined || ctx.attempts >= MAX_ATTEMPTS) throw e.error;
      const old = s.fsSize;
      const step = old / 50n > 1048576n ? old / 50n : 1048576n;
      s.fsSize = roundUp(old + step, ctx.grain);
      s.extraPasses++;
      ctx.warn(`${s.label}: Minimize= model was ${fmtBytes(old)}, too small for the content; retrying at ${fmtBytes(s.fsSize)}`);
      checkMax(ctx);
      return relayout(ctx);
    }
    const all = formatted(ctx);
    const luks = await luksFor(all);
    const passes = all.map((s) => (s.formatted?.passes ?? 0) + s.extraPasses);
    ctx.stats = {
      passes: passes.reduce((a, b) => a + b, 0),
      partitions: all.map((s, k) => ({ label: s.placed!.label, format: s.def.format, minimize: s.def.minimize, passes: passes[k]!, fsBytes: Number(windowOf(s, luks).size ?? s.placed!.size), phases: s.formatted?.phases })),
    };
  },
};

export const writeTableStage: Stage = {
  name: 'write table',
  when: writing,
  run(ctx: BuildContext) {
    const image = ctx.image!;
    image.writeTable(ctx.plan!, deferredEntries(ctx));
    image.writeSplits(ctx.partitions.filter((s) => s.splitPath !== undefined && isLive(s)).map((s) => ({ p: s.placed!, path: s.splitPath! })));
    image.commit();
    ctx.image = undefined;
    ctx.written.push(ctx.device, ...ctx.partitions.filter((s) => s.splitPath !== undefined && isLive(s)).map((s) => s.splitPath!));
  },
};
