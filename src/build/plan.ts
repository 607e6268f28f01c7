/**
 * Stage "plan": the partition table as a value, from the definitions and what the earlier stages
 * learnt (sizes of CopyBlocks= sources, file systems and hash trees); and the --split file names.
 * A re-layout (`{ next: 'replan' }` from a later stage) comes back here.
 * Writes: plan (replaced whole), PartitionState.placed, .splitPath.
 */
import path from 'node:path';
import { expandSpecifiers } from '../config/specifiers.js';
import { RepartError } from '../errors.js';
import { uuidHex } from '../gpt/guid.js';
import { makeV4 } from '../plan/ids.js';
import { makePlan, type Plan } from '../plan/plan.js';
import { checkImageSize } from '../plan/limits.js';
import { setPlan, type BuildContext, type PartitionState, type Stage } from './context.js';

export function planFor(ctx: BuildContext, sizeOverride?: 'auto'): Plan {
  const sizes = new Map<number, bigint>();
  for (const s of ctx.partitions) {
    const v = s.fsSize ?? s.blocksSize;
    if (v !== undefined) sizes.set(s.index, v);
  }
  return makePlan(ctx.definitions, {
    compat: ctx.compat, seed: ctx.seed, sectorSize: ctx.sectorSize, grain: ctx.request.grainSize, fsSectorSize: ctx.fsSectorSize,
    size: sizeOverride ?? ctx.size, warn: ctx.warn, copyBlocksSizes: sizes, existing: ctx.table,
    randomUuid: () => makeV4(ctx.random(16)),
  });
}

export const planStage: Stage = {
  name: 'plan',
  async run(ctx: BuildContext) {
    let plan: Plan;
    try {
      plan = planFor(ctx);
    } catch (e) {
      // provisional windows too large for a fixed --size: learn the real sizes first
      if (!(e instanceof RepartError && e.code === 'E_NO_SPACE') || !ctx.partitions.some((s) => s.fsSizeSource === 'provisional')) throw e;
      const { measureSelfSized } = await import('./measure.js');
      await measureSelfSized(ctx, { hashPairs: false });
      plan = planFor(ctx);
    }
    checkImageSize(plan.imageSize, ctx.device);
    setPlan(ctx, plan);
    splitPaths(ctx);
  },
};

function splitPaths(ctx: BuildContext): void {
  for (const s of ctx.partitions) s.splitPath = undefined;
  if (!ctx.request.split) return;
  const dir = path.dirname(ctx.nodeBase);
  let base = path.basename(ctx.nodeBase);
  let ext = '';
  if (base.endsWith('.raw')) { base = base.slice(0, -4); ext = '.raw'; }
  const seen = new Map<string, PartitionState>();
  for (const s of ctx.partitions) {
    const p = s.placed!;
    if (p.dropped || (s.deferredByOptions && !p.existing) || p.def.splitName === '') continue;
    let name: string;
    try {
      name = expandSpecifiers(p.def.splitName, {
        root: ctx.request.root,
        extra: { t: p.type.name, T: uuidHex(p.type.uuid), U: uuidHex(p.uuid), n: String(p.partno) },
      });
    } catch (e) {
      throw new RepartError('E_CONFIG_VALUE', `failed to expand SplitName=: ${(e as Error).message}`, p.def.where.SplitName ?? { file: p.def.file });
    }
    const sp = path.join(dir, `${base}.${name}${ext}`);
    const other = seen.get(sp);
    if (other) throw new RepartError('E_CONFIG_VALUE', `split file ${sp} would be written for two partitions (also ${other.def.file}); set SplitName=`, { file: p.def.file });
    seen.set(sp, s);
    s.splitPath = sp;
  }
}
