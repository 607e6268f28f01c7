/** A 32-byte FAT short (8.3) directory entry. */

export const DIRENT_SIZE = 32;

export const ATTR_READONLY = 0x01;
export const ATTR_HIDDEN = 0x02;
export const ATTR_SYSTEM = 0x04;
export const ATTR_VOLUME = 0x08;
export const ATTR_DIR = 0x10;
export const ATTR_ARCHIVE = 0x20;
export const ATTR_LFN = 0x0f;

/** Windows NT "lowercase" bits in byte 12, as mtools sets them for all-lowercase 8.3 names. */
export const CASE_LOWER_BASE = 0x08;
export const CASE_LOWER_EXT = 0x10;

export interface DirEntry {
  /** 11 bytes: base (8) + extension (3), space padded, in the OEM code page. */
  name: Uint8Array;
  attr: number;
  ntCase: number;
  ctimeCs: number;
  ctime: number;
  cdate: number;
  adate: number;
  time: number;
  date: number;
  start: number;
  size: number;
}

export function encodeDirEntry(e: DirEntry, out: Uint8Array = new Uint8Array(DIRENT_SIZE), off = 0): Uint8Array {
  const v = new DataView(out.buffer, out.byteOffset + off, DIRENT_SIZE);
  out.set(e.name.subarray(0, 11), off);
  v.setUint8(11, e.attr);
  v.setUint8(12, e.ntCase);
  v.setUint8(13, e.ctimeCs);
  v.setUint16(14, e.ctime, true);
  v.setUint16(16, e.cdate, true);
  v.setUint16(18, e.adate, true);
  v.setUint16(20, (e.start >>> 16) & 0xffff, true);
  v.setUint16(22, e.time, true);
  v.setUint16(24, e.date, true);
  v.setUint16(26, e.start & 0xffff, true);
  v.setUint32(28, e.size >>> 0, true);
  return out;
}

export function decodeDirEntry(buf: Uint8Array, off = 0): DirEntry {
  const v = new DataView(buf.buffer, buf.byteOffset + off, DIRENT_SIZE);
  return {
    name: buf.slice(off, off + 11),
    attr: v.getUint8(11),
    ntCase: v.getUint8(12),
    ctimeCs: v.getUint8(13),
    ctime: v.getUint16(14, true),
    cdate: v.getUint16(16, true),
    adate: v.getUint16(18, true),
    start: (v.getUint16(20, true) << 16) | v.getUint16(26, true),
    time: v.getUint16(22, true),
    date: v.getUint16(24, true),
    size: v.getUint32(28, true),
  };
}

/** FAT date/time of a Unix time, as mtools/dosfstools compute it through gmtime (TZ=UTC).
 * Years outside 1980..2107 wrap in the 16-bit field exactly as the C arithmetic does. */
export function fatDateTime(unixSeconds: number): { date: number; time: number } {
  const d = new Date(Math.floor(unixSeconds) * 1000);
  const year = d.getUTCFullYear() - 1900;
  const date = (((year - 80) << 9) + ((d.getUTCMonth() + 1) << 5) + d.getUTCDate()) & 0xffff;
  const time = ((d.getUTCSeconds() >> 1) + (d.getUTCMinutes() << 5) + (d.getUTCHours() << 11)) & 0xffff;
  return { date, time };
}

/** Unix seconds (UTC) of a FAT date/time; inverse of fatDateTime inside 1980..2107. */
export function unixFromFat(date: number, time: number): number {
  const y = 1980 + (date >> 9);
  const mo = ((date >> 5) & 15) - 1;
  const d = date & 31;
  return Date.UTC(y, mo, d, time >> 11, (time >> 5) & 63, (time & 31) * 2) / 1000;
}
