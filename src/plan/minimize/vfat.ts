/**
 * Smallest FAT32 volume our vfat writer (mkfs.fat 4.2 geometry + mcopy layout) fills with a tree.
 *
 * No separate model: the writer's own planner knows exactly how many clusters the content takes
 * (short and long-name slots, `~N` aliases, directory growth one cluster at a time, file
 * clusters). The cluster size depends on the volume size (FAT32: 1 sector up to 532480 sectors,
 * then 8, 16, 32, 64 sectors per cluster), so per cluster-size regime, smallest first:
 *   1. plan the content once on a roomy volume with that cluster size → clusters needed N;
 *   2. bisect the sizes of the regime for the smallest whose geometry has N + 1 clusters
 *      (FAT32's root directory is cluster 2) — geometry alone, cheap;
 *   3. confirm with a full plan at that size (and step up if a boundary quirk says otherwise).
 */
import { asCompat, type Compat } from '../../compat.js';
import type { SourceTree } from '../../tree/model.js';
import { toPlan } from '../../fs/vfat/index.js';
import { computeGeometry, GeometryError } from '../../fs/vfat/geometry.js';
import { LayoutError, planLayout, type PlanNode } from '../../fs/vfat/layout.js';
import { mangleFatLabel, mkfs } from '../../fs/vfat/mkfs.js';
import type { NameMode } from '../../fs/vfat/names.js';

export interface VfatModelOptions {
  /** logical sector size (mkfs.fat -S); repart passes the fs sector size. */
  sectorSize?: number;
  /** label as mkfs.fat gets it (mangleFatLabel of the partition label): a non-empty label takes
   * one root directory slot. Default: some label is assumed, as repart always passes one. */
  label?: string;
  /** as the vfat driver: below 262 symlinks to files are copied (mcopy 4.0.48), from 262 on skipped. */
  compat?: Compat | number;
  nameMode?: NameMode;
  /** clusters to keep free beyond the content (Minimize=guess headroom), as a fraction of it. */
  headroom?: number;
}

/** The tree as mcopy gets it: the writer's own view (times do not matter for sizes). */
export function vfatPlanNodes(tree: SourceTree, followSymlinks = true): PlanNode[] {
  return toPlan(tree, [], undefined, followSymlinks);
}

export interface VfatMinimal {
  bytes: number;
  detail: { sectorsPerCluster: number; clusterBytes: number; clustersNeeded: number; clusterCount: number; fatLength: number; planRuns: number };
}

const UNIT = 4096;
/** mkfs.fat's FAT32 cluster-size steps, by sector count (geometry.ts). */
const REGIMES: [spc: number, maxSectors: number][] = [
  [1, 260 * 1024 * 2],
  [8, 8 * 1024 * 1024 * 2],
  [16, 16 * 1024 * 1024 * 2],
  [32, 32 * 1024 * 1024 * 2],
  [64, 0xffffffff],
];

export function vfatMinimalSize(tree: SourceTree, opts: VfatModelOptions = {}): VfatMinimal {
  const ss = opts.sectorSize ?? 512;
  // a placeholder no real name maps to, so it takes its slot without changing any alias
  // the partition label as the driver passes it (mangled to 11 FAT characters: 262 builds these)
  const label = opts.label === undefined ? '~~~~~~~~~~~' : mangleFatLabel(opts.label);
  const top = vfatPlanNodes(tree, !asCompat(opts.compat).mtoolsSkipsSymlinks);
  let planRuns = 0;
  const image = (size: number, spc?: number) => mkfs({ size, sectorSize: ss, fatBits: 32, sectorsPerCluster: spc, volumeId: 0, label, labelTime: 0 });
  /** clusters the content takes (without the root's first cluster) at this cluster size. */
  const needed = (spc: number): number => {
    let bytes = 64 * 1024 * 1024;
    for (;;) {
      planRuns++;
      try {
        return planLayout(image(bytes, spc), top, { nameMode: opts.nameMode }).allocatedClusters;
      } catch (e) {
        // e.g. a long name needing more slots than one cluster has: not at this cluster size
        if (e instanceof LayoutError && (e.code === 'E_FS' || e.code === 'E_FS_DIR_FULL')) return Infinity;
        if (!(e instanceof LayoutError && e.code === 'E_FS_NO_SPACE') && !(e instanceof GeometryError)) throw e;
        const hint = e instanceof LayoutError && e.neededClusters ? e.neededClusters * spc * ss * 1.1 : 0;
        bytes = Math.max(bytes * 2, Math.ceil(hint));
        if (bytes > 2 ** 44) throw e;
      }
    }
  };
  const fitsExactly = (size: number): boolean => {
    planRuns++;
    try {
      planLayout(image(size), top, { nameMode: opts.nameMode });
      return true;
    } catch (e) {
      if ((e instanceof LayoutError && e.code === 'E_FS_NO_SPACE') || e instanceof GeometryError) return false;
      throw e;
    }
  };
  let prevMax = 0;
  for (const [spc, maxSectors] of REGIMES) {
    const lo = Math.floor(prevMax * ss / UNIT) + 1;
    const hi = Math.floor(Math.min(maxSectors * ss, 2 ** 44) / UNIT);
    prevMax = maxSectors;
    const content = needed(spc);
    if (!Number.isFinite(content)) continue;
    const need = content + Math.ceil(content * (opts.headroom ?? 0));
    const geo = (u: number) => {
      try {
        return computeGeometry({ size: u * UNIT, sectorSize: ss, fatBits: 32 });
      } catch {
        return null;
      }
    };
    const ok = (u: number): boolean => {
      const g = geo(u);
      return !!g && g.sectorsPerCluster === spc && g.clusterCount >= need + 1;
    };
    if (!ok(hi)) continue;
    let a = lo;
    let b = hi;
    while (a < b) {
      const mid = Math.floor((a + b) / 2);
      if (ok(mid)) b = mid;
      else a = mid + 1;
    }
    // the full planner is the judge; a few steps up cover any boundary quirk
    for (let u = b; u <= Math.min(hi, b + 64); u++) {
      if (fitsExactly(u * UNIT)) {
        const g = geo(u)!;
        return { bytes: u * UNIT, detail: { sectorsPerCluster: g.sectorsPerCluster, clusterBytes: g.sectorsPerCluster * ss, clustersNeeded: need, clusterCount: g.clusterCount, fatLength: g.fatLength, planRuns } };
      }
    }
  }
  throw new LayoutError('the content does not fit any FAT32 volume our writer can make', 'E_FS');
}

/** the sparse file systemd-repart formats for its first Minimize=guess pass (1 TiB). */
export const REPART_PROBE_BYTES = 2 ** 40;
/** allocation unit of the file system holding repart's $TMPDIR (ext4, xfs, btrfs, tmpfs: 4 KiB). */
const HOST_BLOCK = 4096;

export interface VfatRepartGuess {
  bytes: number;
  detail: { probeClusterBytes: number; mkfsBytes: number; directoryBytes: number; fileBytes: number; written: number };
}

/**
 * systemd-repart's own Minimize=guess for vfat (257 and 262 alike), computed instead of run:
 * repart formats a sparse 1 TiB file (`mkfs.vfat -F 32 -S <fs sector size>`), copies the tree in
 * with mcopy, counts the bytes written (SEEK_DATA/SEEK_HOLE) and takes 1.5 × that. On a 1 TiB
 * probe the FATs alone are large (16 MiB each with 4096-byte sectors: 256 KiB clusters; 128 MiB
 * each with 512-byte sectors), and every directory costs a whole probe cluster, so the guess is
 * far above what the content needs — but it is the size 262 puts in the table. What was written:
 *  - mkfs.fat: reserved sectors, both FATs and the root directory's first cluster, all of it;
 *  - mmd/mcopy: every directory cluster in full (mtools zeroes a new cluster), the root's beyond
 *    its first; each file's data, in host blocks (its clusters are contiguous, cluster-aligned).
 * The directory slots come from our writer's planner (names, long-name slots, the label).
 */
export function vfatRepartGuess(tree: SourceTree, opts: VfatModelOptions = {}): VfatRepartGuess {
  const ss = opts.sectorSize ?? 512;
  const label = opts.label === undefined ? '~~~~~~~~~~~' : mangleFatLabel(opts.label);
  const top = vfatPlanNodes(tree, !asCompat(opts.compat).mtoolsSkipsSymlinks);
  const probe = computeGeometry({ size: REPART_PROBE_BYTES, sectorSize: ss, fatBits: 32 });
  const cs = probe.sectorsPerCluster * ss;
  // Slots do not depend on the cluster size: plan on any volume that holds the content, with
  // clusters of at least 4 KiB (a long name never needs more slots than that).
  const spc = Math.max(1, 4096 / ss);
  let size = 64 * 1024 * 1024;
  let layout;
  for (;;) {
    try {
      layout = planLayout(mkfs({ size, sectorSize: ss, fatBits: 32, sectorsPerCluster: spc, volumeId: 0, label, labelTime: 0 }), top, { nameMode: opts.nameMode });
      break;
    } catch (e) {
      if (!(e instanceof LayoutError && e.code === 'E_FS_NO_SPACE') && !(e instanceof GeometryError)) throw e;
      const hint = e instanceof LayoutError && e.neededClusters ? e.neededClusters * spc * ss * 1.1 : 0;
      size = Math.max(size * 2, Math.ceil(hint));
      if (size > REPART_PROBE_BYTES) throw e;
    }
  }
  const slotsPerCluster = cs / 32;
  const directoryBytes = layout.dirSlots.reduce((sum, used, i) => sum + (Math.max(1, Math.ceil(used / slotsPerCluster)) - (i === 0 ? 1 : 0)) * cs, 0);
  let fileBytes = 0;
  for (const seg of layout.segments) if (seg.kind === 'file') fileBytes += Math.ceil(seg.size / HOST_BLOCK) * HOST_BLOCK;
  const mkfsBytes = (probe.dataStart + probe.sectorsPerCluster) * ss;
  const written = mkfsBytes + directoryBytes + fileBytes;
  return { bytes: written + Math.floor(written / 2), detail: { probeClusterBytes: cs, mkfsBytes, directoryBytes, fileBytes, written } };
}
