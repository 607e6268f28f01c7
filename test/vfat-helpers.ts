/** Test helpers: a small independent-enough FAT reader and oracle plumbing for the vfat tests. */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { decodeBootSector } from '../src/fs/vfat/boot-sector.js';
import { decodeDirEntry, type DirEntry } from '../src/fs/vfat/dirent.js';
import { decodeFat, type FatBits } from '../src/fs/vfat/fat-table.js';
import { decodeLfnEntry, longNameFrom, type LfnEntry } from '../src/fs/vfat/lfn.js';
import { REFERENCE, referenceSkipReason } from './helpers/reference.js';

export const ORACLE = REFERENCE;

export function oracleSkipReason(): string | undefined {
  return referenceSkipReason('trixie') ?? undefined;
}

export function hostToolSkipReason(...tools: string[]): string | undefined {
  for (const t of tools) if (spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0) return `${t} not installed`;
  return undefined;
}

export function oracle(args: string[], opts: { cwd: string; env?: Record<string, string>; bind?: string[] }): string {
  return execFileSync(ORACLE, ['--exec', ...args], {
    cwd: opts.cwd,
    env: { ...process.env, REFERENCE_BIND: (opts.bind ?? []).join(':') },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  }).toString();
}

export interface ReadEntry {
  path: string;
  long: string | null;
  entry: DirEntry;
  lfnRaw: LfnEntry[];
}

export interface FatImage {
  bits: FatBits;
  bytesPerSector: number;
  clusterSize: number;
  fat: Uint32Array;
  dataStart: number;
  rootStart: number;
  rootEntries: number;
  read(off: number, len: number): Buffer;
  chain(c: number): number[];
  dirBytes(cluster: number | null): Buffer;
  /** every entry, depth first in on-disk order (no '.'/'..'). */
  walk(): ReadEntry[];
  fileBytes(e: DirEntry): Buffer;
  close(): void;
}

export function openFat(path: string, offset = 0): FatImage {
  const fd = openSync(path, 'r');
  const read = (off: number, len: number): Buffer => {
    const b = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, b, got, len - got, offset + off + got);
      if (n === 0) break;
      got += n;
    }
    return b;
  };
  const bs = decodeBootSector(read(0, 512));
  const ss = bs.bytesPerSector;
  const fatLen = bs.fat32 ? bs.fat32.fatLength32 : bs.fatLength16;
  const total = bs.totalSectors16 || bs.totalSectors32;
  const rootSectors = Math.ceil((bs.rootEntries * 32) / ss);
  const dataStart = (bs.reservedSectors + bs.numFats * fatLen + rootSectors) * ss;
  const clusters = Math.floor((total - dataStart / ss) / bs.sectorsPerCluster);
  const bits: FatBits = bs.fat32 ? 32 : clusters < 4085 ? 12 : 16;
  const fat = decodeFat(bits, read(bs.reservedSectors * ss, fatLen * ss), clusters + 2);
  const cs = bs.sectorsPerCluster * ss;
  const eoc = bits === 32 ? 0x0ffffff8 : bits === 16 ? 0xfff8 : 0xff8;
  const chain = (c: number): number[] => {
    const out: number[] = [];
    while (c >= 2 && c < eoc && out.length <= clusters) {
      out.push(c);
      c = fat[c]!;
    }
    return out;
  };
  const rootStart = (bs.reservedSectors + bs.numFats * fatLen) * ss;
  const dirBytes = (cluster: number | null): Buffer => {
    if (cluster === null) return read(rootStart, bs.rootEntries * 32);
    return Buffer.concat(chain(cluster).map((c) => read(dataStart + (c - 2) * cs, cs)));
  };
  const walk = (): ReadEntry[] => {
    const out: ReadEntry[] = [];
    const rec = (cluster: number | null, prefix: string): void => {
      const d = dirBytes(cluster);
      let lfn: LfnEntry[] = [];
      for (let o = 0; o < d.length; o += 32) {
        if (d[o] === 0) break;
        if (d[o] === 0xe5) {
          lfn = [];
          continue;
        }
        if (d[o + 11] === 0x0f) {
          lfn.push(decodeLfnEntry(d, o));
          continue;
        }
        const e = decodeDirEntry(d, o);
        const raw = lfn;
        lfn = [];
        if (e.name[0] === 0x2e) continue;
        let long: string | null = null;
        if (raw.length) {
          const sum = raw[0]!.checksum;
          const units = longNameFrom(raw, sum);
          if (units) long = String.fromCharCode(...units);
        }
        const shortName = shortToString(e);
        const name = long ?? shortName;
        out.push({ path: prefix + '/' + name, long, entry: e, lfnRaw: raw });
        if (e.attr & 0x10 && !(e.attr & 0x08)) rec(e.start, prefix + '/' + name);
      }
    };
    rec(bits === 32 ? bs.fat32!.rootCluster : null, '');
    return out;
  };
  const fileBytes = (e: DirEntry): Buffer => {
    if (e.size === 0) return Buffer.alloc(0);
    return Buffer.concat(chain(e.start).map((c) => read(dataStart + (c - 2) * cs, cs))).subarray(0, e.size);
  };
  return { bits, bytesPerSector: ss, clusterSize: cs, fat, dataStart, rootStart, rootEntries: bs.rootEntries, read, chain, dirBytes, walk, fileBytes, close: () => closeSync(fd) };
}

/** The 8.3 name as mtools shows it, with NT lowercase bits applied. */
export function shortToString(e: DirEntry): string {
  const dec = (b: Uint8Array): string => Buffer.from(b).toString('latin1').replace(/ +$/, '');
  let base = dec(e.name.subarray(0, 8));
  let ext = dec(e.name.subarray(8, 11));
  if (e.ntCase & 0x08) base = base.toLowerCase();
  if (e.ntCase & 0x10) ext = ext.toLowerCase();
  return ext ? `${base}.${ext}` : base;
}

/** A comparable line per entry: path, raw short name, attributes, case, times, size, LFN. */
export function describe(entries: ReadEntry[], withClusters = true): string[] {
  return entries.map((r) => {
    const e = r.entry;
    const lfn = r.lfnRaw.length ? ` lfn=${JSON.stringify(r.long)}(${r.lfnRaw.length})` : '';
    const cl = withClusters ? ` start=${e.start}` : '';
    return `${r.path} short=${Buffer.from(e.name).toString('hex')} attr=${e.attr.toString(16)} case=${e.ntCase.toString(16)} cs=${e.ctimeCs} ct=${e.ctime.toString(16)}/${e.cdate.toString(16)} ad=${e.adate.toString(16)} mt=${e.time.toString(16)}/${e.date.toString(16)} size=${e.size}${cl}${lfn}`;
  });
}
