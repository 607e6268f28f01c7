/**
 * Stage "trees": the virtual source trees, built before planning when Minimize= needs them to
 * size the file systems (sources are only lstat'ed here; drivers read them in place later). A dry
 * run builds only the trees Minimize= needs.
 * Writes: PartitionState.tree (packed for the formats that read it so: src/tree/packed.ts).
 */
import { veritySiblings } from '../tree/validatefs.js';
import { isPacked, packTree, PACKED_FORMATS } from '../tree/packed.js';
import { partitionTree, type TreeContext } from '../tree/from-definition.js';
import type { BuildContext, PartitionState, Stage } from './context.js';
import type { DirNode, SourceTree } from '../tree/model.js';
import { BIG_TREE, collectGarbage } from '../tree/gc.js';

/** Packed scans from this many records on are collected right away (see below). */
const SCAN_GC_MIN = 500_000;

function countAtLeast(tree: SourceTree, n: number): boolean {
  let count = 0;
  const visit = (d: DirNode): boolean => {
    count += d.entries.size;
    if (count >= n) return true;
    for (const c of d.entries.values()) if (c.kind === 'dir' && visit(c)) return true;
    return false;
  };
  return visit(tree.root);
}

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
      const made = await partitionTree(d, s.label, tc, {
        compat: ctx.compat, dedupe: ctx.request.dedupe, siblings: veritySiblings(ctx.partitions.map((x) => x.def), labels, ctx.partitions.indexOf(s)),
        packed: PACKED_FORMATS.has(d.format) && process.env.REPART_TS_SCANPACK !== '0',
      });
      // scanned into the packed form directly (src/tree/scanpack.ts): nothing to convert
      if (made && isPacked(made)) {
        s.tree = made;
        // the scan's garbage (per-directory names and Stats, the store's grown-out buffers)
        // goes before Minimize= adds its own beside it: the main thread would otherwise hold it
        // until formatting starts (src/fs/pool.ts collects again there, beside the workers).
        // Only where the peak is near the goal: the collection takes ~50 ms on this thread
        // (empty-1m: 248 MiB at the scan's end, minimize 232; empty-200k peaks at ~135 MiB
        // in the format stage either way).
        if (made.count >= SCAN_GC_MIN) await collectGarbage();
        continue;
      }
      let tree = made;
      // kept packed where every later reader takes that (src/tree/packed.ts): the objects go
      // now, and the workers read the same SharedArrayBuffers instead of a copy each
      if (tree && PACKED_FORMATS.has(d.format)) {
        // a big tree: the scan's garbage goes before the packed copy is made, and the objects
        // right after (the main thread is idle while the workers format: V8 would otherwise keep
        // them, hundreds of bytes a node, until it next collects on its own). Measured at 1M
        // empty files (bench empty-1m, before the packed scan): peak RSS ~970 MB without, ~770 MB with.
        const big = countAtLeast(tree, BIG_TREE);
        if (big) await collectGarbage();
        s.tree = packTree(tree, { shared: true });
        tree = null;
        if (big) await collectGarbage();
      } else s.tree = tree;
    }
  },
};
