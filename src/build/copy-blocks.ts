/**
 * Stage "copy-blocks sources": CopyBlocks= files and --copy-from= partitions, checked and sized
 * before planning (existing partitions keep their contents).
 * Writes: PartitionState.blocks, .blocksSize.
 */
import { closeSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import { RepartError } from '../errors.js';
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
      const p = o.root && !o.copySource ? path.join(o.root, d.copyBlocks) : d.copyBlocks;
      const where = d.where.CopyBlocks ?? { file: d.file };
      let st;
      try { st = statSync(p); } catch (e) { throw new RepartError('E_SOURCE', `cannot open CopyBlocks= source ${p}: ${(e as Error).message}`, where); }
      if (st.isDirectory()) throw new RepartError('E_SOURCE', `CopyBlocks= source ${p} is a directory; copying its backing block device is not supported`, where);
      try { closeSync(openSync(p, 'r')); } catch (e) { throw new RepartError('E_SOURCE', `cannot read CopyBlocks= source ${p}: ${(e as Error).message}`, where); }
      if (st.size % 512 !== 0) throw new RepartError('E_SOURCE', `File to copy bytes from '${p}' has size that is not multiple of 512, refusing.`, where);
      s.blocks = { path: p, offset: 0n, length: BigInt(st.size) };
      s.blocksSize = BigInt(st.size);
    }
  },
};
