/**
 * Runs one of the committed WebAssembly tools (wasm/*.cjs + .wasm) in the current thread, with
 * a virtual source tree mounted at a path and the partition window as the device. Each run is
 * a fresh module instance (fresh C globals) from a WebAssembly.Module compiled once per thread.
 *
 * What the host changes on the instance's FS (NODERAWFS, i.e. node:fs underneath):
 * - paths: resolved against a per-run virtual cwd (process.chdir is not allowed in workers,
 *   and mke2fs -d walks the tree with chdir + relative names);
 * - the mount point: answered from the SourceTree (vtree.ts), read-only;
 * - the device path: the partition window (device.ts);
 * - stdio: stdout/stderr captured (never the process's fds: closing them at exit would kill
 *   the host's output), stdin is empty.
 */
import { asCompat, type Compat } from '../../compat.js';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PartitionWindow } from '../driver.js';
import type { AnyTree } from '../../tree/packed.js';
import { WindowDevice, type DeviceStats } from './device.js';
import { addPhase, now } from './phases.js';
import {
  O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL, O_TRUNC, S_IFDIR,
  type EmFactory, type EmFS, type EmModule, type EmNode, type EmStat, type EmStream, type StreamHandler,
} from './emscripten.js';
import type { SourceFailure } from './source-file.js';
import type { HandoffTable } from './fd-handoff.js';
import { normalizeAbs, VirtualTree, VTREE_DEV, type TreeProgress, type TreeReadStats, type VNode } from './vtree.js';

export type ToolName = 'mke2fs' | 'mkfs.btrfs' | 'mkfs.erofs' | 'mksquashfs' | 'mkfs.xfs';

/** Where the committed artifacts live: <package>/wasm (this file is dist/src/fs/wasm/host.js). */
export const WASM_DIR = fileURLToPath(new URL('../../../../wasm/', import.meta.url));

/**
 * Which build of the tools a run uses: the one of the Debian release whose systemd-repart is
 * reproduced, so the same arguments give the same bytes as that release's native mkfs.
 * trixie (systemd 257): wasm/; sid (systemd 262): wasm/sid/.
 */
export type ToolSet = 'trixie' | 'sid';

/** systemd ≥ 258 is only in sid (262); 257 is trixie's. */
export function toolSetFor(compat: Compat | number): ToolSet {
  return asCompat(compat).toolsSuite;
}

/** artifact path under wasm/, without .cjs/.wasm */
const ARTIFACT: Record<ToolSet, Record<ToolName, string>> = {
  trixie: {
    mke2fs: 'mke2fs', 'mkfs.btrfs': 'mkfs.btrfs', 'mkfs.erofs': 'erofs/mkfs.erofs', mksquashfs: 'squashfs/mksquashfs',
    'mkfs.xfs': 'xfs/trixie/mkfs.xfs',
  },
  sid: {
    mke2fs: 'sid/mke2fs',
    // sid's btrfs-progs 7.3 sources are not on the mirror the build uses (wasm/sid/README.md):
    // until they are, trixie's 6.14 serves every mode.
    'mkfs.btrfs': 'mkfs.btrfs',
    // erofs-utils 1.9.4 and squashfs-tools 4.7.5, as sid's systemd-repart 262 runs them
    // (wasm/rofs/README.md): 1.8.6's erofs bytes, and so verity root hashes, differ.
    'mkfs.erofs': 'sid/erofs/mkfs.erofs',
    mksquashfs: 'sid/squashfs/mksquashfs',
    // sid's xfsprogs 7.2.0 sources answer 404 on the mirror (wasm/xfs/README.md): trixie's 6.13.0
    // serves 262 too, with 7.2.0's new defaults given as options (src/fs/xfs/index.ts).
    'mkfs.xfs': 'xfs/trixie/mkfs.xfs',
  },
};

/** The artifact (under wasm/, without extension) a tool of a set runs from. */
export function toolArtifact(tool: ToolName, set: ToolSet): string {
  return ARTIFACT[set][tool];
}

/** The default set: the one of DEFAULT_SYSTEMD_VERSION (262, sid). */
export const DEFAULT_TOOL_SET: ToolSet = 'sid';

// Keyed by artifact, not by tool: one compiled module per file per thread, however many sets
// share it.
const compiled = new Map<string, Promise<WebAssembly.Module>>();
const factories = new Map<string, EmFactory>();

/** Compile a tool's .wasm once per thread; every run instantiates from the same module. */
export function compileTool(tool: ToolName, set: ToolSet = DEFAULT_TOOL_SET): Promise<WebAssembly.Module> {
  const artifact = toolArtifact(tool, set);
  let p = compiled.get(artifact);
  if (!p) {
    p = fs.promises.readFile(WASM_DIR + artifact + '.wasm').then((bytes) => WebAssembly.compile(bytes));
    compiled.set(artifact, p);
  }
  return p;
}

/** Compile a tool and load its glue ahead of its first run (a pre-warmed worker). */
export async function warmTool(tool: ToolName, set: ToolSet): Promise<void> {
  factory(tool, set);
  await compileTool(tool, set);
}

function factory(tool: ToolName, set: ToolSet): EmFactory {
  const artifact = toolArtifact(tool, set);
  let f = factories.get(artifact);
  if (!f) {
    const req = createRequire(import.meta.url);
    f = req(WASM_DIR + artifact + '.cjs') as EmFactory;
    factories.set(artifact, f);
  }
  return f;
}

export interface ToolRun {
  tool: ToolName;
  /** which build (default: DEFAULT_TOOL_SET). */
  toolSet?: ToolSet;
  /** argv[0]: mke2fs picks ext2/3/4 from it (mkfs.ext4 ...). */
  argv0: string;
  args: string[];
  env: Record<string, string>;
  /** checkEmptyAside: the tool opens every regular file (mke2fs -d), so its empty host files
   * may be checked on another thread while it runs (empty-check.ts). */
  tree?: { mountPoint: string; tree: AnyTree; progress?: TreeProgress; checkEmptyAside?: boolean; handoff?: HandoffTable };
  /** asEmptyFile: the window stands for an empty file the tool sizes itself (device.ts). */
  device?: { path: string; window: PartitionWindow; zeroed: boolean; asEmptyFile?: boolean; trackAllocation?: boolean; tailRoom?: number };
  /** small read-only files the tool reads by absolute path (mkfs.xfs' protofile), from memory. */
  files?: Record<string, Uint8Array>;
  /** source files with holes show them to SEEK_DATA/SEEK_HOLE (else: data everywhere). */
  seekHoles?: boolean;
  /** source files' st_blocks is their host allocation (else: their size), for tools that ask
   * SEEK_DATA only of files whose blocks fall short of their size (mksquashfs). */
  allocatedBlocks?: boolean;
  /** absolute path → the path it stands for (mkfs.xfs protofile names for sources with spaces). */
  aliases?: Record<string, string>;
}

export interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
  /** set when the tool did not exit but crashed (wasm trap, abort()). */
  crash?: string;
  tree?: TreeReadStats;
  device?: DeviceStats;
  /** a source file that could not be read as planned (the run must fail with it) */
  sourceFailure?: SourceFailure;
}

class HostError extends Error {
  constructor(readonly hostErrno: string) {
    super(hostErrno);
  }
}

export async function runTool(run: ToolRun): Promise<ToolResult> {
  const set = run.toolSet ?? DEFAULT_TOOL_SET;
  let t0 = now();
  const wasmModule = await compileTool(run.tool, set);
  addPhase('compile', t0);
  t0 = now();
  const out: string[] = [];
  const err: string[] = [];
  const nsec = new StatNsec();
  const mod: EmModule = await factory(run.tool, set)({
    thisProgram: run.argv0,
    env: run.env,
    noInitialRun: true,
    print: (s) => out.push(s + '\n'),
    printErr: (s) => err.push(s + '\n'),
    // exit() must not end the thread: throw the ExitStatus up to callMain, which returns it.
    quit: (_status, toThrow) => {
      throw toThrow;
    },
    instantiateWasm: (imports, done) => {
      nsec.wrap(imports.env as Record<string, unknown>);
      // fd_* come from wasi_snapshot_preview1 (one object with env in emscripten 3.1.6's imports)
      for (const ns of new Set([imports.env, imports.wasi_snapshot_preview1])) if (ns) wrapPositionedIo(ns as Record<string, unknown>, () => nsec.memory);
      WebAssembly.instantiate(wasmModule, imports).then(
        (instance) => {
          nsec.memory = instance.exports.memory as WebAssembly.Memory;
          done(instance, wasmModule);
        },
        (e) => err.push(String(e)),
      );
      return {};
    },
  });
  addPhase('instantiate', t0);
  const ctx = install(mod, run, out, err, nsec);
  const emptyChecks = run.tree?.checkEmptyAside ? ctx.vtree!.startEmptyChecks() : null;
  let status: number;
  t0 = now();
  let crash: string | undefined;
  let closing: unknown = null;
  try {
    status = mod.callMain(run.args);
  } catch (e) {
    if (e instanceof mod.ExitStatus) status = (e as { status: number }).status;
    else {
      status = -1;
      crash = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
  } finally {
    closing = ctx.closeAll();
    // the source files it read through descriptors the read-ahead opened: checked there
    ctx.vtree?.finishHandoff();
    addPhase('run', t0);
  }
  // what the tool left open is closed here: the device may still hold writes (write-back.ts),
  // and a tool that exited 0 has not made its file system if they cannot be written
  if (closing && status === 0) {
    status = -1;
    crash = `writing what it left open: ${closing instanceof Error ? closing.message : String(closing)}`;
  }
  if (emptyChecks) {
    // normally done long before the tool: the wait is what is left of the lstats
    t0 = now();
    ctx.vtree!.finishEmptyChecks(await emptyChecks);
    addPhase('emptyWait', t0);
  }
  return { status, stdout: out.join(''), stderr: err.join(''), crash, tree: ctx.vtree?.stats, device: ctx.device?.stats, sourceFailure: ctx.vtree?.sourceFailure ?? undefined };
}

/** What the FS overrides share: the module's FS, the run, and the host objects standing in for paths. */
interface HostFs {
  FS: EmFS;
  run: ToolRun;
  /** an errno by name as the module's FS.ErrnoError */
  fail: (name: string) => Error;
  /** a Node error as the module's FS.ErrnoError when its code is one the module knows */
  nodeErr: (e: unknown) => Error;
  vtree: VirtualTree | null;
  device: WindowDevice | null;
  devicePath: string | null;
  memFiles: Map<string, Uint8Array>;
  /** streams answered by a StreamHandler, closed at the end of the run if the tool did not */
  hostStreams: Set<EmStream>;
  /** the module's own FS functions, before any override */
  orig: ReturnType<typeof originalsOf>;
  /** the tool's working directory: virtual (process.chdir is not allowed in workers) */
  cwd: string;
  /** absolute path against the virtual cwd, with the run's aliases applied */
  abs(p: string): string;
  isVirtual(a: string): boolean;
  vnode(path: string, st: Pick<EmStat, 'ino' | 'mode'>, rec?: number): EmNode;
  /** the working directory's record when it is a directory of the tree (else -1) */
  cwdDir: number;
  /**
   * A plain name (no "/", not "." or "..") in a working directory of the tree: its entry, found
   * in that directory's record without building the absolute path (what resolve() of that path
   * finds); null when the name is not plain, the working directory is not in the tree, or the
   * entry is a symlink to follow (left to resolve()).
   */
  entry(p: string, follow: boolean): VNode | null;
  /** where FS.stat/FS.lstat leave a tree entry's answer for its nanoseconds */
  nsec: StatNsec;
}

function originalsOf(FS: EmFS) {
  return {
    lookupPath: FS.lookupPath, stat: FS.stat, lstat: FS.lstat, readdir: FS.readdir, readlink: FS.readlink,
    open: FS.open, close: FS.close, read: FS.read, write: FS.write, llseek: FS.llseek,
    ftruncate: FS.ftruncate, truncate: FS.truncate, allocate: FS.allocate,
  };
}

/**
 * tv_nsec in the stat family's answers. emscripten 3.1.6's doStat writes st_atim, st_mtim and
 * st_ctim as the Dates' seconds and 0 nanoseconds, while mkfs.erofs stores each inode's mtime
 * to the nanosecond (and systemd-repart's copies keep it). FS.stat/FS.lstat of a tree entry
 * leave its answer here; the wrapped syscall writes the nanoseconds after doStat, into wasm32's
 * struct stat ({i32 sec, i32 nsec} at 56, 64, 72), and only over the seconds doStat just wrote
 * for that answer.
 */
class StatNsec {
  /** the stat answer of the call in progress, when it came from the tree */
  last: EmStat | null = null;
  memory: WebAssembly.Memory | null = null;
  private view: Int32Array | null = null;

  /** Wrap the stat syscalls among the module's imports (the argument that is the struct's address). */
  wrap(env: Record<string, unknown>): void {
    for (const [name, bufArg] of [['__syscall_stat64', 1], ['__syscall_lstat64', 1], ['__syscall_fstat64', 1], ['__syscall_fstatat64', 2]] as const) {
      const orig = env[name];
      if (typeof orig !== 'function') continue;
      env[name] = (...a: number[]): number => {
        this.last = null;
        const r = (orig as (...a: number[]) => number)(...a);
        const st = this.last as EmStat | null;
        this.last = null;
        if (r === 0 && st?.nsec) this.put(a[bufArg]!, st, st.nsec);
        return r;
      };
    }
  }

  private put(buf: number, st: EmStat, ns: readonly [number, number, number]): void {
    if (!this.memory) return;
    if (this.view?.buffer !== this.memory.buffer) this.view = new Int32Array(this.memory.buffer);
    const h = this.view;
    const at = buf >> 2;
    if (h[at + 16] !== ((st.mtime.getTime() / 1e3) | 0) || h[at + 18] !== ((st.ctime.getTime() / 1e3) | 0)) return;
    h[at + 15] = ns[0];
    h[at + 17] = ns[1];
    h[at + 19] = ns[2];
  }
}

/**
 * Positioned I/O with several buffers (preadv, pwritev). emscripten 3.1.6's fd_pread and
 * fd_pwrite (wasm/glue/lib64.js) hand every buffer the same offset (doReadv/doWritev advance
 * only a stream's own position), so a tool's pwritev of an inode and its xattrs wrote both at
 * the inode's place (mkfs.erofs 1.9.4: configured without pwritev since, wasm/rofs/README.md).
 * Wrapped here, for every tool and without relinking them: a call with more than one buffer
 * becomes one call per buffer at its own offset; like the kernel's, it ends at the first short
 * transfer, and an error after some bytes moved reports those bytes.
 */
export function wrapPositionedIo(env: Record<string, unknown>, memory: () => WebAssembly.Memory | null): void {
  for (const name of ['fd_pread', 'fd_pwrite'] as const) {
    const orig = env[name];
    if (typeof orig !== 'function') continue;
    const one = orig as (fd: number, iov: number, iovcnt: number, lo: number, hi: number, pnum: number) => number;
    env[name] = (fd: number, iov: number, iovcnt: number, lo: number, hi: number, pnum: number): number => {
      const mem = memory();
      if (iovcnt <= 1 || !mem) return one(fd, iov, iovcnt, lo, hi, pnum);
      let pos = hi * 4294967296 + (lo >>> 0);
      let total = 0;
      for (let i = 0; i < iovcnt; i++) {
        const len = new Uint32Array(mem.buffer)[(iov + i * 8 + 4) >> 2]!;
        const r = one(fd, iov + i * 8, 1, pos % 4294967296, Math.floor(pos / 4294967296), pnum);
        if (r !== 0) {
          if (total === 0) return r;
          break;
        }
        const n = new Int32Array(mem.buffer)[pnum >> 2]!;
        total += n;
        pos += n;
        if (n < len) break;
      }
      new Int32Array(mem.buffer)[pnum >> 2] = total;
      return 0;
    };
  }
}

/** Fill in the module's FS overrides; returns what the run needs afterwards. */
function install(mod: EmModule, run: ToolRun, out: string[], err: string[], nsec: StatNsec) {
  const h = hostFs(mod, run, nsec);
  // The tools run as systemd-repart runs them, as root: a source directory or file without
  // read or search bits (mode 000, 0600 on a directory) is copied all the same. emscripten
  // checks its nodes' mode bits as if for an unprivileged user (initRuntime turns the checks
  // on), so mke2fs stopped at such a directory without a message, mkfs.erofs with EACCES. What
  // this process may actually read was decided by the scan and is decided again by the host
  // reads (real permissions); the host's own paths (device, config) go to the kernel anyway.
  h.FS.ignorePermissions = true;
  installPaths(h);
  installMutations(h);
  installXattrs(h, mod);
  installTimes(h, mod);
  installOpen(h);
  installStreams(h, out, err);
  return {
    vtree: h.vtree,
    device: h.device,
    /** Closes what the tool left open; the first failure, if any (every stream is closed regardless). */
    closeAll(): unknown {
      let first: unknown = null;
      for (const s of h.hostStreams) {
        try {
          s.host!.close(s);
        } catch (e) {
          first ??= e;
        }
      }
      h.hostStreams.clear();
      return first;
    },
  };
}

/** The run's source tree, device window and in-memory files, over the module's FS. */
function hostFs(mod: EmModule, run: ToolRun, nsec: StatNsec): HostFs {
  const FS: EmFS = mod.FS;
  const codes = mod.ERRNO_CODES;
  const fail = (name: string): Error => {
    const n = codes[name];
    if (n === undefined) return new HostError(name);
    return new FS.ErrnoError(n);
  };
  const nodeErr = (e: unknown): Error => {
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code && codes[code] !== undefined) return new FS.ErrnoError(codes[code]!);
    return e as Error;
  };
  const vtree = run.tree ? new VirtualTree(run.tree.tree, normalizeAbs(run.tree.mountPoint), fail, run.tree.progress, run.allocatedBlocks === true, run.tree.handoff) : null;
  const device = run.device ? new WindowDevice(run.device.window, fail, run.device.zeroed, run.device.asEmptyFile, run.device.trackAllocation, run.device.tailRoom) : null;
  // most runs have none: no dictionary lookup of every path then
  const aliases = run.aliases && Object.keys(run.aliases).length > 0 ? new Map(Object.entries(run.aliases)) : null;
  // one for every node: getdents makes a node per entry
  const nodeOps = { lookup: (parent: EmNode, name: string) => FS.lookupPath(parent.path + '/' + name).node };
  const h: HostFs = {
    FS,
    run,
    fail,
    nodeErr,
    vtree,
    device,
    devicePath: run.device ? normalizeAbs(run.device.path) : null,
    memFiles: new Map(Object.entries(run.files ?? {}).map(([k, v]) => [normalizeAbs(k), v])),
    hostStreams: new Set<EmStream>(),
    orig: originalsOf(FS),
    cwd: '/',
    abs: (p: string): string => {
      // the tools mostly pass clean absolute paths, or plain names in the working directory
      // (mke2fs -d chdirs into each source directory): those skip the normalising pass
      let a: string;
      if (p.startsWith('/')) a = isCleanAbs(p) ? p : normalizeAbs(p);
      else if (p !== '' && p !== '.' && p !== '..' && !p.includes('/')) a = h.cwd === '/' ? '/' + p : h.cwd + '/' + p;
      else a = normalizeAbs(posix.join(h.cwd, p));
      return aliases === null ? a : (aliases.get(a) ?? a);
    },
    isVirtual: (a: string): boolean => vtree !== null && vtree.contains(a),
    vnode: (path: string, st: Pick<EmStat, 'ino' | 'mode'>, rec?: number): EmNode => ({ id: st.ino, mode: st.mode, path, node_ops: nodeOps, rec }),
    cwdDir: -1,
    // mke2fs -d chdirs into each source directory and names its entries plainly, four to five
    // calls each: an absolute path built per call (a V8 cons string) was flattened and hashed
    // by every comparison or lookup of it, ~0.3 s of a 200,000-file job (bench/results/issue-18.md)
    entry: (p: string, follow: boolean): VNode | null => {
      if (h.cwdDir < 0 || aliases !== null || p === '' || p === '.' || p === '..' || p.includes('/')) return null;
      return vtree!.resolveIn(h.cwdDir, p, follow);
    },
    nsec,
  };
  return h;
}

/** Absolute and already normal: no "//", no "." or ".." component (nor a dot file: checked the slow way), no trailing "/". */
function isCleanAbs(p: string): boolean {
  return !p.includes('//') && !p.includes('/.') && (p.length === 1 || !p.endsWith('/'));
}

function memStat(data: Uint8Array): EmStat {
  const t = new Date(0);
  return { dev: VTREE_DEV, ino: 1, mode: 0o100444, nlink: 1, uid: 0, gid: 0, rdev: 0, size: data.length, blocks: Math.ceil(data.length / 512), atime: t, mtime: t, ctime: t };
}

/** Lookups: the mount point from the tree, the device path from the window, in-memory files, else the host. */
function installPaths(h: HostFs): void {
  const { FS, vtree, device, devicePath, memFiles, orig, abs, isVirtual, vnode, entry, fail, nodeErr } = h;
  FS.cwd = () => h.cwd;
  FS.chdir = (p: string) => {
    const a = abs(p);
    let st: EmStat;
    let dir = -1;
    if (isVirtual(a)) {
      const n = vtree!.resolve(a, true);
      st = vtree!.stat(n);
      dir = n.i;
    } else {
      try {
        st = fs.statSync(a) as unknown as EmStat;
      } catch (e) {
        throw nodeErr(e);
      }
    }
    if ((st.mode & 0o170000) !== S_IFDIR) throw fail('ENOTDIR');
    h.cwd = a;
    h.cwdDir = dir;
  };
  FS.lookupPath = (p: string, opts?: { parent?: boolean; follow?: boolean }) => {
    let a = abs(p);
    if (opts?.parent) a = posix.dirname(a);
    if (isVirtual(a)) return { path: a, node: vnode(a, vtree!.stat(vtree!.resolve(a, !!opts?.follow))) };
    if (a === devicePath) return { path: a, node: vnode(a, device!.stat()) };
    if (memFiles.has(a)) return { path: a, node: vnode(a, memStat(memFiles.get(a)!)) };
    return orig.lookupPath(a, opts?.parent ? { ...opts, parent: false } : opts);
  };
  // getdents asks for each entry's node (d_ino, d_type): for a directory of the tree, straight
  // from it, without the name hash, node_ops and path round trip of the stock lookup (the same
  // answer: lookupPath of the entry, not following a last symlink, after the same permission
  // check on the directory)
  const lookupNode = FS.lookupNode as (parent: EmNode, name: string) => EmNode;
  const mayLookup = FS.mayLookup as (dir: EmNode) => number;
  FS.lookupNode = (parent: EmNode, name: string): EmNode => {
    if (typeof parent.path !== 'string' || !isVirtual(parent.path)) return lookupNode(parent, name);
    const e = mayLookup(parent);
    if (e) throw new FS.ErrnoError(e);
    const a = parent.path + '/' + name;
    // d_ino and d_type are all it reads: no full stat (the tool's lstat of the entry follows);
    // a directory opened from the tree knows its record: no path to resolve either
    return vnode(a, vtree!.inoMode(parent.rec !== undefined ? vtree!.resolveIn(parent.rec, name, false)! : vtree!.resolve(a, false)));
  };
  FS.stat = (p: string) => {
    const e = entry(p, true);
    if (e) return (h.nsec.last = vtree!.stat(e));
    const a = abs(p);
    if (isVirtual(a)) return (h.nsec.last = vtree!.stat(vtree!.resolve(a, true)));
    if (a === devicePath) return device!.stat();
    if (memFiles.has(a)) return memStat(memFiles.get(a)!);
    return fixTimes(orig.stat(a));
  };
  FS.lstat = (p: string) => {
    const e = entry(p, false);
    if (e) return (h.nsec.last = vtree!.stat(e));
    const a = abs(p);
    if (isVirtual(a)) return (h.nsec.last = vtree!.stat(vtree!.resolve(a, false)));
    if (a === devicePath) return device!.stat();
    if (memFiles.has(a)) return memStat(memFiles.get(a)!);
    return fixTimes(orig.lstat(a));
  };
  FS.readdir = (p: string) => {
    const a = abs(p);
    if (isVirtual(a)) return vtree!.readdir(vtree!.resolve(a, true));
    return orig.readdir(a);
  };
  FS.readlink = (p: string) => {
    const a = abs(p);
    if (isVirtual(a)) return vtree!.readlink(vtree!.resolve(a, false));
    if (a === devicePath) throw fail('EINVAL');
    return orig.readlink(a);
  };
}

/** Changes by path: refused in the tree (read-only) and on the device path, else on the host. */
function installMutations(h: HostFs): void {
  const { FS, device, devicePath, orig, abs, isVirtual, fail } = h;
  for (const k of ['mknod', 'mkdir', 'rmdir', 'unlink', 'chmod', 'chown', 'lchown', 'utime', 'symlink', 'rename'] as const) {
    const o = FS[k] as (...a: unknown[]) => unknown;
    // symlink(target, path): the path is the second argument
    const at = k === 'symlink' ? 1 : 0;
    FS[k] = (...args: unknown[]) => {
      const a = abs(String(args[at]));
      if (isVirtual(a)) throw fail('EROFS');
      if (a === devicePath) throw fail('EPERM');
      args[at] = a;
      if (k === 'rename') args[1] = abs(String(args[1]));
      return o.apply(FS, args);
    };
  }
  FS.truncate = (p: string, len: number) => {
    const a = abs(p);
    if (isVirtual(a)) throw fail('EROFS');
    if (a === devicePath) return device!.truncate(len);
    return orig.truncate(a, len);
  };
}

/**
 * xattrs (wasm/shim/xattr.c): lstat semantics, from the tree; nothing else has any (Node
 * cannot read host xattrs), as on a file system without xattr support.
 */
function installXattrs(h: HostFs, mod: EmModule): void {
  const { vtree, abs, isVirtual, entry, fail } = h;
  mod.xattrHost = {
    list: (p: string) => {
      const e = entry(p, false);
      if (e) return vtree!.xattrList(e);
      const a = abs(p);
      return isVirtual(a) ? vtree!.xattrList(vtree!.resolve(a, false)) : new Uint8Array(0);
    },
    get: (p: string, name: string) => {
      const e = entry(p, false);
      if (e) return vtree!.xattrValue(e, name);
      const a = abs(p);
      if (!isVirtual(a)) throw fail('ENODATA');
      return vtree!.xattrValue(vtree!.resolve(a, false), name);
    },
  };
}

/**
 * Exact mtimes of tree entries (wasm/xfs/glue/mtime.js, for mkfs.xfs -p <directory>, which
 * copies them with nanoseconds). Other paths: ENOSYS, and the tool keeps what stat() said.
 */
function installTimes(h: HostFs, mod: EmModule): void {
  const { vtree, abs, isVirtual, fail } = h;
  mod.timesHost = {
    mtime: (p: string) => {
      const a = abs(p);
      if (!isVirtual(a)) throw fail('ENOSYS');
      const t = vtree!.exactMtime(vtree!.resolve(a, false));
      return [t.sec, t.nsec];
    },
  };
}

/** open(): tree entries (read-only), the device window and in-memory files become host streams. */
function installOpen(h: HostFs): void {
  const { FS, vtree, device, devicePath, memFiles, orig, abs, isVirtual, vnode, entry, fail, nodeErr } = h;
  const newStream = (path: string, flags: number, st: EmStat, handler: StreamHandler, suggestFD?: number, rec?: number): EmStream => {
    const fd = suggestFD != null ? suggestFD : FS.nextfd();
    const stream: EmStream = { fd, position: 0, path, flags, node: vnode(path, st, rec), seekable: true, host: handler };
    FS.streams[fd] = stream;
    h.hostStreams.add(stream);
    return stream;
  };
  const dirHandler: StreamHandler = {
    read: () => {
      throw fail('EISDIR');
    },
    write: () => {
      throw fail('EISDIR');
    },
    size: () => 0,
    close: () => {},
  };
  const memHandler = (data: Uint8Array): StreamHandler => ({
    read: (_s, buf, off, len, pos) => {
      const n = Math.max(0, Math.min(len, data.length - pos));
      buf.set(data.subarray(pos, pos + n), off);
      return n;
    },
    write: () => {
      throw fail('EBADF');
    },
    size: () => data.length,
    close: () => {},
  });
  FS.open = (p: string, flags: number | string, mode?: number, suggestFD?: number) => {
    const a = abs(p);
    if (typeof flags === 'string') return orig.open(a, flags, mode, suggestFD);
    const e = entry(p, true);
    if (e || isVirtual(a)) {
      if ((flags & O_ACCMODE) !== 0 || flags & (O_CREAT | O_TRUNC)) throw fail('EROFS');
      const node = e ?? vtree!.resolve(a, true);
      const st = vtree!.stat(node);
      if (node.kind === 'dir') return newStream(a, flags, st, dirHandler, suggestFD, node.i);
      if (flags & O_DIRECTORY) throw fail('ENOTDIR');
      if (node.kind !== 'file') throw fail('ENXIO');
      let r;
      try {
        r = vtree!.openFile(node);
      } catch (e) {
        throw nodeErr(e);
      }
      return newStream(a, flags, st, r.handler, suggestFD);
    }
    if (a === devicePath) {
      if (flags & O_DIRECTORY) throw fail('ENOTDIR');
      const dh = device!.open();
      return newStream(a, flags & ~(O_CREAT | O_TRUNC | O_EXCL), device!.stat(), dh, suggestFD);
    }
    const mem = memFiles.get(a);
    if (mem) {
      if ((flags & O_ACCMODE) !== 0 || flags & (O_CREAT | O_TRUNC)) throw fail('EROFS');
      return newStream(a, flags, memStat(mem), memHandler(mem), suggestFD);
    }
    return orig.open(a, flags, mode, suggestFD);
  };
}

/** Stream calls: host streams go to their handler; stdout/stderr are captured, stdin is empty. */
function installStreams(h: HostFs, out: string[], err: string[]): void {
  const { FS, orig, fail, nodeErr } = h;
  // the syscall layer passes HEAP8 (an Int8Array); Uint8Array views make copies and compares plain bytes
  // one view per heap: the same HEAP8 comes with every call until the memory grows
  let lastHeap: ArrayBufferView | null = null;
  let lastView: Uint8Array | null = null;
  const u8 = (b: ArrayBufferView): Uint8Array => {
    if (b instanceof Uint8Array) return b;
    if (b !== lastHeap) {
      lastView = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      lastHeap = b;
    }
    return lastView!;
  };
  const isStdio = (s: EmStream): boolean => !s.host && !s.stream_ops && s.nfd !== undefined && s.nfd <= 2;
  FS.close = (s: EmStream) => {
    if (s.host) {
      h.hostStreams.delete(s);
      try {
        s.host.close(s);
      } finally {
        FS.closeStream(s.fd);
      }
      return;
    }
    if (isStdio(s)) return FS.closeStream(s.fd);
    return orig.close(s);
  };
  FS.read = (s: EmStream, buf: Uint8Array, off: number, len: number, pos?: number) => {
    if (s.host) {
      const seeking = pos !== undefined;
      const p = seeking ? pos : s.position;
      let n: number;
      try {
        n = s.host.read(s, u8(buf), off, len, p);
      } catch (e) {
        throw nodeErr(e);
      }
      if (!seeking) s.position += n;
      return n;
    }
    if (isStdio(s)) return 0; // stdin is empty: no question is ever answered "yes"
    return orig.read(s, buf, off, len, pos);
  };
  const decoder = new TextDecoder();
  FS.write = (s: EmStream, buf: Uint8Array, off: number, len: number, pos?: number) => {
    if (s.host) {
      const seeking = pos !== undefined;
      const p = seeking ? pos : s.position;
      let n: number;
      try {
        n = s.host.write(s, u8(buf), off, len, p);
      } catch (e) {
        throw nodeErr(e);
      }
      if (!seeking) s.position += n;
      return n;
    }
    if (isStdio(s)) {
      (s.nfd === 2 ? err : out).push(decoder.decode(u8(buf).subarray(off, off + len)));
      return len;
    }
    return orig.write(s, buf, off, len, pos);
  };
  installSeek(h);
  FS.ftruncate = (fd: number, len: number) => {
    const s = FS.getStream(fd);
    if (s?.host) {
      if (!s.host.truncate) throw fail('EINVAL');
      return s.host.truncate(s, len);
    }
    return orig.ftruncate(fd, len);
  };
  FS.allocate = (s: EmStream, off: number, len: number, mode = 0) => {
    if (s.host) {
      if (!s.host.allocate) throw fail('EOPNOTSUPP');
      return s.host.allocate(s, off, len, mode);
    }
    return orig.allocate(s, off, len, mode);
  };
  FS.fsync = (s: EmStream) => {
    s.host?.sync?.(s);
  };
}

/** llseek on host streams, with SEEK_DATA/SEEK_HOLE. */
function installSeek(h: HostFs): void {
  const { FS, run, devicePath, orig, fail, nodeErr } = h;
  FS.llseek = (s: EmStream, offset: number, whence: number) => {
    if (!s.host) return orig.llseek(s, offset, whence);
    let p: number;
    const size = s.host.size(s);
    switch (whence) {
      case 0: p = offset; break;
      case 1: p = s.position + offset; break;
      case 2: p = size + offset; break;
      // SEEK_DATA/SEEK_HOLE as on a file system without holes: data everywhere, one hole at EOF
      case 3:
      case 4:
        if (s.path === devicePath) throw fail('EINVAL');
        if (offset >= size) throw fail('ENXIO');
        if (run.seekHoles && s.host.seekData) {
          try {
            p = s.host.seekData(s, offset, whence);
          } catch (e) {
            throw nodeErr(e);
          }
        } else p = run.seekHoles && s.host.seekHole ? s.host.seekHole(s, offset, whence) : whence === 3 ? offset : size;
        break;
      default: throw fail('EINVAL');
    }
    if (p < 0) throw fail('EINVAL');
    s.position = p;
    return p;
  };
}

/** emscripten turns Node's Date (built with Math.round(ms)) into seconds; a file modified at
 * :33.9996 would show :34. Rebuild the Dates from the floored *Ms fields, as native stat does. */
function fixTimes(s: EmStat & { atimeMs?: number; mtimeMs?: number; ctimeMs?: number }): EmStat {
  if (typeof s.mtimeMs === 'number') {
    s.atime = new Date(Math.floor(s.atimeMs!));
    s.mtime = new Date(Math.floor(s.mtimeMs));
    s.ctime = new Date(Math.floor(s.ctimeMs!));
  }
  return s;
}
