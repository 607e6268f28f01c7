/**
 * Format=vfat in pure TypeScript: `mkfs.vfat -i <volid> -n <LABEL> -F 32 -S <ss>` followed by
 * `mcopy -s -p -Q -m <sorted top-level entries> ::` (formatting.md §3 vfat, §11.3, §11.4),
 * written straight into the partition window.
 */
import { realpathSync, statSync as stat } from 'node:fs';
import { posix } from 'node:path';
import { FsError, type ErrorWhere } from '../../errors.js';
import { jobCompat, jobNowSeconds, type FormatJob, type FormatOutcome, type FormatProgress, type FsDriver, type PartitionWindow } from '../driver.js';
import { lookup, type SourceTree, type TreeNode } from '../../tree/model.js';
import type { FatBits } from './fat-table.js';
import { computeGeometry, GeometryError } from './geometry.js';
import { LayoutError, planLayout, type PlanNode } from './layout.js';
import { mangleFatLabel, mkfs } from './mkfs.js';
import type { NameMode } from './names.js';
import { writeVolume, WriteError } from './writer.js';
import { objectTree } from '../../tree/packed.js';

export { mangleFatLabel } from './mkfs.js';
export type { NameMode } from './names.js';

export interface VfatOptions {
  window: PartitionWindow;
  /** file system label as mkfs.fat -n gets it; use mangleFatLabel() for a GPT label. */
  label: string;
  /** 32-bit volume ID (mkfs.fat -i). */
  volumeId: number;
  sectorSize?: number;
  /** FAT type; mkfs.fat's automatic choice when omitted (repart always passes 32). */
  fatBits?: FatBits;
  sectorsPerCluster?: number;
  tree?: SourceTree | null;
  /** "now" for the label entry (SOURCE_DATE_EPOCH); the clock when unset. */
  sourceDateEpoch?: number;
  /** the build's single "now" in milliseconds, for time stamps without SOURCE_DATE_EPOCH (default: the clock) */
  now?: number;
  /**
   * Clamp file and directory times to sourceDateEpoch, as the systemd 262 stack does (Debian
   * sid's mcopy 4.0.49 run by repart 262; measured). repart 257 with mtools 4.0.48 does not.
   */
  clampToEpoch?: boolean;
  /**
   * Copy what symlinks to files point to, as mcopy 4.0.48 under repart 257 does (default). The
   * 262 stack (sid: mcopy 4.0.49) skips symlinks below the top level instead (measured).
   */
  followSymlinks?: boolean;
  /** directories get "now" (SOURCE_DATE_EPOCH, else the build's now) instead of their own times (262: compat.vfatDirsMadeNow) */
  dirsMadeNow?: boolean;
  /** 'mcopy-c' (what repart produces, the default) or 'utf8'. See names.ts. */
  nameMode?: NameMode;
  /** for error messages. */
  where?: ErrorWhere;
  progress?: (p: FormatProgress) => void;
}

/** vfat volume ID from the fs UUID: its first four bytes, big-endian (formatting.md §2.2). */
export function volumeIdFromUuid(uuid: string): number {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new FsError('E_FS', `invalid file system UUID "${uuid}"`);
  return parseInt(hex.slice(0, 8), 16) >>> 0;
}

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** The tree as mcopy sees it: top level = regular files and directories only (repart filters
 * by d_type); below, symlinks to files are followed, everything else is skipped. */
export function toPlan(tree: SourceTree, warnings: string[] = [], clamp?: number, followSymlinks = true, dirTime?: number): PlanNode[] {
  const t = (sec: number) => (clamp !== undefined && sec > clamp ? clamp : sec);
  const conv = (node: TreeNode, name: string, path: string, top: boolean): PlanNode | null => {
    switch (node.kind) {
      case 'dir': {
        const children: PlanNode[] = [];
        for (const n of [...node.entries.keys()].sort(byteOrder)) {
          const c = conv(node.entries.get(n)!, n, path + '/' + n, false);
          if (c) children.push(c);
        }
        return { kind: 'dir', name, path, mtime: dirTime ?? t(node.meta.mtime.sec), children };
      }
      case 'file':
        return { kind: 'file', name, path, mtime: t(node.meta.mtime.sec), size: node.size, source: node.source };
      case 'symlink': {
        if (top) {
          warnings.push(`${path}: symlink at the top level skipped (repart only passes files and directories to mcopy)`);
          return null;
        }
        if (!followSymlinks) {
          warnings.push(`${path}: symlink skipped (FAT has no symlinks; the systemd 262 stack skips them)`);
          return null;
        }
        if (node.hostPath) {
          try {
            const st = stat(node.hostPath);
            if (st.isFile()) {
              // mcopy follows the link on the host (257 stack); read the file it leads to, as that
              // file, so that the reader's no-follow open and identity check hold
              const real = realpathSync(node.hostPath);
              const id = stat(real, { bigint: true });
              if (Number(id.ino) !== st.ino) throw new Error('changed');
              return { kind: 'file', name, path, mtime: t(Math.floor(st.mtimeMs / 1000)), size: st.size, source: { kind: 'host', path: real, dev: id.dev, ino: id.ino } };
            }
            warnings.push(`${path}: symlink to a ${st.isDirectory() ? 'directory' : 'special file'} skipped`);
          } catch {
            warnings.push(`${path}: dangling symlink skipped`);
          }
          return null;
        }
        let target: TreeNode | undefined = node;
        let at = path;
        for (let hops = 0; hops < 40 && target?.kind === 'symlink'; hops++) {
          at = posix.resolve(posix.dirname(at), target.target);
          target = lookup(tree, at);
        }
        if (target?.kind === 'file') return { kind: 'file', name, path, mtime: t(target.meta.mtime.sec), size: target.size, source: target.source };
        warnings.push(`${path}: symlink ${target ? 'to a non-file' : 'dangling'} skipped`);
        return null;
      }
      default:
        warnings.push(`${path}: ${node.kind} skipped (FAT cannot store special files)`);
        return null;
    }
  };
  const out: PlanNode[] = [];
  for (const n of [...tree.root.entries.keys()].sort(byteOrder)) {
    const c = conv(tree.root.entries.get(n)!, n, '/' + n, true);
    if (c) out.push(c);
  }
  return out;
}

/** Smallest window size (MiB steps) whose geometry has clusters for the content (an estimate:
 * every name counted with a long-name entry). */
function neededSize(top: PlanNode[], opts: VfatOptions): number | null {
  const clustersFor = (cs: number): number => {
    let n = 1;
    const dir = (children: PlanNode[], base: number): void => {
      let slots = base;
      for (const c of children) {
        slots += 1 + Math.ceil(c.name.length / 13);
        if (c.kind === 'file') n += Math.ceil(c.size / cs);
        else dir(c.children, 2);
      }
      n += Math.max(1, Math.ceil((slots * 32) / cs));
    };
    dir(top, 1);
    return n;
  };
  const fits = (size: number): boolean => {
    try {
      const g = computeGeometry({ size, sectorSize: opts.sectorSize, fatBits: opts.fatBits ?? 32, sectorsPerCluster: opts.sectorsPerCluster });
      return clustersFor(g.sectorsPerCluster * g.sectorSize) <= g.clusterCount;
    } catch {
      return false;
    }
  };
  const MiB = 1024 * 1024;
  let lo = Math.ceil(opts.window.size / MiB);
  let hi = lo * 2 + 64;
  while (!fits(hi * MiB)) {
    hi *= 2;
    if (hi > 2 ** 24) return null;
  }
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid * MiB)) hi = mid;
    else lo = mid + 1;
  }
  return hi * MiB;
}

export async function formatVfat(opts: VfatOptions): Promise<FormatOutcome> {
  const where = opts.where ?? {};
  const warnings: string[] = [];
  const now = jobNowSeconds(opts);
  let img;
  try {
    img = mkfs({
      size: opts.window.size,
      sectorSize: opts.sectorSize,
      fatBits: opts.fatBits,
      sectorsPerCluster: opts.sectorsPerCluster,
      volumeId: opts.volumeId,
      label: opts.label,
      labelTime: now,
    });
  } catch (e) {
    if (e instanceof GeometryError) throw new FsError(opts.window.size < 1024 * 1024 ? 'E_FS_NO_SPACE' : 'E_FS', `vfat: ${e.message} (partition of ${opts.window.size} bytes)`, where);
    throw e;
  }
  for (const w of img.geometry.warnings) warnings.push(`mkfs.fat: ${w}`);
  const top = opts.tree ? toPlan(opts.tree, warnings, opts.clampToEpoch ? opts.sourceDateEpoch : undefined, opts.followSymlinks ?? true, opts.dirsMadeNow ? now : undefined) : [];
  let layout = null;
  if (opts.tree) {
    try {
      layout = planLayout(img, top, { nameMode: opts.nameMode });
    } catch (e) {
      if (e instanceof LayoutError) {
        let msg = `vfat: ${e.message}`;
        if (e.code === 'E_FS_NO_SPACE') {
          const need = neededSize(top, opts);
          msg += `; partition is ${opts.window.size} bytes` + (need ? `, about ${need} bytes (${Math.ceil(need / 1048576)} MiB) are needed` : '');
        }
        throw new FsError(e.code, msg, where);
      }
      throw e;
    }
  }
  try {
    await writeVolume(opts.window, img, layout, opts.progress);
  } catch (e) {
    if (e instanceof WriteError) throw new FsError('E_SOURCE', `vfat: ${e.message}`, where);
    const err = e as NodeJS.ErrnoException;
    if (err?.code) throw new FsError('E_FS', `vfat: writing ${opts.window.path}: ${err.message}`, where);
    throw e;
  }
  return { warnings, passes: 1 };
}

export const vfatDriver: FsDriver = {
  formats: ['vfat'],
  async format(job: FormatJob, progress?: (p: FormatProgress) => void): Promise<FormatOutcome> {
    const where: ErrorWhere = { file: job.definitionFile };
    if (job.extraOptions.length) throw new FsError('E_FS', `vfat: SYSTEMD_REPART_MKFS_OPTIONS_VFAT is not supported (${job.extraOptions.join(' ')})`, where);
    return formatVfat({
      window: job.window,
      label: mangleFatLabel(job.label),
      volumeId: volumeIdFromUuid(job.fsUuid),
      sectorSize: job.sectorSize,
      fatBits: 32,
      tree: job.tree && objectTree(job.tree),
      sourceDateEpoch: job.sourceDateEpoch,
      now: job.now,
      clampToEpoch: jobCompat(job).clampTimes,
      followSymlinks: !jobCompat(job).mtoolsSkipsSymlinks,
      dirsMadeNow: jobCompat(job).vfatDirsMadeNow,
      where,
      progress,
    });
  },
};
