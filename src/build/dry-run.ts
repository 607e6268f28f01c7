/**
 * Stages "grow file (dry run)" and "changes".
 * repart grows the file even in dry-run mode, and writes the table as it was to the new end.
 * context_changed(): nothing new and nothing resized leaves the image alone.
 * Writes: changed (and the grown device file in a dry run).
 */
import { ImageWriter } from '../image/build.js';
import { inPlaceBase } from './write.js';
import type { BuildContext, Stage } from './context.js';

export const growDryRunStage: Stage = {
  name: 'grow file (dry run)',
  when: (ctx) => ctx.request.dryRun && ctx.table !== undefined && ctx.plan!.imageSize > ctx.table.imageSize,
  run(ctx: BuildContext) {
    const plan = ctx.plan!;
    const kept = plan.partitions.filter((p) => p.existing && !p.dropped).map((p) => ({ ...p, size: p.existing!.size }));
    const w = ImageWriter.open({ target: ctx.device, mode: 'in-place', imageSize: plan.imageSize, base: inPlaceBase(ctx.table!, [[0n, ctx.table!.imageSize]]) });
    try {
      w.writeTable({ ...plan, partitions: kept }, new Set());
      w.commit();
      ctx.written.push(ctx.device);
    } catch (e) {
      w.abort();
      throw e;
    }
  },
};

export const changesStage: Stage = {
  name: 'changes',
  run(ctx: BuildContext) {
    // a disk without a table gets one, even an empty one (262: --empty=create without definitions)
    ctx.changed = ctx.table === undefined || ctx.plan!.partitions.some((p) => !p.dropped && (!p.existing || p.size !== p.existing.size));
    if (!ctx.changed) ctx.warn('No changes.');
  },
};
