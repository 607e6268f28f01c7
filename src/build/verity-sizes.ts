/**
 * Stage "verity sizes": a Verity=hash partition's size comes from its data sibling
 * (context_update_verity_size() for SizeMaxBytes=, or Minimize= on the hash partition, which
 * hashes the data partition's source); block sizes come from the hash partition.
 * Writes: PartitionState.verityHash, .blocksSize (minimized hash partitions), def.sizeMin (from
 * the data partition's SizeMaxBytes=, as repart does).
 */
import { veritySibling } from '../config/load.js';
import type { PartitionDefinition } from '../config/definition.js';
import { RepartError } from '../errors.js';
import { repartVerityHashSize, verityHashBytes } from '../verity/index.js';
import { fsSectorOf, type BuildContext, type PartitionState, type Stage } from './context.js';

export const verityBlocks = (ctx: BuildContext, h: PartitionDefinition) => ({
  dbs: Number(h.verityDataBlockSize ?? BigInt(fsSectorOf(ctx, h))),
  hbs: Number(h.verityHashBlockSize ?? BigInt(fsSectorOf(ctx, h))),
});

export const veritySizesStage: Stage = {
  name: 'verity sizes',
  run(ctx: BuildContext) {
    for (const s of ctx.partitions) {
      const h = s.def;
      if (h.verity !== 'hash') continue;
      const data = ctx.partitions[ctx.definitions.indexOf(veritySibling(ctx.definitions, h, 'data')!)]!;
      if (s.existing) continue; // an existing hash partition is never rewritten (its root hash: "TBD")
      const { dbs, hbs } = verityBlocks(ctx, h);
      if (h.minimize !== 'off') {
        const src = data.blocksSize ?? data.fsSize ?? data.existing?.size;
        if (src === undefined)
          throw new RepartError('E_CONFIG_CONFLICT', 'Minimize= on a Verity=hash partition needs CopyBlocks= or Minimize= on its Verity=data partition', h.where.Minimize ?? { file: h.file });
        s.blocksSize = BigInt(verityHashBytes(Number(src), dbs, hbs));
        s.verityHash = { data, hashedBytes: src };
      } else {
        if (h.sizeMin === undefined && data.def.sizeMax !== undefined) h.sizeMin = repartVerityHashSize(data.def.sizeMax, BigInt(hbs), BigInt(dbs));
        s.verityHash = { data };
      }
    }
  },
};

/** A Verity=hash partition minimized from a self-sized data partition follows its size. */
export function followVerityData(ctx: BuildContext, settled: readonly PartitionState[]): void {
  for (const s of ctx.partitions) {
    const v = s.verityHash;
    if (!v || v.hashedBytes === undefined || !settled.includes(v.data)) continue;
    const { dbs, hbs } = verityBlocks(ctx, s.def);
    v.hashedBytes = v.data.fsSize!;
    s.blocksSize = BigInt(verityHashBytes(Number(v.hashedBytes), dbs, hbs));
  }
}
