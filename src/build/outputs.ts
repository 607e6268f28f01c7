/**
 * Stages after the image: "fstab/crypttab" (--generate-fstab=/--generate-crypttab=, not in a dry
 * run), "layout picture" (--layout-svg=, from the final plan) and "rows" (the listing).
 * Writes: written, rows.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { RepartError } from '../errors.js';
import { formatUuid } from '../gpt/guid.js';
import { partitionNode, type PartitionRow } from '../report/json.js';
import type { BuildContext, Stage } from './context.js';

export const generatedFilesStage: Stage = {
  name: 'fstab/crypttab',
  when: (ctx) => !ctx.request.dryRun && (ctx.request.generateFstab !== undefined || ctx.request.generateCrypttab !== undefined),
  async run(ctx: BuildContext) {
    const { tabTarget, writeGeneratedTabs } = await import('../report/generated-tabs.js');
    const o = ctx.request, plan = ctx.plan!;
    // written a second time (the first was before populating): now with fixate-volume-key=
    writeGeneratedTabs(o, plan.listOrder.map((k) => plan.partitions[k]!), { volumeKeys: ctx.volumeKeys, warn: ctx.warn, again: true });
    for (const f of [o.generateFstab, o.generateCrypttab]) if (f) ctx.written.push(tabTarget(f, o.root));
  },
};

export const layoutPictureStage: Stage = {
  name: 'layout picture',
  when: (ctx) => ctx.request.layoutSvg !== undefined,
  async run(ctx: BuildContext) {
    const file = ctx.request.layoutSvg!;
    const { renderLayoutSvg } = await import('../report/layout-svg.js');
    try {
      writeFileSync(file, renderLayoutSvg(ctx.plan!, path.basename(ctx.device)));
    } catch (e) {
      throw new RepartError('E_IMAGE_IO', `cannot write layout picture: ${(e as Error).message}`, { file });
    }
    ctx.written.push(file);
  },
};

/**
 * Whether repart knew this pair's root hash before writing: only a new Verity=hash partition with
 * Minimize= is hashed while planning (context_minimize); every other pair is hashed when written
 * (or joined, --join-signature=) and shows "TBD" in the table printed before.
 */
function hashedWhilePlanning(ctx: BuildContext, k: number): boolean {
  const d = ctx.definitions[k]!;
  const h = ctx.partitions.find((s) => s.def.verity === 'hash' && s.def.verityMatchKey === d.verityMatchKey);
  return h !== undefined && !h.existing && h.def.minimize !== 'off';
}

export const rowsStage: Stage = {
  name: 'rows',
  run(ctx: BuildContext) {
    const plan = ctx.plan!, o = ctx.request;
    const anyVerity = ctx.definitions.some((d) => d.verity !== 'off');
    const stateAt = (k: number) => ctx.partitions[k];
    ctx.rows = plan.listOrder.filter((k) => !plan.partitions[k]!.dropped).map((k): PartitionRow => {
      const p = plan.partitions[k]!, s = stateAt(k);
      return {
        type: p.type.name,
        label: p.label,
        // verity partitions get their UUIDs from the root hash: unknown until it is computed
        uuid: !p.existing && p.def.verity !== 'off' && p.def.verity !== 'signature' && !p.def.uuid && s?.rootHash === undefined ? formatUuid(new Uint8Array(16)) : formatUuid(p.uuid),
        partno: p.partno,
        file: p.foreign ? null : p.def.file,
        node: partitionNode(ctx.nodeBase, p.partno),
        offset: p.offset,
        oldSize: p.existing?.size ?? 0n,
        rawSize: p.size,
        oldPadding: p.existing?.padding ?? 0n,
        rawPadding: p.padding,
        activity: !p.existing ? 'create' : p.size !== p.existing.size ? 'resize' : 'unchanged',
        dropIns: p.def.dropIns,
        splitPath: o.split ? s?.splitPath ?? '-' : undefined,
        roothash: anyVerity ? (p.def.verity === 'off' ? null : s?.rootHash ?? 'TBD') : undefined,
        roothashEarly: anyVerity ? (p.def.verity === 'off' ? null : hashedWhilePlanning(ctx, k) ? s?.rootHash ?? 'TBD' : 'TBD') : undefined,
      };
    });
  },
};
