/**
 * Stages for what systemd-repart 262 does beyond writing new partitions (issue 14, found with
 * systemd's TEST-58-REPART scenarios and mkosi's calls):
 * - "minimal size": device "-" only reports the size --size=auto would give;
 * - "fstab/crypttab (before populating)": the files land under --root= before the trees are read,
 *   so CopyFiles=/etc puts them into the image;
 * - "el torito check" / "el torito": --el-torito=yes needs an ESP; the catalog is written with the table;
 * - "grow file (no changes)": --size= grows an image even when no partition changes;
 * - "split (no changes)": --split=yes writes the split files of an unchanged image.
 * Writes: minimalSize/done, the generated files, the El Torito sectors, the grown device, split files.
 */
import { elToritoEsp, writeElTorito } from '../image/el-torito.js';
import { writeSplitFiles } from '../image/split.js';
import { writeTabsBeforePopulating } from '../report/generated-tabs.js';
import { isLive, type BuildContext, type Stage } from './context.js';
import { growDryRunStage } from './dry-run.js';
import { planFor } from './plan.js';

/** Device "-": the plan of an auto-sized image, reported as its size; nothing is written. */
export const minimalSizeStage: Stage = {
  name: 'minimal size',
  when: (ctx) => ctx.device === '-',
  run(ctx: BuildContext) {
    ctx.minimalSize = ctx.plan!.imageSize;
    ctx.done = true;
  },
};

export const tabsBeforePopulatingStage: Stage = {
  name: 'fstab/crypttab (before populating)',
  when: (ctx) => !ctx.request.dryRun && (ctx.request.generateFstab !== undefined || ctx.request.generateCrypttab !== undefined),
  run(ctx: BuildContext) {
    // labels and UUIDs do not depend on the layout: an auto-sized plan names them
    writeTabsBeforePopulating(ctx.request, () => planFor(ctx, 'auto'), ctx.warn);
  },
};

export const elToritoCheckStage: Stage = {
  name: 'el torito check',
  when: (ctx) => ctx.request.elTorito,
  run(ctx: BuildContext) { elToritoEsp(ctx.plan!.partitions); },
};

export const elToritoStage: Stage = {
  name: 'el torito',
  when: (ctx) => ctx.request.elTorito && !ctx.request.dryRun && ctx.changed,
  async run(ctx: BuildContext) {
    const o = ctx.request;
    await writeElTorito(ctx.image!.path, {
      espOffset: elToritoEsp(ctx.plan!.partitions).offset, system: o.elToritoSystem, volume: o.elToritoVolume, publisher: o.elToritoPublisher,
      time: o.sourceDateEpoch ?? Math.floor(ctx.now / 1000),
    });
  },
};

export const growUnchangedStage: Stage = {
  name: 'grow file (no changes)',
  when: (ctx) => !ctx.request.dryRun && !ctx.changed && ctx.table !== undefined && ctx.plan!.imageSize > ctx.table.imageSize,
  run: (ctx: BuildContext) => growDryRunStage.run(ctx),
};

export const splitUnchangedStage: Stage = {
  name: 'split (no changes)',
  when: (ctx) => !ctx.request.dryRun && !ctx.changed && ctx.request.split,
  run(ctx: BuildContext) {
    const parts = ctx.partitions.filter((s) => s.splitPath !== undefined && isLive(s));
    writeSplitFiles(ctx.device, parts.map((s) => ({ offset: s.placed!.offset, size: s.placed!.size, path: s.splitPath! })));
    ctx.written.push(...parts.map((s) => s.splitPath!));
  },
};
