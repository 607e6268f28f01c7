/**
 * Stage "minimize": Minimize= file system sizes. Most come from the model (one formatting pass,
 * not two) and the partition is planned around them like a CopyBlocks= source of that size;
 * self-sizing tools (erofs, squashfs; btrfs --shrink in 262) get a provisional upper bound and are
 * settled by formatting (stages "measure self-sized" and "format self-sized").
 * Writes: PartitionState.fsSize, .fsSizeSource, .modelMkfsOptions, .selfSized.
 * The models and the tree walks are in ./minimize-models.ts, loaded when a partition is minimized.
 */
import { roundUp } from '../config/values.js';
import { RepartError } from '../errors.js';
import { fmtBytes } from '../plan/allocate.js';
import { minSize, type SizeContext } from '../plan/sizes.js';
import type { BuildContext, PartitionState, Stage } from './context.js';

export const sizeContext = (ctx: BuildContext): SizeContext => ({ compat: ctx.compat, grain: ctx.grain, fsSectorSize: ctx.fsSectorSize });

export const minimizeStage: Stage = {
  name: 'minimize',
  async run(ctx: BuildContext) {
    const todo = ctx.partitions.filter((s) => s.def.minimize !== 'off' && s.def.format !== undefined && s.tree !== undefined);
    if (todo.length > 0) {
      const { minimizePartition } = await import('./minimize-models.js');
      for (const s of todo) await minimizePartition(ctx, s);
    }
    checkMax(ctx);
  },
};

/** A file system larger than SizeMaxBytes= allows is an error (provisional sizes are not known yet). */
export function checkMax(ctx: BuildContext): void {
  for (const s of ctx.partitions) {
    const fsz = s.fsSize, d = s.def;
    if (fsz === undefined || s.fsSizeSource === 'provisional') continue;
    if (d.sizeMax !== undefined && fsz > d.sizeMax)
      throw new RepartError('E_NO_SPACE', `the content needs a ${fmtBytes(fsz)} (${fsz} bytes) file system, more than SizeMaxBytes=${d.sizeMax} allows`, d.where.SizeMaxBytes ?? { file: d.file });
  }
}

/** A self-sized file system has been formatted: its partition is laid out around what it used. */
export function settleSelfSized(ctx: BuildContext, s: PartitionState, usedBytes: number | undefined): void {
  if (usedBytes === undefined) return;
  const fsz = roundUp(BigInt(usedBytes), ctx.grain);
  // the file system type's minimum no longer applies once the size is known (formatting.md §7)
  const floor = ctx.compat.minimizeFloorIsPartitionMinimum ? minSize(s.def, sizeContext(ctx), { copyBlocksSize: fsz }) : 0n;
  s.fsSize = floor > fsz ? floor : fsz;
  s.fsSizeSource = 'measured';
}
