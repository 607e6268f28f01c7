/**
 * The "newc" cpio format (SVR4 portable, magic 070701): the only archive format the Linux kernel
 * unpacks as an initramfs (init/initramfs.c). One header per entry, 13 fixed-width hex fields,
 * then the NUL-terminated name and the data, each padded to 4 bytes; the archive ends with an
 * entry named TRAILER!!!.
 *
 * Hard links follow GNU cpio's convention: every entry of a link group carries the same ino and
 * nlink, and only the last one carries the data. The kernel accepts that (it links later names
 * to the first one and writes the data through whichever entry has it), and so does `cpio -i`,
 * which defers zero-sized link entries until it sees the data.
 */
import { RepartError } from '../errors.js';

export const NEWC_MAGIC = '070701';
/** The same layout with a checksum of the data bytes in `check` (070702). */
export const NEWC_CRC_MAGIC = '070702';
export const HEADER_SIZE = 110;
export const TRAILER_NAME = 'TRAILER!!!';

// The file type bits of `mode` are Linux's, as the WASM tools' host already names them.
export { S_IFMT, S_IFSOCK, S_IFLNK, S_IFREG, S_IFBLK, S_IFDIR, S_IFCHR, S_IFIFO } from '../fs/wasm/emscripten.js';

export class CpioError extends RepartError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_INITRAMFS', message, {}, 1, options);
    this.name = 'CpioError';
  }
}

/** The 13 numeric fields of a newc header, in on-disk order. */
export interface NewcHeader {
  magic: typeof NEWC_MAGIC | typeof NEWC_CRC_MAGIC;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  filesize: number;
  devmajor: number;
  devminor: number;
  rdevmajor: number;
  rdevminor: number;
  /** length of the name including its terminating NUL. */
  namesize: number;
  check: number;
}

const FIELDS = ['ino', 'mode', 'uid', 'gid', 'nlink', 'mtime', 'filesize', 'devmajor', 'devminor',
  'rdevmajor', 'rdevminor', 'namesize', 'check'] as const;

const pad4 = (n: number): number => (n + 3) & ~3;

export function encodeHeader(h: NewcHeader): Uint8Array {
  let s = h.magic;
  for (const f of FIELDS) {
    const v = h[f];
    // Every field is 8 hex digits: anything outside 32 bits would silently wrap in the kernel.
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new CpioError(`cpio header field ${f}=${v} does not fit in 32 bits`);
    s += v.toString(16).padStart(8, '0');
  }
  return new TextEncoder().encode(s);
}

export function decodeHeader(buf: Uint8Array, offset = 0): NewcHeader {
  if (offset + HEADER_SIZE > buf.length) throw new CpioError(`truncated cpio header at offset ${offset}`);
  const text = new TextDecoder('latin1').decode(buf.subarray(offset, offset + HEADER_SIZE));
  const magic = text.slice(0, 6);
  if (magic !== NEWC_MAGIC && magic !== NEWC_CRC_MAGIC) throw new CpioError(`bad cpio magic '${magic.replace(/[^\x20-\x7e]/g, '?')}' at offset ${offset} (only newc 070701/070702 is supported)`);
  const h: Partial<NewcHeader> = { magic };
  FIELDS.forEach((f, i) => {
    const hex = text.slice(6 + i * 8, 14 + i * 8);
    if (!/^[0-9a-fA-F]{8}$/.test(hex)) throw new CpioError(`cpio header field ${f} at offset ${offset} is not hex: '${hex}'`);
    h[f] = parseInt(hex, 16);
  });
  return h as NewcHeader;
}

/** One archive member as stored: `mode` includes the file type bits; sizes follow from the strings. */
export type CpioEntry = Omit<NewcHeader, 'magic' | 'filesize' | 'namesize' | 'check'> & {
  name: string;
  /** file contents, or a symlink's target; empty for everything else. */
  data: Uint8Array;
};

/** The newc checksum (070702): the sum of all data bytes, modulo 2^32. */
export function newcChecksum(data: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < data.length; i++) sum = (sum + data[i]!) >>> 0;
  return sum;
}

/** Encodes entries in the given order and appends the trailer. */
export function encodeArchive(entries: readonly CpioEntry[], opts: { crc?: boolean } = {}): Buffer {
  const parts: Uint8Array[] = [];
  let size = 0;
  const push = (b: Uint8Array): void => { parts.push(b); size += b.length; };
  const zeros = new Uint8Array(4);
  const all = [...entries, { name: TRAILER_NAME, ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0, data: new Uint8Array(0) }];
  for (const e of all) {
    const name = new TextEncoder().encode(e.name);
    if (name.includes(0)) throw new CpioError(`cpio entry name contains a NUL byte: ${JSON.stringify(e.name)}`);
    const head = encodeHeader({
      magic: opts.crc ? NEWC_CRC_MAGIC : NEWC_MAGIC,
      ino: e.ino, mode: e.mode, uid: e.uid, gid: e.gid, nlink: e.nlink, mtime: e.mtime,
      filesize: e.data.length, devmajor: e.devmajor, devminor: e.devminor,
      rdevmajor: e.rdevmajor, rdevminor: e.rdevminor, namesize: name.length + 1,
      check: opts.crc ? newcChecksum(e.data) : 0,
    });
    push(head);
    push(name);
    push(zeros.subarray(0, pad4(HEADER_SIZE + name.length + 1) - HEADER_SIZE - name.length));
    push(e.data);
    push(zeros.subarray(0, pad4(e.data.length) - e.data.length));
  }
  return Buffer.concat(parts, size);
}

export interface DecodedArchive {
  entries: CpioEntry[];
  /** offset just past the trailer's padding: where a concatenated archive would begin. */
  end: number;
}

/** Decodes one archive starting at `offset`, up to and excluding its trailer. */
export function decodeArchive(buf: Uint8Array, offset = 0): DecodedArchive {
  const entries: CpioEntry[] = [];
  let off = offset;
  for (;;) {
    const h = decodeHeader(buf, off);
    if (h.namesize === 0) throw new CpioError(`cpio entry at offset ${off} has an empty name`);
    const nameStart = off + HEADER_SIZE;
    const nameEnd = nameStart + h.namesize;
    if (nameEnd > buf.length) throw new CpioError(`truncated cpio name at offset ${nameStart}`);
    if (buf[nameEnd - 1] !== 0) throw new CpioError(`cpio name at offset ${nameStart} is not NUL-terminated`);
    const name = new TextDecoder().decode(buf.subarray(nameStart, nameEnd - 1));
    const dataStart = off + pad4(HEADER_SIZE + h.namesize);
    const dataEnd = dataStart + h.filesize;
    if (dataEnd > buf.length) throw new CpioError(`truncated cpio data of ${JSON.stringify(name)}: ${h.filesize} bytes at offset ${dataStart}, archive has ${buf.length}`);
    off = dataStart + pad4(h.filesize);
    if (name === TRAILER_NAME) return { entries, end: Math.min(off, buf.length) };
    // A copy, and a plain Uint8Array whatever the input was (Buffer.slice would alias the input).
    const data = new Uint8Array(buf.subarray(dataStart, dataEnd));
    if (h.magic === NEWC_CRC_MAGIC && newcChecksum(data) !== h.check) throw new CpioError(`cpio checksum mismatch for ${JSON.stringify(name)}`);
    entries.push({
      name, ino: h.ino, mode: h.mode, uid: h.uid, gid: h.gid, nlink: h.nlink, mtime: h.mtime,
      devmajor: h.devmajor, devminor: h.devminor, rdevmajor: h.rdevmajor, rdevminor: h.rdevminor, data,
    });
  }
}
