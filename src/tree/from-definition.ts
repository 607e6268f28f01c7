/**
 * From a partition definition (and the run's context) to the TreeSpec the tree builder takes:
 * where sources are read, who owns what repart itself creates, what "now" is, and the root
 * partition's exclusion of other partitions' mount points (formatting.md §5.3.1 item 4).
 */
import { asCompat, type Compat } from '../compat.js';
import type { PartitionDefinition } from '../config/definition.js';
import { mountPointsOf, sameType } from '../gpt/types.js';
import type { SourceTree, Timespec, TreeNode } from './model.js';
import { buildTree, type TreeSpec } from './build.js';
import { dedupeTree } from './dedupe.js';
import { validateFsXattrs, wantsValidateFs } from './validatefs.js';
import { needsPopulate } from '../config/load.js';
import { fmtBytes } from '../plan/allocate.js';

export interface TreeContext {
  /** --copy-source=, else --root=, else '/' */
  copySource: string;
  sourceDateEpoch?: number;
  /** the build's single "now" in milliseconds (default: the clock) */
  now?: number;
  /** every definition of the run (other partitions' mount points are excluded from a root '/') */
  all: PartitionDefinition[];
  mapOwnersToRoot?: boolean;
  log?: (m: string) => void;
}

export function nowFor(sourceDateEpoch: number | undefined, now?: number): Timespec {
  if (sourceDateEpoch !== undefined) return { sec: sourceDateEpoch, nsec: 0 };
  const ms = now ?? Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6 };
}

export function treeSpecFor(d: PartitionDefinition, ctx: TreeContext): TreeSpec {
  let excludeMountPointContents: string[] | undefined;
  if (d.type.role === 'root') {
    excludeMountPointContents = [];
    for (const other of ctx.all) {
      if (other === d || sameType(other.type, d.type)) continue;
      for (const mp of mountPointsOf(other.type)) if (!excludeMountPointContents.includes(mp)) excludeMountPointContents.push(mp);
    }
  }
  return {
    copySource: ctx.copySource,
    copyFiles: d.copyFiles.map((c) => ({ source: c.source, target: c.target, where: c.where })),
    excludeFiles: d.excludeFiles,
    excludeFilesTarget: d.excludeFilesTarget,
    makeDirectories: d.makeDirectories,
    makeSymlinks: d.makeSymlinks,
    subvolumes: d.subvolumes,
    defaultSubvolume: d.defaultSubvolume,
    sourceDateEpoch: ctx.sourceDateEpoch,
    owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
    mapOwnersToRoot: ctx.mapOwnersToRoot,
    now: nowFor(ctx.sourceDateEpoch, ctx.now),
    excludeMountPointContents,
    log: ctx.log,
  };
}

/** Every time in the tree becomes at most `epoch` (SOURCE_DATE_EPOCH clamping). */
export function clampTimes(tree: SourceTree, epoch: number): void {
  const seen = new Set<TreeNode>();
  const clamp = (t: Timespec) => { if (t.sec > epoch || (t.sec === epoch && t.nsec > 0)) { t.sec = epoch; t.nsec = 0; } };
  const visit = (n: TreeNode) => {
    if (seen.has(n)) return;
    seen.add(n);
    clamp(n.meta.atime); clamp(n.meta.mtime); clamp(n.meta.ctime);
    if (n.kind === 'dir') for (const c of n.entries.values()) visit(c);
  };
  visit(tree.root);
}

/**
 * The tree a partition's file system is made from, or null for an empty file system: the
 * populated content (CopyFiles=, MakeDirectories=, MakeSymlinks=), the validatefs xattrs on its
 * root (v258+, which makes every ext4/btrfs partition populated), times clamped for the 262
 * stack, and the opt-in de-duplication.
 */
export async function partitionTree(d: PartitionDefinition, label: string, ctx: TreeContext, o: { compat: Compat | number; dedupe?: boolean }): Promise<SourceTree | null> {
  const compat = asCompat(o.compat);
  const validate = wantsValidateFs(d, compat);
  if (!needsPopulate(d) && !validate) return null;
  const tree = await buildTree(treeSpecFor(d, ctx));
  if (validate) tree.root.meta.xattrs = validateFsXattrs(d, label, d.type);
  // The 262 stack's mkfs tools all clamp times to SOURCE_DATE_EPOCH (btrfs-progs 7.x too; our
  // btrfs-progs 6.14 does not), so the tree is clamped once for every format.
  if (compat.clampTimes && ctx.sourceDateEpoch !== undefined) clampTimes(tree, ctx.sourceDateEpoch);
  if (o.dedupe) {
    const st = await dedupeTree(tree);
    if (st.merged) ctx.log?.(`${label}: de-duplicated ${st.merged} of ${st.files} files (${fmtBytes(BigInt(st.bytesSaved))} saved)`);
  }
  return tree;
}
