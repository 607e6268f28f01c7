/**
 * Stage "verity": after the data partitions are written, their hash trees; the root hash then
 * names the pair (src/build/root-hash.ts), before the GPT is written.
 * Writes: PartitionState.rootHash; plan (renamed entries).
 */
import { RepartError } from '../errors.js';
import { deriveVeritySalt, deriveVerityUuid, formatVerityHash } from '../verity/index.js';
import { fstypeIsRo } from '../config/load.js';
import type { BuildContext, PartitionState, Stage, VerityHashRole } from './context.js';
import { applyRootHash } from './root-hash.js';
import { verityBlocks } from './verity-sizes.js';

const inTable = (s: PartitionState) => !s.placed!.dropped && !(s.deferredByOptions && !s.placed!.existing);

export const verityStage: Stage = {
  name: 'verity',
  when: (ctx) => !ctx.request.dryRun && ctx.changed,
  async run(ctx: BuildContext) {
    for (const h of ctx.partitions) {
      const v = h.verityHash;
      if (!v || !inTable(h) || !inTable(v.data)) continue;
      const { dbs, hbs } = verityBlocks(ctx, h.def);
      const hp = h.placed!, dp = v.data.placed!;
      let r;
      try {
        r = await formatVerityHash(
          { path: ctx.image!.path, offset: dp.offset, length: hashedLength(v, dp.size) },
          { path: ctx.image!.path, offset: hp.offset, length: hp.size },
          { dataBlockSize: dbs, hashBlockSize: hbs, salt: deriveVeritySalt(ctx.seed), uuid: deriveVerityUuid(ctx.seed), zeroRest: false },
        );
      } catch (e) {
        if (e instanceof RepartError) throw new RepartError(e.code, `Verity hash data does not fit in the partition: ${e.detail}`, { file: hp.def.file });
        throw e;
      }
      applyRootHash(ctx, h, v.data, r.rootHash);
    }
  },
};

/**
 * The bytes of the data partition its hash tree covers: Minimize='s measured size; else, for a
 * read-only file system (erofs, squashfs), the image the tool made — repart (257 and 262) builds
 * it as a file and copies it in, and hashes that file, not the partition's zeroed tail; else the
 * whole partition.
 */
export function hashedLength(v: VerityHashRole, partitionSize: bigint): bigint {
  if (v.hashedBytes !== undefined) return v.hashedBytes;
  const d = v.data;
  const used = d.formatted?.usedBytes;
  if (d.def.format !== undefined && fstypeIsRo(d.def.format) && used !== undefined) return BigInt(used);
  return partitionSize;
}

/** Stage "dry-run root hashes applied": what the dry run hashed names its pairs too. */
export const applyDryRunRootHashesStage: Stage = {
  name: 'apply dry-run root hashes',
  when: (ctx) => ctx.request.dryRun,
  run(ctx: BuildContext) {
    for (const h of ctx.partitions) if (h.dryRunRootHash) applyRootHash(ctx, h, h.verityHash!.data, h.dryRunRootHash);
  },
};
