/**
 * Opening a source file that was scanned earlier (lstat in src/tree, CopyBlocks= checks) without
 * trusting that its path still names the same file: the last component is opened with
 * O_NOFOLLOW, and the opened file's dev/ino must be those recorded at the scan. A directory
 * swapped for a symlink between scan and read therefore cannot put a host file into the image:
 * whatever the path now leads to, only the scanned inode is read. O_NONBLOCK keeps a file
 * swapped for a FIFO from hanging the open.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, read as readCb } from 'node:fs';
import { RepartError, type ErrorWhere } from '../errors.js';

export interface ScanId {
  dev: bigint;
  ino: bigint;
}

/** Thrown when the path no longer names the scanned file; `errno` as for open(2) failures. */
export class SourceChangedError extends RepartError {
  /** `namesErrno`: the detail already says the errno (callers that add it then do not repeat it) */
  constructor(readonly path: string, readonly errno: string, detail: string, where?: ErrorWhere, readonly namesErrno = false) {
    super('E_SOURCE', `${path}: ${detail}`, where ?? {});
  }
}

/** The scan identity a tree source recorded, if it recorded one (sources built in memory have none). */
export function scanIdOf(source: { dev?: bigint; ino?: bigint }): ScanId | undefined {
  return source.dev !== undefined && source.ino !== undefined ? { dev: source.dev, ino: source.ino } : undefined;
}

const NOFOLLOW_RDONLY = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/** Open `path` read-only as the scanned file `id` (no check without an id). */
export function openScanned(path: string, id: ScanId | undefined, where?: ErrorWhere): number {
  return openScannedStat(path, id, where).fd;
}

/**
 * openScanned, with the opened file's size when the check had to fstat it anyway (with an
 * `id`): callers that compare the size with the scan's need no second fstat.
 */
export function openScannedStat(path: string, id: ScanId | undefined, where?: ErrorWhere): { fd: number; size?: number } {
  let fd: number;
  try {
    fd = openSync(path, NOFOLLOW_RDONLY | constants.O_NOATIME);
  } catch (e) {
    let code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    // O_NOATIME is refused for files we do not own
    if (code === 'EPERM') {
      try {
        fd = openSync(path, NOFOLLOW_RDONLY);
        return check(fd, path, id, where);
      } catch (e2) {
        if (e2 instanceof SourceChangedError) throw e2;
        code = (e2 as NodeJS.ErrnoException).code ?? 'EIO';
      }
    }
    // ELOOP from O_NOFOLLOW: the file became a symlink
    const detail = code === 'ELOOP' ? 'changed since it was scanned (now a symbolic link)' : code === 'ENOENT' ? 'vanished since it was scanned (ENOENT)' : `cannot open: ${code}`;
    throw new SourceChangedError(path, code, detail, where, code !== 'ELOOP');
  }
  return check(fd, path, id, where);
}

function check(fd: number, path: string, id: ScanId | undefined, where?: ErrorWhere): { fd: number; size?: number } {
  if (!id) return { fd };
  // plain numbers, as in verifyScannedEmpty (a BigIntStats is a dozen BigInts per open file);
  // bigint only where a dev or ino is past 2^53 and a double would round it
  let st: { dev: number | bigint; ino: number | bigint; size: number | bigint } = fstatSync(fd);
  if (st.ino > Number.MAX_SAFE_INTEGER || st.dev > Number.MAX_SAFE_INTEGER) st = fstatSync(fd, { bigint: true });
  if (BigInt(st.dev) !== id.dev || BigInt(st.ino) !== id.ino) {
    closeSync(fd);
    throw new SourceChangedError(path, 'ESTALE', 'changed since it was scanned (a different file is at this path now)', where);
  }
  return { fd, size: Number(st.size) };
}

/**
 * An empty regular source re-checked without opening it (one lstat instead of open + fstat +
 * close: 200,000 empty files cost seconds of syscalls otherwise). Nothing of an empty file is
 * read, so what must hold is what the open would have checked: the path still names the scanned
 * inode (dev/ino, no symlink in its place), it is a regular file, still empty, and this process
 * could open it. Readability is decided from the mode only where it is certain (root, or the
 * owner with u+r: ACLs do not apply to the owner class); otherwise the answer is `false` and the
 * caller opens the file as usual, so an unreadable source fails with EACCES exactly as before.
 * Throws SourceChangedError with the same errnos and messages as openScannedStat + the size check.
 */
export function verifyScannedEmpty(path: string, id: ScanId | undefined, where?: ErrorWhere): boolean {
  let st: { dev: number | bigint; ino: number | bigint; size: number | bigint; mode: number | bigint; uid: number | bigint; isFile(): boolean; isSymbolicLink(): boolean };
  try {
    // plain numbers (a BigIntStats is a dozen BigInts per file); bigint only where a dev or
    // ino is past 2^53 and a double would round it
    st = lstatSync(path);
    if (st.ino > Number.MAX_SAFE_INTEGER || st.dev > Number.MAX_SAFE_INTEGER) st = lstatSync(path, { bigint: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    // as openScannedStat words the same open(2) failures
    const detail = code === 'ELOOP' ? 'changed since it was scanned (now a symbolic link)' : code === 'ENOENT' ? 'vanished since it was scanned (ENOENT)' : `cannot open: ${code}`;
    throw new SourceChangedError(path, code, detail, where, code !== 'ELOOP');
  }
  // open(O_NOFOLLOW) of a symlink fails with ELOOP, whatever it points to
  if (st.isSymbolicLink()) throw new SourceChangedError(path, 'ELOOP', 'changed since it was scanned (now a symbolic link)', where);
  if (id && (BigInt(st.dev) !== id.dev || BigInt(st.ino) !== id.ino)) {
    throw new SourceChangedError(path, 'ESTALE', 'changed since it was scanned (a different file is at this path now)', where);
  }
  if (!st.isFile() || Number(st.size) !== 0) return false;
  const euid = effectiveUid();
  return euid === 0n || (euid !== undefined && euid === BigInt(st.uid) && (Number(st.mode) & 0o400) !== 0);
}

// process.geteuid() is a system call each time (microseconds in a worker); it does not change
let euidCache: bigint | null | undefined;
function effectiveUid(): bigint | undefined {
  if (euidCache === undefined) {
    const u = process.geteuid?.();
    euidCache = u === undefined ? null : BigInt(u);
  }
  return euidCache ?? undefined;
}

/** A scanned source opened for positional reads (the async readers: vfat, de-duplication). */
export interface SourceHandle {
  fd: number;
  read(buf: Uint8Array, off: number, len: number, pos: number): Promise<number>;
  size(): number;
  close(): void;
}

export function openScannedHandle(path: string, id: ScanId | undefined, where?: ErrorWhere): SourceHandle {
  const fd = openScanned(path, id, where);
  return {
    fd,
    read: (buf, off, len, pos) =>
      new Promise((resolve, reject) => {
        readCb(fd, buf, off, len, pos, (err, n) => (err ? reject(new SourceChangedError(path, err.code ?? 'EIO', `cannot read: ${err.code ?? err.message}`, where, err.code !== undefined)) : resolve(n)));
      }),
    size: () => fstatSync(fd).size,
    close: () => closeSync(fd),
  };
}
