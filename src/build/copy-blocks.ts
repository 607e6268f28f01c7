/**
 * Stage "copy-blocks sources": CopyBlocks= files and --copy-from= partitions, checked and sized
 * before planning (existing partitions keep their contents).
 * Writes: PartitionState.blocks, .blocksSize.
 */
import { copyBlocksSource } from '../io/root-paths.js';
import type { BuildContext, Stage } from './context.js';

export const copyBlocksStage: Stage = {
  name: 'copy-blocks sources',
  run(ctx: BuildContext) {
    const o = ctx.request;
    for (const s of ctx.partitions) {
      const d = s.def;
      if (s.existing) continue;
      if (d.copyFrom) {
        s.blocks = d.copyFrom;
        s.blocksSize = d.copyFrom.length;
        continue;
      }
      if (d.copyBlocks === undefined) continue;
      // resolved inside --root, type-checked before any open (src/io/root-paths.ts)
      const src = copyBlocksSource(o.root && !o.copySource ? o.root : undefined, d.copyBlocks, d.where.CopyBlocks ?? { file: d.file });
      s.blocks = src;
      s.blocksSize = src.length;
    }
  },
};
