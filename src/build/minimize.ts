/**
 * Stage "minimize": Minimize= file system sizes. Most come from the model (one formatting pass,
 * not two) and the partition is planned around them like a CopyBlocks= source of that size;
 * self-sizing tools (erofs, squashfs; btrfs --shrink in 262) get a provisional upper bound and are
 * settled by formatting (stages "measure self-sized" and "format self-sized").
 * Writes: PartitionState.fsSize, .fsSizeSource, .modelMkfsOptions, .selfSized.
 */
import { roundUp } from '../config/values.js';
import { RepartError } from '../errors.js';
import { mkfsBtrfsEstimate } from '../fs/btrfs/estimate.js';
import { formatFacts, fsLabelFor } from '../fs/facts.js';
import { fmtBytes } from '../plan/allocate.js';
import { guessSize, minimalSize, modelMkfsOptionsAt, type SizeModel } from '../plan/minimize/index.js';
import { xfsGuessModel } from '../plan/minimize/xfs.js';
import { fsMinimum, minSize, type SizeContext } from '../plan/sizes.js';
import type { TreeNode } from '../tree/model.js';
import { isPacked, K_DIR, K_FILE, K_SYMLINK, objectTree, PackedView, type AnyTree } from '../tree/packed.js';
import { fsSectorOf, type BuildContext, type PartitionState, type Stage } from './context.js';

/** More than erofs or squashfs can need for a tree (uncompressed, every file block-aligned). */
function provisionalSize(tree: AnyTree | null): bigint {
  let bytes = 16n << 20n;
  if (tree && isPacked(tree)) {
    // every inode once (a hard link's data record), as the walk below counts them
    const v = new PackedView(tree);
    for (let i = 0; i < v.count; i++) {
      const kind = v.kindNo(i);
      if (kind !== K_DIR && v.data(i) !== i) continue;
      bytes += 4096n;
      if (kind === K_FILE) bytes += roundUp(BigInt(v.size(i)), 4096n) + BigInt(Math.ceil(v.size(i) / 4096)) * 8n;
      if (kind === K_SYMLINK) bytes += BigInt(v.target(i).length);
    }
    return bytes;
  }
  const seen = new Set<TreeNode>();
  const visit = (n: TreeNode) => {
    if (seen.has(n)) return;
    seen.add(n);
    bytes += 4096n;
    if (n.kind === 'file') bytes += roundUp(BigInt(n.size), 4096n) + BigInt(Math.ceil(n.size / 4096)) * 8n;
    if (n.kind === 'symlink') bytes += BigInt(n.target.length);
    if (n.kind === 'dir') for (const c of n.entries.values()) visit(c);
  };
  if (tree) visit(tree.root);
  return bytes;
}

export const sizeContext = (ctx: BuildContext): SizeContext => ({ compat: ctx.compat, grain: ctx.grain, fsSectorSize: ctx.fsSectorSize });

/** xfs: measured by a first mkfs.xfs pass, as repart does (plan/minimize/xfs.ts). */
function xfsModel(ctx: BuildContext, s: PartitionState): Promise<SizeModel> {
  const d = s.def;
  return xfsGuessModel(s.tree ? objectTree(s.tree) : null, {
    label: fsLabelFor('xfs', s.label, { file: d.file }), sectorSize: fsSectorOf(ctx, d), discard: ctx.request.discard,
    extraOptions: ctx.request.mkfsOptions?.xfs ?? [], sourceDateEpoch: ctx.request.sourceDateEpoch, now: ctx.now, compat: ctx.compat, definitionFile: d.file,
  });
}

function modelSize(ctx: BuildContext, s: PartitionState, measured?: SizeModel): { bytes: bigint; mkfsOptions?: string[] } {
  const d = s.def;
  const mo = { sectorSize: fsSectorOf(ctx, d), label: s.label, compat: ctx.compat, sizeMin: d.sizeMin === undefined ? undefined : Number(d.sizeMin) };
  let model;
  try {
    model = measured ?? (d.minimize === 'best' ? minimalSize(d.format!, s.tree!, mo) : guessSize(d.format!, s.tree!, mo));
  } catch (e) {
    if (e instanceof RepartError) throw new RepartError(e.code, e.detail, d.where.Minimize ?? { file: d.file });
    throw e;
  }
  const fsz = roundUp(BigInt(model.bytes), ctx.grain);
  // 258+ never makes the file system smaller than the partition's own minimum; 257 only
  // applies the file system type's minimum (ext4 32 MiB, btrfs 256 MiB, …).
  const sc = sizeContext(ctx);
  const floor = ctx.compat.minimizeFloorIsPartitionMinimum ? minSize(d, sc) : fsMinimum(d, sc) ?? 0n;
  const bytes = floor > fsz ? floor : fsz;
  return { bytes, mkfsOptions: modelMkfsOptionsAt(model, Number(bytes)) };
}

export const minimizeStage: Stage = {
  name: 'minimize',
  async run(ctx: BuildContext) {
    for (const s of ctx.partitions) {
      const d = s.def;
      if (d.minimize === 'off' || d.format === undefined || s.tree === undefined) continue;
      if (formatFacts(d.format)?.selfSized) {
        s.fsSize = roundUp(provisionalSize(s.tree), ctx.grain);
        s.fsSizeSource = 'provisional';
        s.selfSized = true;
      } else if (d.format === 'btrfs' && ctx.compat.btrfsShrink && s.tree) {
        // one pass in a window as large as mkfs's own first estimate; the partition then follows what it used
        s.fsSize = roundUp(BigInt(mkfsBtrfsEstimate(objectTree(s.tree), Math.max(fsSectorOf(ctx, d), 4096))), ctx.grain);
        s.fsSizeSource = 'provisional';
        s.selfSized = true;
      } else {
        const m = modelSize(ctx, s, d.format === 'xfs' ? await xfsModel(ctx, s) : undefined);
        s.fsSize = m.bytes;
        s.fsSizeSource = 'model';
        s.modelMkfsOptions = m.mkfsOptions;
      }
    }
    checkMax(ctx);
  },
};

/** A file system larger than SizeMaxBytes= allows is an error (provisional sizes are not known yet). */
export function checkMax(ctx: BuildContext): void {
  for (const s of ctx.partitions) {
    const fsz = s.fsSize, d = s.def;
    if (fsz === undefined || s.fsSizeSource === 'provisional') continue;
    if (d.sizeMax !== undefined && fsz > d.sizeMax)
      throw new RepartError('E_NO_SPACE', `the content needs a ${fmtBytes(fsz)} (${fsz} bytes) file system, more than SizeMaxBytes=${d.sizeMax} allows`, d.where.SizeMaxBytes ?? { file: d.file });
  }
}

/** A self-sized file system has been formatted: its partition is laid out around what it used. */
export function settleSelfSized(ctx: BuildContext, s: PartitionState, usedBytes: number | undefined): void {
  if (usedBytes === undefined) return;
  const fsz = roundUp(BigInt(usedBytes), ctx.grain);
  // the file system type's minimum no longer applies once the size is known (formatting.md §7)
  const floor = ctx.compat.minimizeFloorIsPartitionMinimum ? minSize(s.def, sizeContext(ctx), { copyBlocksSize: fsz }) : 0n;
  s.fsSize = floor > fsz ? floor : fsz;
  s.fsSizeSource = 'measured';
}
