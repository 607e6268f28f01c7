/**
 * The size models' common shapes and the ext family's models (the Minimize= stage loads only
 * these for ext2/3/4; src/plan/minimize/index.ts adds vfat, btrfs and swap and dispatches).
 */
import type { Compat } from '../../compat.js';
import type { AnyTree } from '../../tree/packed.js';
import { newTree } from '../../tree/model.js';
import type { BtrfsProfile } from './btrfs.js';
import { extGeometry, extMinimalSize, FIRST_INO, MKE2FS_PAGE_SIZE, type ExtType } from './ext4.js';
import { extGuess } from './ext-guess.js';
import { treeStats, type TreeStats } from './stats.js';

export interface MinimizeOptions {
  /** file system sector size (formatting.md §2.3): mkfs.fat -S, mkfs.btrfs --sectorsize. */
  sectorSize?: number;
  /** vfat: the label as mkfs.fat gets it (a label takes one root directory slot). Default: one
   * is assumed (repart always passes the partition label). */
  label?: string;
  /** vfat: which systemd stack to mirror (symlinks copied below 262). Default 262. */
  compat?: Compat | number;
  /** btrfs profiles when SYSTEMD_REPART_MKFS_OPTIONS_BTRFS changes them (default dup/single). */
  btrfsMetadataProfile?: BtrfsProfile;
  btrfsDataProfile?: BtrfsProfile;
  /** swap: SizeMinBytes= (swap has no content; its size is what the user asked for). */
  sizeMin?: number;
}

export interface SizeModel {
  format: string;
  /** bytes, a multiple of 4096. */
  bytes: number;
  /** what decided the size (per file system: counts, geometry, the estimate's terms). */
  detail: Record<string, unknown>;
  /** options the tool must get for the content to fit in `bytes` (ext: `-N`, only where the
   * default inode ratio cannot hold the tree); put them before SYSTEMD_REPART_MKFS_OPTIONS_*. */
  mkfsOptions?: string[];
}

export interface GuessModel extends SizeModel {
  minimal: number;
  /** lower bound of what systemd-repart's (257, 262) two-pass guess gives for this content. */
  repartLowerBound: number;
}

export const isExt = (format: string): format is ExtType => format === 'ext2' || format === 'ext3' || format === 'ext4';

/** ext: with the blocks mke2fs really writes per file (sparse files read for their holes). */
function extStatsOf(tree: AnyTree | null): TreeStats {
  return treeStats(tree ?? newTree(), { fileData: { blockSize: 4096, maxRun: 32768 } });
}

/** Minimize=best for ext2/3/4 (minimalSize()). */
export function extMinimalModel(format: ExtType, tree: AnyTree | null): SizeModel {
  const m = extMinimalSize(extStatsOf(tree), format);
  return { format, bytes: m.bytes, detail: { limitedBy: m.limitedBy, content: m.content, geometry: m.geometry } };
}

/** Minimize=guess for ext2/3/4 (guessSize()). */
export function extGuessModel(format: ExtType, tree: AnyTree | null): GuessModel {
  const g = extGuess(extStatsOf(tree), format);
  return { format, bytes: g.bytes, minimal: g.minimal, repartLowerBound: g.repartLowerBound, detail: g.detail, ...(g.mkfsOptions.length ? { mkfsOptions: g.mkfsOptions } : {}) };
}

/**
 * The model's mkfs options for the size finally formatted: a floor (SizeMinBytes=, the file
 * system minimum) can make the file system so much larger than the guess that mke2fs' default
 * inode ratio holds the tree after all — then repart's own options are used (no -N).
 */
export function modelMkfsOptionsAt(model: SizeModel, bytes: number): string[] | undefined {
  const n = model.detail.inodeCount;
  if (!model.mkfsOptions || typeof n !== 'number' || !model.format.startsWith('ext')) return model.mkfsOptions;
  const g = extGeometry(bytes, model.format as ExtType, MKE2FS_PAGE_SIZE);
  return g && g.freeInodes >= n - FIRST_INO - 1 ? undefined : model.mkfsOptions;
}
