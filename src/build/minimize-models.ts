/**
 * The Minimize= stage's work on one partition (src/build/minimize.ts): a provisional size for a
 * self-sizing tool, mkfs.btrfs' own estimate for btrfs --shrink, or the model's size. Loaded only
 * when a partition is minimized; each format's model is loaded when that format is sized.
 */
import { roundUp } from '../config/values.js';
import { RepartError } from '../errors.js';
import { formatFacts, fsLabelFor } from '../fs/facts.js';
import { isExt, modelMkfsOptionsAt, type MinimizeOptions, type SizeModel } from '../plan/minimize/model.js';
import { fsMinimum, minSize } from '../plan/sizes.js';
import type { TreeNode } from '../tree/model.js';
import { isPacked, K_DIR, K_FILE, K_SYMLINK, objectTree, PackedView, type AnyTree } from '../tree/packed.js';
import { fsSectorOf, type BuildContext, type PartitionState } from './context.js';
import { sizeContext } from './minimize.js';

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

/** xfs: measured by a first mkfs.xfs pass, as repart does (plan/minimize/xfs.ts). */
async function xfsModel(ctx: BuildContext, s: PartitionState): Promise<SizeModel> {
  const d = s.def;
  const { xfsGuessModel } = await import('../plan/minimize/xfs.js');
  return xfsGuessModel(s.tree ? objectTree(s.tree) : null, {
    label: fsLabelFor('xfs', s.label, { file: d.file }), sectorSize: fsSectorOf(ctx, d), discard: ctx.request.discard,
    extraOptions: ctx.request.mkfsOptions?.xfs ?? [], sourceDateEpoch: ctx.request.sourceDateEpoch, now: ctx.now, compat: ctx.compat, definitionFile: d.file,
  });
}

async function modelSize(ctx: BuildContext, s: PartitionState, measured?: SizeModel): Promise<{ bytes: bigint; mkfsOptions?: string[] }> {
  const d = s.def;
  const mo: MinimizeOptions = { sectorSize: fsSectorOf(ctx, d), label: s.label, compat: ctx.compat, sizeMin: d.sizeMin === undefined ? undefined : Number(d.sizeMin) };
  let model;
  try {
    model = measured ?? await sizeModel(d.format!, s.tree!, d.minimize === 'best', mo);
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

/** Minimize=best or =guess for `format`: the ext family's models alone, or the full set (plan/minimize/index.ts). */
async function sizeModel(format: string, tree: AnyTree | null, best: boolean, mo: MinimizeOptions): Promise<SizeModel> {
  if (isExt(format)) {
    const { extGuessModel, extMinimalModel } = await import('../plan/minimize/model.js');
    return best ? extMinimalModel(format, tree) : extGuessModel(format, tree);
  }
  const { guessSize, minimalSize } = await import('../plan/minimize/index.js');
  return best ? minimalSize(format, tree, mo) : guessSize(format, tree, mo);
}

/** Sizes one minimized partition (definition order; the stage checks SizeMaxBytes= after all). */
export async function minimizePartition(ctx: BuildContext, s: PartitionState): Promise<void> {
  const d = s.def;
  if (formatFacts(d.format!)?.selfSized) {
    s.fsSize = roundUp(provisionalSize(s.tree!), ctx.grain);
    s.fsSizeSource = 'provisional';
    s.selfSized = true;
  } else if (d.format === 'btrfs' && ctx.compat.btrfsShrink && s.tree) {
    // one pass in a window as large as mkfs's own first estimate; the partition then follows what it used
    const { mkfsBtrfsEstimate } = await import('../fs/btrfs/estimate.js');
    s.fsSize = roundUp(BigInt(mkfsBtrfsEstimate(objectTree(s.tree), Math.max(fsSectorOf(ctx, d), 4096))), ctx.grain);
    s.fsSizeSource = 'provisional';
    s.selfSized = true;
  } else {
    const m = await modelSize(ctx, s, d.format === 'xfs' ? await xfsModel(ctx, s) : undefined);
    s.fsSize = m.bytes;
    s.fsSizeSource = 'model';
    s.modelMkfsOptions = m.mkfsOptions;
  }
}
