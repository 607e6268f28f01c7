/**
 * Builds the virtual source tree the way repart populates its offline temporary directory
 * (formatting.md §5.3–5.5, §6.1): CopyFiles= lines in order (merge into existing directories,
 * single files, per-line hard links by dev:ino), exclusions keyed by inode, then
 * MakeDirectories=, MakeSymlinks=, Subvolumes=. Sources are only lstat'ed, never read.
 */
import { readdirSync as readdir, readlinkSync as readlink } from 'node:fs';
import { hostLstat, hostStat, type HostStat } from '../io/host-stat.js';
import { posix } from 'node:path';
import { FsError, type ErrorWhere } from '../errors.js';
import { chaseInRoot, ChaseError, clampedComponents } from './chase.js';
import { newTree, type DirNode, type FileSource, type NodeMeta, type SourceTree, type Timespec, type TreeNode } from './model.js';
import { addArchive, type ArchiveSpec } from './tar.js';
import { treeRdev } from './devices.js';
import { inodeKey, sharesInode } from './identity.js';

export interface CopyFilesLine {
  source: string;
  target: string;
  where?: ErrorWhere;
}

export interface TreeSpec {
  copySource: string;
  copyFiles: CopyFilesLine[];
  excludeFiles: string[];
  excludeFilesTarget: string[];
  makeDirectories: string[];
  /** where each MakeDirectories= path was given, for messages */
  makeDirectoriesWhere?: Map<string, ErrorWhere>;
  makeSymlinks: { path: string; target: string; where?: ErrorWhere }[];
  subvolumes: { path: string; readOnly: boolean; nodatacow: boolean }[];
  defaultSubvolume?: string;
  sourceDateEpoch?: number;
  owner: { uid: number; gid: number };
  mapOwnersToRoot?: boolean;
  now: Timespec;
  excludeMountPointContents?: string[];
  /** CopyArchive= (src/tree/tar.ts): merged after the CopyFiles= lines, paths inside copySource */
  archives?: ArchiveSpec[];
  /** notices (missing sources, skipped lines); default: ignored. */
  log?: (message: string) => void;
  /**
   * Called before a directory source is scanned that is copied whole (nothing excluded below
   * it), with its host path: src/tree/xattrs.ts reads its attributes beside the scan.
   */
  onWholeDirectory?: (hostDir: string) => void;
  /** Every host path a scanned directory lists, once lstat'ed (src/tree/xattrs.ts reads those below a whole directory). */
  onListed?: (hostPath: string) => void;
}

export const ALWAYS_EXCLUDED = ['proc', 'sys', 'dev', 'tmp', 'run', 'var/tmp'];
export type Deny = 'inode' | 'contents';
/** an ExcludeFiles=/ExcludeFilesTarget= path; `contents`: only what is below it (trailing '/') */
interface Excluded {
  path: string;
  contents: boolean;
}
export interface Exclusions {
  /** ExcludeFiles= inodes, denied for every line */
  base: Map<string, Deny>;
  excl: Excluded[];
  exclT: Excluded[];
}
/** `p` is `dir` or below it */
export const within = (p: string, dir: string): boolean => dir === '/' || p === dir || p.startsWith(dir + '/');

// (dev, ino) without losing 64-bit precision (src/tree/identity.ts)
export const key = inodeKey;

/** Split an absolute path into components; '..' at the root stays there (as systemd's chase). */
export function components(path: string, what: string, where?: ErrorWhere): string[] {
  if (!path.startsWith('/')) throw new FsError('E_SOURCE', `${what} "${path}" is not absolute`, where);
  return clampedComponents(path);
}

/**
 * Names that are not UTF-8 cannot be copied: Node hands them over with U+FFFD in place of the
 * bad bytes (a path to nothing: the entry would vanish without a word), and the WebAssembly
 * tools take names as UTF-8 (emscripten). systemd-repart copies them; we refuse with the name
 * rather than make a different tree. A real U+FFFD (EF BF BD) is a valid name.
 */
function notUtf8(dir: string, where?: ErrorWhere): void {
  let raw: Buffer[];
  try {
    raw = readdir(dir, { encoding: 'buffer' });
  } catch {
    return; // gone since: the listing's own lstats say so
  }
  for (const b of raw) {
    if (Buffer.from(b.toString('utf8'), 'utf8').equals(b)) continue;
    const shown = [...b].map((c) => (c >= 0x20 && c < 0x7f && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`)).join('');
    throw new FsError('E_SOURCE', `${dir}/${shown}: the name is not valid UTF-8, which repart-ts cannot copy (rename it, or exclude the directory that holds it)`, where);
  }
}

/** lstat of a CopyFiles= source directory resolved a moment ago: gone now is an error. */
export function lstatLine(src: string, where?: ErrorWhere): HostStat {
  const st = hostLstat(src);
  if (!st) throw new FsError('E_SOURCE', `${src}: changed while it was scanned (ENOENT)`, where);
  return st;
}

/** `dir` + '/' + `name` for a normalised absolute `dir` and a plain entry name (no normalising pass). */
export const childPath = (dir: string, name: string): string => (dir === '/' ? '/' + name : dir + '/' + name);

export async function buildTree(spec: TreeSpec): Promise<SourceTree> {
  const b = new Builder(spec);
  b.run();
  return b.tree;
}

/**
 * What the object scan (Builder) and the packed one (src/tree/scanpack.ts) share: the copy
 * source, the stat cache, exclusions by inode, symlink chasing inside the copy source, and the
 * order of the work (run) with everything but the entries' storage. `N` is how a builder names
 * an entry (a TreeNode, a record number).
 */
export abstract class ScanBase<N> {
  protected readonly root: string;
  private readonly statCache = new Map<string, HostStat | null>();

  constructor(protected readonly spec: TreeSpec) {
    this.root = posix.resolve(spec.copySource || '/');
  }

  protected owner(uid: number, gid: number): { uid: number; gid: number } {
    return this.spec.mapOwnersToRoot ? { uid: 0, gid: 0 } : { uid, gid };
  }

  /** Resolve `path` inside the copy source, following symlinks with the copy source as root. */
  protected chase(path: string, where?: ErrorWhere): string {
    try {
      return chaseInRoot(this.root, path).hostPath;
    } catch (e) {
      if (e instanceof ChaseError) throw new FsError('E_SOURCE', e.message, where);
      throw e;
    }
  }

  protected statHost(p: string): HostStat | null {
    if (this.statCache.has(p)) return this.statCache.get(p)!;
    let st: HostStat | null = null;
    try {
      st = hostStat(p);
    } catch {
      st = null;
    }
    this.statCache.set(p, st);
    return st;
  }

  private addDeny(deny: Map<string, Deny>, hostPath: string, kind: Deny): void {
    const st = this.statHost(hostPath);
    if (st && !(deny.get(key(st)) === 'inode')) deny.set(key(st), kind);
  }

  protected get log(): (m: string) => void {
    return this.spec.log ?? (() => {});
  }

  /**
   * ExcludeFiles= inodes are the same for every line. The API VFS and temporary directories are
   * excluded below each directory line's source (see copyFilesLine), not at the copy source root:
   * systemd-repart 257 and 262 both copy a single file that lives under /tmp (measured).
   */
  protected exclusions(): Exclusions {
    const base = new Map<string, Deny>();
    const excl: Excluded[] = [];
    for (const e of this.spec.excludeFiles) {
      const contents = e.endsWith('/');
      const parts = components(e, 'ExcludeFiles= path');
      excl.push({ path: '/' + parts.join('/'), contents });
      this.addDeny(base, this.chase('/' + parts.join('/')), contents ? 'contents' : 'inode');
    }
    const exclT = this.spec.excludeFilesTarget.map((e) => ({ path: '/' + components(e, 'ExcludeFilesTarget= path').join('/'), contents: e.endsWith('/') }));
    return { base, excl, exclT };
  }

  /** What one line does not copy: ExcludeFiles=, ExcludeFilesTarget= below its target, API VFS, mount points. */
  protected denyForLine(ex: Exclusions, src: string, st: HostStat, tgtNorm: string): Map<string, Deny> {
    const deny = new Map(ex.base);
    for (const e of ex.exclT) {
      if (within(e.path, tgtNorm) && e.path !== tgtNorm) {
        const rel = posix.relative(tgtNorm, e.path);
        this.addDeny(deny, posix.join(src, rel), e.contents ? 'contents' : 'inode');
      }
    }
    if (st.isDirectory()) for (const p of ALWAYS_EXCLUDED) this.addDeny(deny, posix.join(src, p), 'contents');
    if (tgtNorm === '/' && this.spec.excludeMountPointContents) {
      for (const mp of this.spec.excludeMountPointContents) this.addDeny(deny, posix.join(src, mp), 'contents');
    }
    return deny;
  }

  protected ancestorDenied(src: string, deny: Map<string, Deny>): boolean {
    let p = src;
    for (;;) {
      const st = this.statHost(p);
      if (st && deny.has(key(st))) return true;
      if (p === this.root || p === '/') return false;
      const up = posix.dirname(p);
      if (!under(up, this.root)) return false;
      p = up;
    }
    function under(a: string, r: string): boolean {
      return r === '/' || a === r || a.startsWith(r + '/');
    }
  }

  /**
   * A source directory's entries in byte order, with their host paths and lstats (null: gone
   * since it was listed). Every entry is lstat'ed before any is copied (a directory's children,
   * then theirs).
   */
  protected listDir(path: string, where?: ErrorWhere): { names: string[]; paths: string[]; stats: (HostStat | null)[] } {
    let names: string[];
    try {
      names = readdir(path);
    } catch (e) {
      throw new FsError('E_SOURCE', `${path}: cannot read directory: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, where);
    }
    if (names.some((n) => n.includes('\uFFFD'))) notUtf8(path, where);
    names.sort();
    const paths: string[] = new Array(names.length);
    const stats: (HostStat | null)[] = new Array(names.length);
    const listed = this.spec.onListed;
    for (let k = 0; k < names.length; k++) {
      const p = (paths[k] = childPath(path, names[k]!));
      try {
        stats[k] = hostLstat(p) ?? null;
      } catch (e) {
        throw new FsError('E_SOURCE', `${p}: cannot stat: ${(e as NodeJS.ErrnoException).code}`, where);
      }
      if (stats[k] && listed) listed(p);
    }
    return { names, paths, stats };
  }

  /** the root directory */
  protected abstract readonly top: N;
  protected abstract childOf(dir: N, name: string): N | undefined;
  protected abstract isDir(n: N): boolean;
  /** A new directory in `parent` (0755, the repart user's, time now); `parent` is touched. */
  protected abstract newDir(parent: N, name: string): N;
  /** A new symlink in `parent` (0777, the repart user's, time now); `parent` is touched. */
  protected abstract newSymlink(parent: N, name: string, target: string): void;
  /** The root directory takes the metadata of the directory at `src` (owner not copied). */
  protected abstract setRootFrom(src: string, st: HostStat): void;
  protected abstract markSubvolume(dir: N, sv: { readOnly: boolean; nodatacow: boolean }, isDefault: boolean): void;
  /** CopyArchive= (src/tree/tar.ts), after the CopyFiles= lines */
  protected abstract addArchives(): void;

  /** Builds the tree in systemd-repart's order: CopyFiles= lines, archives, MakeDirectories=, MakeSymlinks=, Subvolumes=. */
  run(): void {
    const ex = this.exclusions();
    this.copyRootMeta();
    for (const line of this.spec.copyFiles) this.copyFilesLine(line, ex);
    this.addArchives();
    for (const d of this.spec.makeDirectories) {
      const where = this.spec.makeDirectoriesWhere?.get(d);
      this.mkdirP(components(d, 'MakeDirectories= path', where), where);
    }
    this.makeSymlinks();
    this.markSubvolumes();
  }

  /** Root directory metadata: the first '/' line whose source is a directory (owner not copied). */
  private copyRootMeta(): void {
    for (const line of this.spec.copyFiles) {
      if (components(line.target, 'target', line.where).length !== 0) continue;
      const src = this.chase(line.source, line.where);
      const st = this.statHost(src);
      if (st?.isDirectory()) {
        this.setRootFrom(src, st);
        break;
      }
    }
  }

  /** The entry at `parts`; undefined when a component is missing or not a directory. */
  protected lookupDir(parts: string[]): N | undefined {
    let n: N | undefined = this.top;
    for (const p of parts) {
      if (!this.isDir(n)) return undefined;
      n = this.childOf(n, p);
      if (n === undefined) return undefined;
    }
    return n;
  }

  /** mkdir_p_root_full: create missing components 0755, owned by the repart user, time = now. */
  protected mkdirP(parts: string[], where?: ErrorWhere): N {
    let dir = this.top;
    for (const p of parts) {
      const next = this.childOf(dir, p);
      if (next !== undefined) {
        if (!this.isDir(next)) throw new FsError('E_SOURCE', `/${parts.join('/')}: "${p}" exists and is not a directory`, where);
        dir = next;
        continue;
      }
      dir = this.newDir(dir, p);
    }
    return dir;
  }

  private makeSymlinks(): void {
    for (const l of this.spec.makeSymlinks) {
      const w = l.where;
      const pre = w?.key ? '' : 'MakeSymlinks=: '; // the location names the key when there is one
      const parts = components(l.path, 'MakeSymlinks= path', w);
      if (parts.length === 0) throw new FsError('E_SOURCE', `${pre}cannot replace the root directory`, w);
      const parent = this.lookupDir(parts.slice(0, -1));
      if (parent === undefined || !this.isDir(parent)) throw new FsError('E_SOURCE', `${pre}parent directory of ${l.path} does not exist`, w);
      const name = parts[parts.length - 1]!;
      if (this.childOf(parent, name) !== undefined) throw new FsError('E_SOURCE', `${pre}${l.path} already exists`, w);
      this.newSymlink(parent, name, l.target);
    }
  }

  private markSubvolumes(): void {
    const spec = this.spec;
    for (const sv of spec.subvolumes) {
      const n = this.lookupDir(components(sv.path, 'Subvolumes= path'));
      if (n !== undefined && this.isDir(n)) {
        const isDefault = spec.defaultSubvolume !== undefined && posix.normalize(spec.defaultSubvolume) === posix.normalize(sv.path);
        this.markSubvolume(n, sv, isDefault);
      }
    }
  }

  /** A CopyFiles= line's directory and single-file cases: the object and the packed builders differ only there. */
  protected abstract copyDirectoryLine(line: CopyFilesLine, src: string, deny: Map<string, Deny>, tgtParts: string[], tgtNorm: string): void;
  protected abstract copyFileLine(line: CopyFilesLine, src: string, st: HostStat, deny: Map<string, Deny>, tgtParts: string[], srcNorm: string, tgtNorm: string): void;

  /** One CopyFiles= line: a directory merged into (or created at) its target, or one file. */
  protected copyFilesLine(line: CopyFilesLine, ex: Exclusions): void {
    const l = this.lineStart(line, ex);
    if (!l) return;
    if (l.st.isDirectory()) this.copyDirectoryLine(line, l.src, l.deny, l.tgtParts, l.tgtNorm);
    else this.copyFileLine(line, l.src, l.st, l.deny, l.tgtParts, l.srcNorm, l.tgtNorm);
  }

  /**
   * The checks a CopyFiles= line starts with: null when it is skipped (excluded, or its source
   * does not exist), else its resolved source, its stat and what it does not copy.
   */
  protected lineStart(line: CopyFilesLine, ex: Exclusions): { srcParts: string[]; tgtParts: string[]; srcNorm: string; tgtNorm: string; src: string; st: HostStat; deny: Map<string, Deny> } | null {
    const log = this.log;
    const srcParts = components(line.source, 'CopyFiles= source', line.where);
    const tgtParts = components(line.target, 'CopyFiles= target', line.where);
    const srcNorm = '/' + srcParts.join('/');
    const tgtNorm = '/' + tgtParts.join('/');
    if (ex.excl.some((e) => within(srcNorm, e.path))) return log(`${srcNorm}: excluded by ExcludeFiles=, skipping CopyFiles= line`), null;
    if (ex.exclT.some((e) => within(tgtNorm, e.path))) return log(`${tgtNorm}: excluded by ExcludeFilesTarget=, skipping CopyFiles= line`), null;
    const src = this.chase(srcNorm, line.where);
    let st: HostStat;
    try {
      st = hostStat(src);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') return log(`${srcNorm}: CopyFiles= source does not exist, skipping`), null;
      throw new FsError('E_SOURCE', `${src}: cannot access CopyFiles= source: ${err.code ?? err.message}`, line.where);
    }
    const deny = this.denyForLine(ex, src, st, tgtNorm);
    if (!st.isDirectory() && !st.isFile()) throw new FsError('E_SOURCE', `${src}: CopyFiles= source is neither a regular file nor a directory`, line.where);
    return { srcParts, tgtParts, srcNorm, tgtNorm, src, st, deny };
  }
}

class Builder extends ScanBase<TreeNode> {
  readonly tree: SourceTree;
  private readonly scannedCtime: Timespec;
  private readonly devs = new Map<bigint, bigint>();

  constructor(spec: TreeSpec) {
    super(spec);
    this.scannedCtime = { ...spec.now };
    this.tree = newTree(this.meta(0o755, spec.owner, spec.now));
  }

  private meta(perm: number, o: { uid: number; gid: number }, t: Timespec, m: Timespec = t): NodeMeta {
    const { uid, gid } = this.owner(o.uid, o.gid);
    return { perm, uid, gid, atime: { ...t }, mtime: { ...m }, ctime: { ...this.spec.now } };
  }

  /**
   * A scanned entry's metadata. Every scanned ctime is "now", and atime is often mtime: those
   * share one Timespec object (tens of bytes a node, kept shared by structured cloning into the
   * workers). Nothing changes a Timespec in place but the SOURCE_DATE_EPOCH clamp, which gives
   * every sharer the same answer.
   */
  private metaFrom(st: HostStat, owner?: { uid: number; gid: number }): NodeMeta {
    const o = this.owner(owner?.uid ?? st.uid, owner?.gid ?? st.gid);
    // the stat's own objects: atime is its mtime object where they are equal (host-stat.ts)
    return { perm: st.mode & 0o7777, uid: o.uid, gid: o.gid, atime: st.atime, mtime: st.mtime, ctime: this.scannedCtime };
  }

  /** BigInt device numbers, one per device: a tree lives on a handful of devices. */
  private bigDev(dev: bigint): bigint {
    let d = this.devs.get(dev);
    if (d === undefined) this.devs.set(dev, (d = dev));
    return d;
  }

  private hostSource(path: string, st: HostStat): FileSource {
    return { kind: 'host', path, dev: this.bigDev(st.dev), ino: st.ino };
  }

  private ino(): number {
    return this.tree.nextIno++;
  }

  private touch(dir: DirNode): void {
    dir.meta.mtime = { ...this.spec.now };
    dir.meta.ctime = { ...this.spec.now };
  }

  protected get top(): TreeNode {
    return this.tree.root;
  }
  protected childOf(dir: TreeNode, name: string): TreeNode | undefined {
    return (dir as DirNode).entries.get(name);
  }
  protected isDir(n: TreeNode): boolean {
    return n.kind === 'dir';
  }
  protected newDir(parent: TreeNode, name: string): TreeNode {
    const d: DirNode = { kind: 'dir', ino: this.ino(), meta: this.meta(0o755, this.spec.owner, this.spec.now), entries: new Map() };
    (parent as DirNode).entries.set(name, d);
    this.touch(parent as DirNode);
    return d;
  }
  protected newSymlink(parent: TreeNode, name: string, target: string): void {
    (parent as DirNode).entries.set(name, { kind: 'symlink', ino: this.ino(), meta: this.meta(0o777, this.spec.owner, this.spec.now), target });
    this.touch(parent as DirNode);
  }
  protected setRootFrom(src: string, st: HostStat): void {
    this.tree.root.meta = this.metaFrom(st, this.spec.owner);
    this.tree.root.hostPath = src;
  }
  protected markSubvolume(dir: TreeNode, sv: { readOnly: boolean; nodatacow: boolean }, isDefault: boolean): void {
    (dir as DirNode).subvolume = { readOnly: sv.readOnly, nodatacow: sv.nodatacow, isDefault };
  }

  protected copyDirectoryLine(line: CopyFilesLine, src: string, deny: Map<string, Deny>, tgtParts: string[], tgtNorm: string): void {
    if (deny.size === 0) this.spec.onWholeDirectory?.(src);
    const existing = this.lookupDir(tgtParts);
    if (existing) {
      if (existing.kind !== 'dir') throw new FsError('E_SOURCE', `${tgtNorm}: CopyFiles= target exists and is not a directory`, line.where);
      const saved = { a: { ...existing.meta.atime }, m: { ...existing.meta.mtime } };
      this.copyChildren(src, existing, deny, new Map(), line.where);
      existing.meta.atime = saved.a;
      existing.meta.mtime = saved.m;
      return;
    }
    const parent = this.mkdirP(tgtParts.slice(0, -1), line.where) as DirNode;
    const name = tgtParts[tgtParts.length - 1]!;
    const node = this.copyEntry(src, lstatLine(src, line.where), deny, new Map(), line.where);
    if (node) {
      parent.entries.set(name, node);
      this.touch(parent);
    }
  }

  protected copyFileLine(line: CopyFilesLine, src: string, st: HostStat, deny: Map<string, Deny>, tgtParts: string[], srcNorm: string, tgtNorm: string): void {
    if (line.target.endsWith('/') || tgtParts.length === 0) {
      throw new FsError('E_SOURCE', `${line.target}: CopyFiles= target refers to a directory but source ${srcNorm} is a file`, line.where);
    }
    if (this.ancestorDenied(src, deny)) return this.log(`${srcNorm}: excluded, skipping`);
    const parent = this.mkdirP(tgtParts.slice(0, -1), line.where) as DirNode;
    const name = tgtParts[tgtParts.length - 1]!;
    if (parent.entries.has(name)) throw new FsError('E_SOURCE', `${tgtNorm}: CopyFiles= target already exists`, line.where);
    parent.entries.set(name, { kind: 'file', ino: this.ino(), meta: this.metaFrom(st, this.spec.owner), size: st.size, source: this.hostSource(src, st), allocated: st.blocks * 512 });
    this.touch(parent);
  }

  protected addArchives(): void {
    for (const a of this.spec.archives ?? []) addArchive({ ...a, source: this.chase(a.source, a.where) }, { tree: this.tree, mkdirP: (p) => this.mkdirP(p, a.where) as DirNode, now: this.spec.now });
  }

  /** copy_tree_at for one entry (metadata of directories applied after their children). */
  private copyEntry(path: string, st: HostStat, deny: Map<string, Deny>, links: Map<string, TreeNode>, where?: ErrorWhere): TreeNode | null {
    // the inode key is only needed to look up denials and hard links (a string per entry otherwise)
    const shared = sharesInode(st);
    const k = deny.size > 0 || shared ? key(st) : '';
    const d = deny.size > 0 ? deny.get(k) : undefined;
    if (d === 'inode') return null;
    if (st.isDirectory()) {
      const dir: DirNode = { kind: 'dir', ino: this.ino(), meta: this.metaFrom(st), entries: new Map(), hostPath: path };
      if (d !== 'contents') this.copyChildren(path, dir, deny, links, where);
      return dir;
    }
    if (shared) {
      const prev = links.get(k);
      if (prev) return prev;
    }
    let node: TreeNode;
    if (st.isFile()) node = { kind: 'file', ino: this.ino(), meta: this.metaFrom(st), size: st.size, source: this.hostSource(path, st), allocated: st.blocks * 512 };
    else if (st.isSymbolicLink()) {
      let target: string;
      try {
        target = readlink(path);
      } catch (e) {
        throw new FsError('E_SOURCE', `${path}: cannot read symlink: ${(e as NodeJS.ErrnoException).code}`, where);
      }
      node = { kind: 'symlink', ino: this.ino(), meta: this.metaFrom(st), target, hostPath: path };
    } else {
      const kind = st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : st.isCharacterDevice() ? 'char' : 'block';
      node = { kind, ino: this.ino(), meta: this.metaFrom(st), rdev: treeRdev(st.rdev), hostPath: path };
    }
    if (shared) links.set(k, node);
    return node;
  }

  private copyChildren(path: string, dir: DirNode, deny: Map<string, Deny>, links: Map<string, TreeNode>, where?: ErrorWhere): void {
    const { names, paths, stats } = this.listDir(path, where);
    for (let i = 0; i < names.length; i++) {
      const st = stats[i];
      if (!st) continue;
      const name = names[i]!;
      const childHost = paths[i]!;
      const existing = dir.entries.get(name);
      if (existing && existing.kind === 'dir' && st.isDirectory()) {
        const d = deny.get(key(st));
        if (d === 'inode') continue;
        const saved = { a: { ...existing.meta.atime }, m: { ...existing.meta.mtime } };
        if (d !== 'contents') this.copyChildren(childHost, existing, deny, links, where);
        existing.meta.atime = saved.a;
        existing.meta.mtime = saved.m;
        continue;
      }
      const node = this.copyEntry(childHost, st, deny, links, where);
      if (!node) continue;
      dir.entries.set(name, node);
    }
  }
}
