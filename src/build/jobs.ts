/**
 * What a partition's formatting needs, as a format job (without its window): plain data that can
 * go to a worker thread, carrying the build's compat record and single "now".
 */
import { formatUuid } from '../gpt/guid.js';
import type { FormatJob } from '../fs/driver.js';
import { fsLabelFor } from '../fs/facts.js';
import type { PlannedPartition } from '../plan/plan.js';
import { minimizedMkfsOptions } from '../plan/minimize/mkfs-options.js';
import { fsSectorOf, type BuildContext, type PartitionState } from './context.js';

export function formatJobFor(ctx: BuildContext, s: PartitionState, p: PlannedPartition): Omit<FormatJob, 'window'> {
  const d = s.def;
  return {
    format: d.format!,
    label: fsLabelFor(d.format!, p.label, { file: d.file }),
    fsUuid: formatUuid(p.fsUuid),
    sectorSize: fsSectorOf(ctx, d),
    tree: s.tree ?? null,
    sourceDateEpoch: ctx.request.sourceDateEpoch,
    now: ctx.now,
    extraOptions: minimizedMkfsOptions(s.modelMkfsOptions, ctx.request.mkfsOptions?.[d.format!] ?? []),
    discard: ctx.request.discard,
    subvolumes: d.subvolumes,
    defaultSubvolume: d.defaultSubvolume,
    compression: d.compression,
    compressionLevel: d.compressionLevel,
    definitionFile: d.file,
    compat: ctx.compat,
    windowZeroed: true,
    // measured: an earlier pass learnt the size, the window is exactly that (smaller than mkfs's first estimate)
    ...(d.format === 'btrfs' && s.selfSized ? { shrink: true, ...(s.fsSizeSource === 'measured' ? { measured: true } : {}) } : {}),
  };
}
