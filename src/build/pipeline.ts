/**
 * The build as a flat list of named stages over one context, like systemd-repart's run()
 * (read seed, read definitions, load table, open CopyBlocks, acquire UUIDs and labels, verity
 * sizes, minimize, place, write). A stage may ask for a re-layout by returning
 * `{ next: 'replan' }`: the run goes back to the "plan" stage (the temporary image is dropped),
 * a bounded number of times. A dry run is a condition on the stages that write.
 */
import { performance } from 'node:perf_hooks';
import { RepartError } from '../errors.js';
import type { BuildContext, Stage } from './context.js';
import { copyBlocksStage as copyBlocksSourcesStage } from './copy-blocks.js';
import { elToritoCheckStage, elToritoStage, growUnchangedStage, minimalSizeStage, splitUnchangedStage, tabsBeforePopulatingStage } from './conformance.js';
import { readDefinitionsStage } from './definitions.js';
import { commandLineInputsStage } from '../io/cli-inputs.js';
import { changesStage, growDryRunStage } from './dry-run.js';
import { encryptStage } from './encrypt.js';
import { dryRunRootHashesStage, measureSelfSizedStage } from './measure.js';
import { minimizeStage } from './minimize.js';
import { generatedFilesStage, layoutPictureStage, rowsStage } from './outputs.js';
import { planStage } from './plan.js';
import { prewarmStage } from './prewarm.js';
import { seedStage } from './seed.js';
import { signaturesStage } from './signatures.js';
import { joinSignatureStage, signingKeysStage } from './signing.js';
import { bindExistingStage, listExistingStage, loadTableStage } from './table.js';
import { treesStage } from './trees.js';
import { applyDryRunRootHashesStage, verityStage } from './verity.js';
import { veritySizesStage } from './verity-sizes.js';
import { copyBlocksStage, formatSelfSizedStage, formatStage, MAX_ATTEMPTS, openImageStage, writeTableStage } from './write.js';

export const STAGES: readonly Stage[] = [
  commandLineInputsStage,
  readDefinitionsStage,
  loadTableStage,
  listExistingStage,
  bindExistingStage,
  seedStage,
  prewarmStage,
  copyBlocksSourcesStage,
  tabsBeforePopulatingStage,
  treesStage,
  minimizeStage,
  veritySizesStage,
  measureSelfSizedStage,
  dryRunRootHashesStage,
  planStage,
  minimalSizeStage,
  elToritoCheckStage,
  applyDryRunRootHashesStage,
  signingKeysStage,
  joinSignatureStage,
  growDryRunStage,
  changesStage,
  growUnchangedStage,
  splitUnchangedStage,
  openImageStage,
  formatSelfSizedStage,
  copyBlocksStage,
  formatStage,
  verityStage,
  signaturesStage,
  encryptStage,
  elToritoStage,
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
export async function runStages(ctx: BuildContext, stages: readonly Stage[] = STAGES): Promise<void> {
  const replanAt = stages.findIndex((s) => s.name === 'plan');
  let replans = 0;
  try {
    for (let i = 0; i < stages.length && !ctx.done; i++) {
      const stage = stages[i]!;
      if (stage.when && !stage.when(ctx)) continue;
      const t0 = performance.now();
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
