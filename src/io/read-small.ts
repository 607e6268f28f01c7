/**
 * Bounded reads of the small inputs a run takes whole (keys, certificates, machine-id,
 * os-release, definitions, --join-signature= files, the fstab a generated one is appended to).
 * readFileSync() on /dev/zero, a FIFO or a multi-gigabyte file grows memory without bound or
 * hangs in open(): here the type is checked first, a regular file's size is checked before a
 * byte is read, and a stream (only where the caller allows one, e.g. --key-file=/dev/stdin) is
 * read up to the limit and refused past it.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { RepartError, type ErrorCode, type ErrorWhere } from '../errors.js';

export interface ReadSmallOptions {
  /** what the file is, for messages ("--key-file=", "machine ID file", ...). */
  what: string;
  /** largest accepted size in bytes. */
  max: number;
  /** accept a FIFO or character device (read up to `max`); default: refuse them. */
  streams?: boolean;
  code?: ErrorCode;
  where?: ErrorWhere;
}

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** Thrown for any failure; `errno` is the system error code when there is one. */
export class ReadSmallError extends RepartError {
  constructor(message: string, o: ReadSmallOptions, path: string, readonly errno?: string) {
    super(o.code ?? 'E_SOURCE', message, o.where ?? { file: path });
  }
}

function typeName(mode: number): string {
  switch (mode & constants.S_IFMT) {
    case constants.S_IFIFO: return 'a FIFO';
    case constants.S_IFCHR: return 'a character device';
    case constants.S_IFBLK: return 'a block device';
    case constants.S_IFSOCK: return 'a socket';
    case constants.S_IFDIR: return 'a directory';
    default: return 'not a regular file';
  }
}

export function readSmallFile(path: string, o: ReadSmallOptions): Buffer {
  const sysErr = (e: unknown, doing: string): ReadSmallError => {
    const code = (e as NodeJS.ErrnoException).code;
    return new ReadSmallError(`${doing} ${o.what} ${path}: ${code ?? (e as Error).message}`, o, path, code);
  };
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw sysErr(e, 'cannot access');
  }
  const stream = st.isFIFO() || st.isCharacterDevice();
  if (!st.isFile() && !(stream && o.streams)) throw new ReadSmallError(`${o.what} ${path} is ${typeName(Number(st.mode))}, refusing`, o, path);
  if (st.isFile() && st.size > o.max) throw new ReadSmallError(`${o.what} ${path} is larger than ${o.max} bytes (${st.size}), refusing`, o, path);
  let fd: number;
  try {
    // O_NONBLOCK: a file swapped for a FIFO after the stat must not hang the open.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOCTTY | (stream ? 0 : constants.O_NONBLOCK));
  } catch (e) {
    throw sysErr(e, 'cannot open');
  }
  try {
    const fst = fstatSync(fd);
    if (fst.dev !== st.dev || fst.ino !== st.ino) throw new ReadSmallError(`${o.what} ${path} changed while it was opened, refusing`, o, path);
    // one byte more than allowed tells "too large" from "exactly the limit"
    const buf = Buffer.alloc(Math.min(o.max + 1, stream ? o.max + 1 : fst.size + 1));
    let n = 0;
    for (;;) {
      let r: number;
      try {
        r = readSync(fd, buf, n, buf.length - n, null);
      } catch (e) {
        throw sysErr(e, 'cannot read');
      }
      if (r === 0) break;
      n += r;
      if (n > o.max) throw new ReadSmallError(`${o.what} ${path} is larger than ${o.max} bytes, refusing`, o, path);
      if (!stream && n > fst.size) throw new ReadSmallError(`${o.what} ${path} changed while it was read, refusing`, o, path);
      if (n === buf.length) break;
    }
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Limits of the small inputs (generous: each is far above any real file of its kind). */
export const KEY_FILE_MAX = 8 * MiB; // cryptsetup's own key file limit
export const PEM_MAX = 1 * MiB;
export const MACHINE_ID_MAX = 4 * KiB;
export const OS_RELEASE_MAX = 1 * MiB;
export const DEFINITION_MAX = 16 * MiB;
export const FSTAB_MAX = 16 * MiB;
export const SIGNATURE_MAX = 1 * MiB;
