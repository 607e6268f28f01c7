/**
 * From a partition definition (and the run's context) to the TreeSpec the tree builder takes:
 * where sources are read, who owns what repart itself creates, what "now" is, and the root
 * partition's exclusion of other partitions' mount points (formatting.md §5.3.1 item 4).
 */
import { asCompat, type Compat } from '../compat.js';
import type { PartitionDefinition } from '../config/definition.js';
import { mountPointsOf, sameType, type PartitionType } from '../gpt/types.js';
import type { SourceTree, Timespec, TreeNode } from './model.js';
import { buildTree, type TreeSpec } from './build.js';
import { dedupeTree } from './dedupe.js';
import { validateFsXattrs, wantsValidateFs } from './validatefs.js';
import { needsPopulate } from '../config/load.js';
import { fmtBytes } from '../plan/allocate.js';
import { ownerPolicy } from './owners.js';
import { attachHostXattrs, attachHostXattrsWith, XattrPrefetch } from './xattrs.js';
import { scanPacked, type PackStore } from './scanpack.js';
import type { PackedTree } from './packed.js';

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
  /** the run's environment: fakeroot detection, REPART_TS_OWNERS (default: process.env) */
  env?: NodeJS.ProcessEnv;
  /** notices already given in this run (each is said once) */
  said?: Set<string>;
}

/** Log a notice once per run (a context is one run). */
function once(ctx: TreeContext, m: string): void {
  ctx.said ??= new Set();
  if (ctx.said.has(m)) return;
  ctx.said.add(m);
  ctx.log?.(m);
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
    makeDirectoriesWhere: d.makeDirectoriesWhere,
    makeSymlinks: d.makeSymlinks,
    subvolumes: d.subvolumes,
    defaultSubvolume: d.defaultSubvolume,
    sourceDateEpoch: ctx.sourceDateEpoch,
    owner: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 },
    mapOwnersToRoot: ownerPolicy(ctx.env ?? process.env, ctx.mapOwnersToRoot).policy === 'root',
    now: nowFor(ctx.sourceDateEpoch, ctx.now),
    excludeMountPointContents,
    archives: d.copyArchives,
    log: ctx.log,
  };
}

/** The source files' xattrs onto the tree (src/tree/xattrs.ts); what could not be read is said once. */
async function hostXattrs(tree: SourceTree | PackStore, ctx: TreeContext, prefetch: XattrPrefetch): Promise<void> {
  const env = ctx.env ?? process.env;
  const r = 'root' in tree
    ? await attachHostXattrs(tree, env, process.platform, prefetch)
    : await attachHostXattrsWith<number>((f, skip) => tree.eachHost(f, skip), (i, xs) => tree.setXattrs(i, [...xs, ...(tree.xattrs(i) ?? []).filter((o) => !xs.some((x) => x.name === o.name))]), env, process.platform, prefetch);
  if (r.unavailable) once(ctx, `Extended attributes of source files (file capabilities, SELinux labels, ACLs, user.*) are not copied: ${r.unavailable}.`);
  for (const p of r.problems.slice(0, 5)) once(ctx, `getfattr: ${p}`);
  if (r.problems.length > 5) once(ctx, `getfattr: ${r.problems.length - 5} more problems reading extended attributes`);
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
export async function partitionTree(d: PartitionDefinition, label: string, ctx: TreeContext,
  o: { compat: Compat | number; dedupe?: boolean; siblings?: { label: string; type: PartitionType }[]; packed?: boolean }): Promise<SourceTree | PackedTree | null> {
  const compat = asCompat(o.compat);
  const validate = wantsValidateFs(d, compat);
  if (!needsPopulate(d) && !validate) return null;
  const owners = ownerPolicy(ctx.env ?? process.env, ctx.mapOwnersToRoot);
  if (owners.reason) once(ctx, owners.reason);
  // vfat has no xattrs (mcopy ignores them too): nothing to read, nothing to warn about
  const xattrs = d.format !== 'vfat' ? new XattrPrefetch(ctx.env ?? process.env) : null;
  // packed straight from the scan (src/tree/scanpack.ts): no object per node; CopyArchive= and
  // --dedupe work on the objects
  const packed = o.packed === true && !o.dedupe && (d.copyArchives ?? []).length === 0;
  const spec: TreeSpec = { ...treeSpecFor(d, ctx), ...xattrs?.scanHooks() };
  let made: PackStore | SourceTree;
  try {
    made = packed ? scanPacked(spec) : await buildTree(spec);
  } catch (e) {
    xattrs?.abort();
    throw e;
  }
  if (xattrs) await hostXattrs(made, ctx, xattrs);
  // repart sets the validatefs xattrs on the copied root, after the source directory's own
  const v = validate ? validateFsXattrs(d, label, d.type, o.siblings) : [];
  const rootXattrs = <X extends { name: string }>(own: X[] | undefined) => [...(own ?? []).filter((x) => !v.some((y) => y.name === x.name)), ...v];
  // The 262 stack's mkfs tools all clamp times to SOURCE_DATE_EPOCH (btrfs-progs 7.x too; our
  // btrfs-progs 6.14 does not), so the tree is clamped once for every format.
  const epoch = compat.clampTimes ? ctx.sourceDateEpoch : undefined;
  if (packed) {
    const store = made as PackStore;
    if (validate) store.setXattrs(0, rootXattrs(store.xattrs(0)));
    if (epoch !== undefined) store.clamp(epoch);
    return store.finish();
  }
  const tree = made as SourceTree;
  if (validate) tree.root.meta.xattrs = rootXattrs(tree.root.meta.xattrs);
  if (epoch !== undefined) clampTimes(tree, epoch);
  if (o.dedupe) {
    const st = await dedupeTree(tree);
    if (st.merged) ctx.log?.(`${label}: de-duplicated ${st.merged} of ${st.files} files (${fmtBytes(BigInt(st.bytesSaved))} saved)`);
  }
  return tree;
}
