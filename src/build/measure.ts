/**
 * Sizes that only formatting tells (erofs/squashfs, btrfs --shrink with Minimize=), learnt by
 * formatting into a scratch file. Used by a dry run (repart formats them even then, so the plan it
 * prints is the real one) and when the provisional windows do not fit a fixed --size.
 *
 * Stage "measure self-sized" (dry run) writes: PartitionState.fsSize/.fsSizeSource ('measured'),
 * .extraPasses, and dependent verity hash sizes; .dryRunRootHash for pairs over a measured
 * data partition.
 * Stage "dry-run root hashes" writes .dryRunRootHash for minimized hash partitions over a
 * CopyBlocks= file or a model-sized file system (repart hashes those in a dry run too).
 */
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { roundUp } from '../config/values.js';
import type { FormatJob, FormatOutcome } from '../fs/driver.js';
import { formatInProcess } from '../fs/registry.js';
import { deriveVeritySalt, deriveVerityUuid, formatVerityHash } from '../verity/index.js';
import type { BuildContext, PartitionState, Stage } from './context.js';
import { formatJobFor } from './jobs.js';
import { checkMax, settleSelfSized } from './minimize.js';
import { planFor } from './plan.js';
import { followVerityData, verityBlocks } from './verity-sizes.js';

type Offsets = Map<PartitionState, bigint>;

/**
 * Formats partitions (at their fsSize) back to back into a scratch file; `use` gets each one's
 * offset there and the outcomes; the file is removed afterwards. Labels and UUIDs do not depend
 * on the layout, so an auto-sized plan names them.
 */
async function inScratch(ctx: BuildContext, parts: PartitionState[], use: (scratch: string, offsets: Offsets, out: FormatOutcome[]) => Promise<void>): Promise<void> {
  const probe = planFor(ctx, 'auto');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-ts-scratch-'));
  try {
    const scratch = path.join(dir, 'scratch.raw');
    writeFileSync(scratch, '');
    const offsets: Offsets = new Map();
    let at = 0n;
    for (const s of parts) { offsets.set(s, at); at += s.fsSize!; }
    const out = await (ctx.request.formatter ?? formatInProcess)(parts.map((s): FormatJob => (
      { ...formatJobFor(ctx, s, probe.partitions[s.index]!), window: { path: scratch, offset: Number(offsets.get(s)!), size: Number(s.fsSize!) } })));
    truncateSync(scratch, Number(at)); // every window reads back whole, zeros after what was used
    await use(scratch, offsets, out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A dry run's root hash of a minimized hash partition, from its data in `src`. */
async function dryRunRootHash(ctx: BuildContext, h: PartitionState, src: { path: string; offset: bigint }): Promise<void> {
  const v = h.verityHash!;
  if (v.hashedBytes === undefined) return;
  const { dbs, hbs } = verityBlocks(ctx, h.def);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-ts-hash-'));
  try {
    const f = path.join(dir, 'hash');
    writeFileSync(f, '');
    const r = await formatVerityHash({ path: src.path, offset: src.offset, length: v.hashedBytes },
      { path: f, offset: 0n, length: roundUp(h.blocksSize!, ctx.grain) },
      { dataBlockSize: dbs, hashBlockSize: hbs, salt: deriveVeritySalt(ctx.seed), uuid: deriveVerityUuid(ctx.seed), zeroRest: false });
    h.dryRunRootHash = r.rootHash;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Formats the still-provisional self-sized partitions into a scratch file to learn their sizes. */
export async function measureSelfSized(ctx: BuildContext, o: { hashPairs: boolean }): Promise<void> {
  const pending = ctx.partitions.filter((s) => s.fsSizeSource === 'provisional');
  if (pending.length === 0) return;
  await inScratch(ctx, pending, async (scratch, offsets, out) => {
    pending.forEach((s, k) => { settleSelfSized(ctx, s, out[k]!.usedBytes); s.extraPasses = 1; });
    checkMax(ctx);
    followVerityData(ctx, pending);
    if (!o.hashPairs) return;
    for (const h of ctx.partitions) if (h.verityHash && offsets.has(h.verityHash.data)) await dryRunRootHash(ctx, h, { path: scratch, offset: offsets.get(h.verityHash.data)! });
  });
}

const isDryRun = (ctx: BuildContext) => ctx.request.dryRun;

/** A dry run formats self-sized partitions too (the plan it prints is the real one) and hashes pairs over them. */
export const measureSelfSizedStage: Stage = { name: 'measure self-sized', when: isDryRun, run: (ctx) => measureSelfSized(ctx, { hashPairs: true }) };

export const dryRunRootHashesStage: Stage = {
  name: 'dry-run root hashes',
  when: isDryRun,
  async run(ctx: BuildContext) {
    const hashes = ctx.partitions.filter((h) => h.verityHash?.hashedBytes !== undefined);
    // over a CopyBlocks= file: repart hashes it even in dry-run mode
    for (const h of hashes) if (h.verityHash!.data.blocks) await dryRunRootHash(ctx, h, h.verityHash!.data.blocks);
    // over a file system sized by our model: repart formats it in a dry run too, so do we, into a
    // scratch file, to print the root hash and UUIDs the real run will have
    const modelSized = hashes.filter((h) => !h.dryRunRootHash && !h.verityHash!.data.blocks && h.verityHash!.data.fsSize !== undefined && !h.verityHash!.data.selfSized);
    if (modelSized.length === 0) return;
    await inScratch(ctx, modelSized.map((h) => h.verityHash!.data), async (scratch, offsets) => {
      for (const h of modelSized) await dryRunRootHash(ctx, h, { path: scratch, offset: offsets.get(h.verityHash!.data)! });
    });
  },
};
