/**
 * Stage "prewarm": the formatter starts its workers, loads the drivers and compiles the
 * WebAssembly tools of the formats this run will write, while the main thread scans the trees
 * and sizes the file systems (both cores busy; the fixed cost of a worker is off the critical path).
 */
import type { BuildContext, Stage } from './context.js';
import { LIGHT_FORMATS as LIGHT } from '../fs/registry.js';

export const prewarmStage: Stage = {
  name: 'prewarm',
  when: (ctx) => !ctx.request.dryRun && ctx.request.formatter?.prewarm !== undefined,
  async run(ctx: BuildContext) {
    const formats = [...new Set(ctx.definitions.flatMap((d) => (d.format ? [d.format] : [])))];
    const heavy = formats.filter((f) => !LIGHT.has(f));
    // Only as many workers as there are heavy jobs: each started worker takes ~0.2 s of CPU
    // (Node, the driver, the tool's compilation) from the tree scan, which shares the cores
    // with the warm-up; a light job's worker starts when its job comes, off the critical path
    // (the pool gives the warm workers to the heavy jobs: src/fs/pool.ts).
    const heavyJobs = ctx.definitions.filter((d) => d.format !== undefined && !LIGHT.has(d.format)).length;
    // Drivers written in TypeScript are warmed only when nothing else is.
    // awaited: the workers must be started before the synchronous tree scan holds this thread
    if (formats.length) await ctx.request.formatter!.prewarm!(heavy.length ? heavy : formats, ctx.compat, Math.max(1, heavyJobs));
  },
};
