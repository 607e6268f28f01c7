/**
 * The build as a flat list of named stages over one context, like systemd-repart's run()
 * (read seed, read definitions, load table, open CopyBlocks, acquire UUIDs and labels, verity
 * sizes, minimize, place, write). A stage may ask for a re-layout by returning
 * `{ next: 'replan' }`: the run goes back to the "plan" stage (the temporary image is dropped),
 * a bounded number of times. A dry run is a condition on the stages that write.
 */
import { performance } from 'node:perf_hooks';
import { RepartError } from '../errors.js';
import type { BuildContext, LazyStage, Stage } from './context.js';
import { readDefinitionsStage } from './definitions.js';
import { commandLineInputsStage } from '../io/cli-inputs.js';
import { changesStage, growDryRunStage } from './dry-run.js';
import { minimizeStage } from './minimize.js';
import { generatedFilesStage, layoutPictureStage, rowsStage } from './outputs.js';
import { planStage } from './plan.js';
import { seedStage } from './seed.js';
import { bindExistingStage, listExistingStage, loadTableStage } from './table.js';
import { copyBlocksStage, formatSelfSizedStage, formatStage, MAX_ATTEMPTS, openImageStage, writeTableStage } from './write.js';

// Stages in modules that most runs do not need load when `need` says they can matter (LazyStage).
const lazy = (name: string, need: LazyStage['need'], load: LazyStage['load']): LazyStage => ({ name, need, load });
const conformance = () => import('./conformance.js');
const verity = () => import('./verity.js');
const signing = () => import('./signing.js');
const measure = () => import('./measure.js');
const anyPartition = (ctx: BuildContext, f: (s: BuildContext['partitions'][number]) => boolean) => ctx.partitions.some(f);
const wantsTabs = (ctx: BuildContext) => ctx.request.generateFstab !== undefined || ctx.request.generateCrypttab !== undefined;

export const STAGES: readonly (Stage | LazyStage)[] = [
  commandLineInputsStage,
  readDefinitionsStage,
  loadTableStage,
  listExistingStage,
  bindExistingStage,
  seedStage,
  lazy('prewarm', (ctx) => anyPartition(ctx, (s) => s.def.format !== undefined), async () => (await import('./prewarm.js')).prewarmStage),
  lazy('copy-blocks sources', (ctx) => anyPartition(ctx, (s) => s.def.copyFrom !== undefined || s.def.copyBlocks !== undefined),
    async () => (await import('./copy-blocks.js')).copyBlocksStage),
  lazy('fstab/crypttab (before populating)', wantsTabs, async () => (await conformance()).tabsBeforePopulatingStage),
  lazy('trees', (ctx) => anyPartition(ctx, (s) => s.def.format !== undefined), async () => (await import('./trees.js')).treesStage),
  minimizeStage,
  lazy('verity sizes', (ctx) => anyPartition(ctx, (s) => s.def.verity === 'hash'), async () => (await import('./verity-sizes.js')).veritySizesStage),
  lazy('measure self-sized', (ctx) => ctx.request.dryRun, async () => (await measure()).measureSelfSizedStage),
  lazy('dry-run root hashes', (ctx) => ctx.request.dryRun, async () => (await measure()).dryRunRootHashesStage),
  planStage,
  lazy('minimal size', (ctx) => ctx.device === '-', async () => (await conformance()).minimalSizeStage),
  lazy('el torito check', (ctx) => ctx.request.elTorito, async () => (await conformance()).elToritoCheckStage),
  lazy('apply dry-run root hashes', (ctx) => anyPartition(ctx, (s) => s.dryRunRootHash !== undefined), async () => (await verity()).applyDryRunRootHashesStage),
  lazy('signing keys', (ctx) => anyPartition(ctx, (s) => s.def.verity === 'signature'), async () => (await signing()).signingKeysStage),
  lazy('join signature', (ctx) => ctx.request.joinSignature !== undefined, async () => (await signing()).joinSignatureStage),
  growDryRunStage,
  changesStage,
  lazy('grow file (no changes)', (ctx) => !ctx.changed, async () => (await conformance()).growUnchangedStage),
  lazy('split (no changes)', (ctx) => ctx.request.split, async () => (await conformance()).splitUnchangedStage),
  openImageStage,
  formatSelfSizedStage,
  copyBlocksStage,
  formatStage,
  lazy('verity', (ctx) => anyPartition(ctx, (s) => s.verityHash !== undefined), async () => (await verity()).verityStage),
  lazy('signatures', (ctx) => ctx.signer !== undefined || ctx.request.joinSignature !== undefined, async () => (await import('./signatures.js')).signaturesStage),
  lazy('encrypt', (ctx) => anyPartition(ctx, (s) => s.def.encrypt === 'key-file'), async () => (await import('./encrypt.js')).encryptStage),
  lazy('el torito', (ctx) => ctx.request.elTorito, async () => (await conformance()).elToritoStage),
  writeTableStage,
  generatedFilesStage,
  layoutPictureStage,
  rowsStage,
];

/** Adds a stage's time to ctx.timings (bench/ prints where a build's time goes). */
function timed(ctx: BuildContext, name: string, t0: number): void {
  const ms = performance.now() - t0;
  ctx.timings ??= [];
  const e = ctx.timings.find((t) => t.stage === name);
  if (e) { e.ms += ms; e.runs++; } else ctx.timings.push({ stage: name, ms, runs: 1 });
}

/** Runs the stages in order; `ctx.done` ends the run early (listing an existing table). */
export async function runStages(ctx: BuildContext, stages: readonly (Stage | LazyStage)[] = STAGES): Promise<void> {
  const replanAt = stages.findIndex((s) => s.name === 'plan');
  let replans = 0;
  try {
    for (let i = 0; i < stages.length && !ctx.done; i++) {
      let stage = stages[i]!;
      const t0 = performance.now();
      if ('load' in stage) {
        if (!stage.need(ctx)) continue;
        stage = await stage.load();
      }
      if (stage.when && !stage.when(ctx)) continue;
      const r = await stage.run(ctx);
      timed(ctx, stage.name, t0);
      if (r?.next !== 'replan') continue;
      if (++replans >= MAX_ATTEMPTS || replanAt < 0) throw new RepartError('E_NO_SPACE', `the layout did not settle after ${replans} attempts`, {});
      ctx.image?.abort();
      ctx.image = undefined;
      i = replanAt - 1;
    }
  } finally {
    ctx.image?.abort();
    ctx.image = undefined;
  }
}
