/**
 * Stage "trees": the virtual source trees, built before planning when Minimize= needs them to
 * size the file systems (sources are only lstat'ed here; drivers read them in place later). A dry
 * run builds only the trees Minimize= needs.
 * Writes: PartitionState.tree (packed for the formats that read it so: src/tree/packed.ts).
 */
import { veritySiblings } from '../tree/validatefs.js';
import { packTree, PACKED_FORMATS } from '../tree/packed.js';
import { partitionTree, type TreeContext } from '../tree/from-definition.js';
import type { BuildContext, PartitionState, Stage } from './context.js';

export function treeContext(ctx: BuildContext): TreeContext {
  return {
    copySource: ctx.request.copySource ?? ctx.request.root ?? '/',
    sourceDateEpoch: ctx.request.sourceDateEpoch,
    now: ctx.now,
    all: ctx.definitions,
    mapOwnersToRoot: ctx.request.mapOwnersToRoot,
    log: ctx.warn,
    env: ctx.request.env,
  };
}

/** A dry run formats nothing but what Minimize= measures; a real run fills every new file system. */
const needsTree = (ctx: BuildContext, s: PartitionState) => s.def.minimize !== 'off' || !ctx.request.dryRun;

export const treesStage: Stage = {
  name: 'trees',
  async run(ctx: BuildContext) {
    const tc = treeContext(ctx);
    for (const s of ctx.partitions) {
      const d = s.def;
      if (d.format === undefined || s.deferredByOptions || s.existing) continue;
      if (!needsTree(ctx, s)) continue;
      const labels = ctx.partitions.map((x) => x.label);
      const tree = await partitionTree(d, s.label, tc, {
        compat: ctx.compat, dedupe: ctx.request.dedupe, siblings: veritySiblings(ctx.partitions.map((x) => x.def), labels, ctx.partitions.indexOf(s)),
      });
      // kept packed where every later reader takes that (src/tree/packed.ts): the objects go
      // now, and the workers read the same SharedArrayBuffers instead of a copy each
      s.tree = tree && PACKED_FORMATS.has(d.format) ? packTree(tree, { shared: true }) : tree;
    }
  },
};
