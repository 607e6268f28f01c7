/**
 * Stage "prewarm": the formatter starts its workers, loads the drivers and compiles the
 * WebAssembly tools of the formats this run will write, while the main thread scans the trees
 * and sizes the file systems (both cores busy; the fixed cost of a worker is off the critical path).
 */
import type { BuildContext, Stage } from './context.js';

/**
 * Drivers written in TypeScript: they load in a few ms when their job comes (in parallel with
 * the tools). Warming them too would take CPU from the tree scan, which the warm-up shares a
 * core with; they are warmed only when nothing else is.
 */
const LIGHT = new Set(['vfat', 'swap']);

export const prewarmStage: Stage = {
  name: 'prewarm',
  when: (ctx) => !ctx.request.dryRun && ctx.request.formatter?.prewarm !== undefined,
  async run(ctx: BuildContext) {
    const formats = [...new Set(ctx.definitions.flatMap((d) => (d.format ? [d.format] : [])))];
    const heavy = formats.filter((f) => !LIGHT.has(f));
    // awaited: the workers must be started before the synchronous tree scan holds this thread
    if (formats.length) await ctx.request.formatter!.prewarm!(heavy.length ? heavy : formats, ctx.compat);
  },
};
