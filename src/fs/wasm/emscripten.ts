/**
 * The few internals of an emscripten 3.1.6 NODERAWFS module that the host drives. The
 * factories in wasm/*.cjs are built with MODULARIZE and export FS and callMain
 * (tools/build-wasm.sh); post.js adds ExitStatus and ERRNO_CODES.
 *
 * NODERAWFS maps every FS call straight onto node:fs. The host replaces some FS functions
 * on the instance (paths under a mount point, the partition device, stdio), which is how
 * emscripten's own VFS layer is meant to be overridden: the syscall layer looks FS.* up at
 * call time.
 */

export interface EmNode {
  id: number;
  mode: number;
  path: string;
  node_ops: { lookup?: (parent: EmNode, name: string) => EmNode };
  /** a directory of the source tree: its record (src/fs/wasm/vtree.ts), for lookups by name */
  rec?: number;
}

/** What SYSCALLS.doStat reads (times are Dates, truncated to whole seconds by it). */
export interface EmStat {
  dev: number;
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  size: number;
  blocks: number;
  atime: Date;
  mtime: Date;
  ctime: Date;
  /**
   * Nanosecond parts of atime, mtime and ctime (absent: all 0). emscripten's doStat writes the
   * seconds of the Dates and 0 for tv_nsec; the host writes these after it (host.ts, statNsec).
   */
  nsec?: readonly [number, number, number];
}

/** Host-provided behaviour of a stream the host opened itself. */
export interface StreamHandler {
  read(stream: EmStream, buf: Uint8Array, off: number, len: number, pos: number): number;
  write(stream: EmStream, buf: Uint8Array, off: number, len: number, pos: number): number;
  /** returns the new position for SEEK_END (whence 2); SEEK_SET/CUR are handled generically. */
  size(stream: EmStream): number;
  close(stream: EmStream): void;
  truncate?(stream: EmStream, len: number): void;
  allocate?(stream: EmStream, off: number, len: number, mode: number): void;
  sync?(stream: EmStream): void;
  /** lseek SEEK_DATA (3) / SEEK_HOLE (4); absent: data everywhere, one hole at the end */
  seekData?(stream: EmStream, offset: number, whence: 3 | 4): number;
  /** lseek(SEEK_DATA = 3 | SEEK_HOLE = 4) for a file that may have holes; throws ENXIO past the data. */
  seekHole?(stream: EmStream, offset: number, whence: 3 | 4): number;
}

export interface EmStream {
  fd: number;
  nfd?: number;
  position: number;
  path: string;
  flags: number;
  node?: EmNode;
  seekable?: boolean;
  stream_ops?: unknown;
  getdents?: string[] | null;
  /** set on streams the host opened (virtual files, directories, the partition device). */
  host?: StreamHandler;
}

export interface EmErrnoError extends Error {
  errno: number;
}

type Fn = (...args: any[]) => any;

export interface EmFS {
  ErrnoError: new (errno: number) => EmErrnoError;
  streams: (EmStream | null)[];
  nextfd(fdStart?: number): number;
  closeStream(fd: number): void;
  getStream(fd: number): EmStream | null;
  lookupPath: Fn;
  cwd: () => string;
  chdir: (path: string) => void;
  open: Fn;
  close: (stream: EmStream) => void;
  read: Fn;
  write: Fn;
  llseek: Fn;
  stat: (path: string, dontFollow?: boolean) => EmStat;
  lstat: (path: string) => EmStat;
  readdir: (path: string) => string[];
  readlink: (path: string) => string;
  ftruncate: Fn;
  truncate: Fn;
  allocate: Fn;
  mmap: Fn;
  fsync?: (stream: EmStream) => void;
  /** emscripten's own access checks on its nodes (mode bits only, as for an unprivileged user) */
  ignorePermissions: boolean;
  [k: string]: unknown;
}

export interface EmModule {
  FS: EmFS;
  callMain(args: string[]): number;
  ExitStatus: new (status: number) => { status: number };
  ERRNO_CODES: Record<string, number>;
  /** read by wasm/glue/xattr.js (llistxattr/lgetxattr); errors as thrown FS.ErrnoError. */
  xattrHost?: {
    list(path: string): Uint8Array;
    get(path: string, name: string): Uint8Array;
  };
  /** read by wasm/xfs/glue/mtime.js: lstat's mtime as [seconds, nanoseconds] (stat() keeps neither 64-bit seconds nor nanoseconds). */
  timesHost?: {
    mtime(path: string): [sec: number, nsec: number];
  };
}

/** Options understood by the generated factory (a subset). */
export interface EmModuleArgs {
  thisProgram: string;
  env: Record<string, string>;
  noInitialRun?: boolean;
  noExitRuntime?: boolean;
  print?: (s: string) => void;
  printErr?: (s: string) => void;
  quit?: (status: number, toThrow: unknown) => never;
  instantiateWasm?: (
    imports: WebAssembly.Imports,
    done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
  ) => object;
  preRun?: Array<(m: EmModule) => void>;
}

export type EmFactory = (args: EmModuleArgs) => Promise<EmModule>;

/** Linux file type bits, as the C side expects them in st_mode. */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** open(2) flag bits as musl/emscripten define them. */
export const O_ACCMODE = 3;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_DIRECTORY = 0o200000;

/** fallocate(2) modes (linux/falloc.h). */
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_ZERO_RANGE = 0x10;
