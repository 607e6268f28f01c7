/**
 * File names as mcopy (mtools 4.0.48) stores them: 8.3 short name, NT lowercase bits, VFAT
 * long name and `~N` alias, including how mtools' per-directory hash bitmap decides when an
 * alias is bumped (file_name.c dos_name, vfat.c autorename/lookupForInsert, dirCache.c).
 *
 * Two character modes:
 * - 'mcopy-c' (default): what systemd-repart gets. repart runs mcopy with a fresh environment
 *   without LANG, i.e. the C locale: every non-ASCII byte of a UTF-8 name is taken as a Latin-1
 *   character (0xA0..0xFE) or '_', case mapping is ASCII-only, and — an mtools quirk — the failed
 *   mbrtowc leaves errno = EILSEQ behind, so that name and *every later name in the same mcopy
 *   run* gets a long-name entry even when 8.3 would do (see safe_iconv in charsetConv.c).
 * - 'utf8': what mcopy does under a UTF-8 locale: proper Unicode long names (surrogate pairs
 *   for characters beyond the BMP, where mtools would truncate), Unicode case mapping.
 */
import { CASE_LOWER_BASE, CASE_LOWER_EXT } from './dirent.js';

export type NameMode = 'mcopy-c' | 'utf8';

const CP850_HIGH =
  '\u00c7\u00fc\u00e9\u00e2\u00e4\u00e0\u00e5\u00e7\u00ea\u00eb\u00e8\u00ef\u00ee\u00ec\u00c4\u00c5\u00c9\u00e6\u00c6\u00f4\u00f6\u00f2\u00fb\u00f9\u00ff\u00d6\u00dc\u00f8\u00a3\u00d8\u00d7\u0192\u00e1\u00ed\u00f3\u00fa\u00f1\u00d1\u00aa\u00ba\u00bf\u00ae\u00ac\u00bd\u00bc\u00a1\u00ab\u00bb\u2591\u2592\u2593\u2502\u2524\u00c1\u00c2\u00c0\u00a9\u2563\u2551\u2557\u255d\u00a2\u00a5\u2510\u2514\u2534\u252c\u251c\u2500\u253c\u00e3\u00c3\u255a\u2554\u2569\u2566\u2560\u2550\u256c\u00a4\u00f0\u00d0\u00ca\u00cb\u00c8\u0131\u00cd\u00ce\u00cf\u2518\u250c\u2588\u2584\u00a6\u00cc\u2580\u00d3\u00df\u00d4\u00d2\u00f5\u00d5\u00b5\u00fe\u00de\u00da\u00db\u00d9\u00fd\u00dd\u00af\u00b4\u00ad\u00b1\u2017\u00be\u00b6\u00a7\u00f7\u00b8\u00b0\u00a8\u00b7\u00b9\u00b3\u00b2\u25a0\u00a0';
const TO_CP850 = new Map<number, number>();
for (let i = 0; i < 128; i++) TO_CP850.set(CP850_HIGH.charCodeAt(i), 0x80 + i);

/** CP850 byte → Unicode code point (mtools' default code page). */
export function cp850ToUnicode(b: number): number {
  return b < 0x80 ? b : CP850_HIGH.charCodeAt(b - 0x80);
}

const SHORT_ILLEGALS = new Set(Array.from(';+=[]\',"*\\<>/?:|', (c) => c.charCodeAt(0)));
const LONG_ILLEGALS = new Set(Array.from('"*\\<>/?:|\x05', (c) => c.charCodeAt(0)));
const SP = 0x20;
const DOT = 0x2e;

export class FatNameError extends Error {}

/** State shared by one mcopy run (one partition): the stale-errno quirk of 'mcopy-c'. */
export class NamingContext {
  /** errno == EILSEQ left over from an earlier failed mbrtowc (mcopy-c only). */
  staleEilseq = false;
  constructor(readonly mode: NameMode = 'mcopy-c') {}

  /** native_to_wchar: bytes of a UTF-8 name → wide characters as mtools sees them. */
  toWide(bytes: Uint8Array): number[] {
    if (this.mode === 'utf8') {
      return Array.from(Buffer.from(bytes).toString('utf8'), (ch) => ch.codePointAt(0)!);
    }
    const out: number[] = [];
    for (const b of bytes) {
      if (b < 0x80) out.push(b);
      else {
        this.staleEilseq = true;
        out.push(b >= 0xa0 && b < 0xff ? b : 0x5f);
      }
    }
    return out;
  }

  isLower(c: number): boolean {
    if (this.mode === 'mcopy-c' || c < 0x80) return c >= 0x61 && c <= 0x7a;
    const s = String.fromCodePoint(c);
    return s !== s.toUpperCase() && s === s.toLowerCase();
  }

  isUpper(c: number): boolean {
    if (this.mode === 'mcopy-c' || c < 0x80) return c >= 0x41 && c <= 0x5a;
    const s = String.fromCodePoint(c);
    return s !== s.toLowerCase() && s === s.toUpperCase();
  }

  toUpper(c: number): number {
    if (this.mode === 'mcopy-c' || c < 0x80) return c >= 0x61 && c <= 0x7a ? c - 32 : c;
    const u = String.fromCodePoint(c).toUpperCase();
    return u.length === 1 || (u.length === 2 && u.codePointAt(0)! > 0xffff) ? u.codePointAt(0)! : c;
  }

  toLower(c: number): number {
    if (this.mode === 'mcopy-c' || c < 0x80) return c >= 0x41 && c <= 0x5a ? c + 32 : c;
    const l = String.fromCodePoint(c).toLowerCase();
    return l.length === 1 ? l.codePointAt(0)! : c;
  }

  isCntrl(c: number): boolean {
    return c < 0x20 || c === 0x7f || (c >= 0x80 && c < 0xa0);
  }
}

export interface ShortName {
  /** base (8) + ext (3), space padded, CP850. */
  name11: Uint8Array;
  /** NT lowercase bits for byte 12 of the entry. */
  ntCase: number;
}

export interface NamedEntry extends ShortName {
  /** VFAT long name in UTF-16 units, or null when the 8.3 entry says it all. */
  longName: Uint16Array | null;
}

const MANGLED = 1;
const MANGLED_TAIL = 2;

/** Convert wide characters to DOS bytes (wchar_to_dos): unrepresentable → '_' and mangled. */
function toDos(ctx: NamingContext, wide: number[], state: { mangled: number }): number[] {
  const out: number[] = [];
  for (const c of wide) {
    let b: number;
    if (c < 0x80) b = c;
    else b = TO_CP850.get(c) ?? -1;
    if (b < 0 || b === 0x3f) {
      b = 0x5f;
      state.mangled |= MANGLED;
    }
    out.push(b);
  }
  // safe_iconv reads errno after a *successful* iconv: a stale EILSEQ marks the name mangled.
  if (ctx.mode === 'mcopy-c' && ctx.staleEilseq && wide.length > 0) state.mangled |= MANGLED;
  return out;
}

type Case = 'none' | 'upper' | 'lower';

/** TranslateToDos: at most `count` characters of `part` (bytes) to DOS, tracking case. */
function translate(ctx: NamingContext, part: Uint8Array, count: number, state: { mangled: number }): { dos: number[]; kase: Case } {
  const wideAll = ctx.toWide(part);
  const wide = wideAll.slice(0, count);
  if (wideAll.length > count) state.mangled |= MANGLED | MANGLED_TAIL;
  let kase: Case = 'none';
  const buf: number[] = [];
  for (const c of wide) {
    if (c === SP || c === DOT) {
      state.mangled |= MANGLED | MANGLED_TAIL;
      continue;
    }
    if (ctx.isCntrl(c)) {
      state.mangled |= MANGLED | MANGLED_TAIL;
      buf.push(0x5f);
    } else if (ctx.isLower(c)) {
      buf.push(ctx.toUpper(c));
      if (kase === 'upper') state.mangled |= MANGLED;
      else kase = 'lower';
    } else if (ctx.isUpper(c)) {
      buf.push(c);
      if (kase === 'lower') state.mangled |= MANGLED;
      else kase = 'upper';
    } else buf.push(c);
  }
  return { dos: toDos(ctx, buf, state), kase };
}

/** mtools' autorename() for short names: insert or bump the `~N` tail (numeric tail on). */
export function autorenameShort(name11: Uint8Array, bump: boolean): void {
  for (let p = 0; p < 11; p++) {
    if (SHORT_ILLEGALS.has(name11[p]!)) {
      name11[p] = 0x5f;
      bump = false;
    }
  }
  let tildapos = -1;
  let seqnum = 0;
  let maxseq = 0;
  let dotpos = 0;
  for (; dotpos < 8 && name11[dotpos] !== SP; dotpos++) {
    const ch = name11[dotpos]!;
    if (ch === 0x7e) {
      tildapos = dotpos;
      seqnum = 0;
      maxseq = 1;
    } else if (ch >= 0x30 && ch <= 0x39) {
      seqnum = seqnum * 10 + (ch - 0x30);
      maxseq *= 10;
    } else tildapos = -1;
  }
  if (tildapos === -1) {
    if (dotpos > 6) {
      tildapos = 6;
      dotpos = 8;
    } else {
      tildapos = dotpos;
      dotpos += 2;
    }
    seqnum = 1;
  } else {
    if (bump) seqnum++;
    if (seqnum > 999999) {
      seqnum = 1;
      tildapos = dotpos - 2;
    }
    if (seqnum === maxseq) {
      if (dotpos >= 8) tildapos--;
      else dotpos++;
    }
  }
  // fmt_num: digits right-aligned in [tildapos, dotpos), then '~' over the first position
  let num = seqnum;
  for (let end = dotpos - tildapos; end > 0; end--) {
    name11[tildapos + end - 1] = 0x30 + (num % 10);
    num = Math.floor(num / 10);
  }
  name11[tildapos] = 0x7e;
}

/** dos_name(): the 8.3 name and mangling flags for a (space-stripped) long name. */
export function dosName(ctx: NamingContext, bytes: Uint8Array): { name11: Uint8Array; mangled: number } {
  const state = { mangled: 0 };
  let i = 0;
  while (i < bytes.length && (bytes[i] === DOT || bytes[i] === SP)) i++;
  if (i) state.mangled = MANGLED | MANGLED_TAIL;
  const name = bytes.subarray(i);
  const dot = name.lastIndexOf(DOT);
  const basePart = dot >= 0 ? name.subarray(0, dot) : name;
  const base = translate(ctx, basePart, 8, state);
  let extCase: Case = 'upper';
  let ext: number[] = [];
  if (dot >= 0) {
    const t = translate(ctx, name.subarray(dot + 1), 3, state);
    ext = t.dos;
    extCase = t.kase;
  }
  const name11 = new Uint8Array(11).fill(SP);
  name11.set(base.dos.slice(0, 8), 0);
  name11.set(ext.slice(0, 3), 8);
  if (state.mangled & MANGLED_TAIL) autorenameShort(name11, false);
  if (!state.mangled) {
    if (base.kase === 'lower') state.mangled |= CASE_LOWER_BASE;
    if (extCase === 'lower') state.mangled |= CASE_LOWER_EXT;
    // readers lower-case NT-flagged short names in the OEM code page only for ASCII (mtools
    // does so too: "café" would come back as "cafÉ"); utf8 mode keeps such names in an LFN
    if (ctx.mode === 'utf8' && state.mangled && bytes.some((b) => b >= 0x80)) state.mangled = MANGLED;
  }
  return { name11, mangled: state.mangled };
}

function isReservedLong(bytes: Uint8Array): boolean {
  const s = Buffer.from(bytes).toString('latin1').toUpperCase();
  return /^(CON|AUX|PRN|NUL|   )$/.test(s) || /^(COM|LPT)[1-4]$/.test(s);
}

const up = (b: number): number => (b >= 0x61 && b <= 0x7a ? b - 32 : b);

function isReservedShort(n: Uint8Array): boolean {
  const a = up(n[0]!), b = up(n[1]!), c = up(n[2]!);
  const three = String.fromCharCode(a, b, c);
  const restBlank = (from: number): boolean => {
    for (let i = from; i < 8; i++) if (n[i] !== SP) return false;
    return true;
  };
  if ((three === 'CON' || three === 'AUX' || three === 'PRN' || three === 'NUL' || three === '   ') && restBlank(3)) return true;
  return (three === 'COM' || three === 'LPT') && n[3]! >= 0x31 && n[3]! <= 0x34 && restBlank(4);
}

function hasIllegal(bytes: ArrayLike<number>, illegals: Set<number>): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if ((b < 0x20 && b !== 0x05) || illegals.has(b)) return true;
  }
  return false;
}

/** The name mtools compares and hashes for a short entry: "BASE.EXT" (unix_name, Case 0). */
export function unixShortName(name11: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < 8 && name11[i] !== SP; i++) out.push(i === 0 && name11[0] === 0x05 ? 0xe5 : name11[i]!);
  if (name11[8] !== SP) {
    out.push(DOT);
    for (let i = 8; i < 11 && name11[i] !== SP; i++) out.push(name11[i]!);
  }
  for (let i = 0; i < out.length; i++) if (out[i]! >= 0x80) out[i] = cp850ToUnicode(out[i]!);
  return out;
}

const rol = (x: number, s: number): number => ((x << s) | (x >>> (32 - s))) >>> 0;

/**
 * One directory as mcopy fills it: its hash bitmap (three 4096-bit maps, dirCache.c) and the
 * names already present, so clash handling and `~N` bumps come out as in mtools.
 */
export class DirNamer {
  private readonly bm = [new Uint32Array(128), new Uint32Array(128), new Uint32Array(128)];
  private readonly longs = new Set<string>();
  private readonly shorts = new Set<string>();
  /** mtools consults the bitmap only once its cache has scanned the directory and hashed at
   * least one entry: after the first insertion, or before inserting a directory (mcopy first
   * looks the name up to reuse an existing directory). */
  private scanned = false;
  private hashed = 0;

  /** `initial`: wide names of entries already there ('.', '..' or the volume label); they are
   * hashed but never clash (labels are skipped, '.'/'..' cannot be created). */
  constructor(private readonly ctx: NamingContext, initial: number[][] = []) {
    for (const n of initial) this.hashAdd(n);
    this.hashed = initial.length;
  }

  private fold(w: number[]): string {
    let out = '';
    for (const c of w) out += String.fromCodePoint(this.ctx.toLower(c));
    return out;
  }

  private calcHash(w: number[]): number {
    let h = 0;
    for (let i = 0; i < w.length; i++) {
      h = rol(h, 5);
      const c = this.ctx.toUpper(w[i]!) >>> 0;
      h = (h ^ Math.imul(c, (c + 2) >>> 0) ^ Math.imul(i, i + 2)) >>> 0;
    }
    h = Math.imul(h, (h + 2) >>> 0) >>> 0;
    h = (h ^ ((h & 0xfff) << 12)) >>> 0;
    return h;
  }

  private bit(map: Uint32Array, h: number, set: boolean): boolean {
    const bit = 1 << (h % 32);
    const idx = Math.floor(h / 32) % 128;
    if (set) {
      map[idx]! |= bit;
      return true;
    }
    return (map[idx]! & bit) !== 0;
  }

  private hashOp(w: number[], set: boolean): boolean {
    const h = this.calcHash(w);
    return this.bit(this.bm[0]!, h, set) && this.bit(this.bm[1]!, rol(h, 12), set) && this.bit(this.bm[2]!, rol(h, 24), set);
  }

  private hashAdd(w: number[]): void {
    this.hashOp(w, true);
  }

  /** Name a new entry; throws FatNameError for names mcopy refuses (it would skip them). */
  add(name: string, isDir = false): NamedEntry {
    const ctx = this.ctx;
    if (isDir) this.scanned = true;
    let bytes = new Uint8Array(Buffer.from(name, 'utf8'));
    // stripspaces(): trailing spaces are dropped (a name of only spaces keeps one)
    let end = bytes.length;
    while (end > 1 && bytes[end - 1] === SP) end--;
    bytes = bytes.subarray(0, end);
    if (bytes.length === 0 || name === '.' || name === '..') throw new FatNameError(`cannot create an entry named "${name}"`);

    const { name11, mangled } = dosName(ctx, bytes);
    let useLong = mangled;
    const wlong = ctx.toWide(bytes);
    if (wlong.length > 255) throw new FatNameError(`name "${name}" is longer than 255 characters`);

    const onlyDotsSpaces = bytes.every((b) => b === DOT || b === SP);
    if (isReservedLong(bytes) || onlyDotsSpaces) throw new FatNameError(`name "${name}" is reserved on FAT`);
    if (hasIllegal(bytes, LONG_ILLEGALS)) throw new FatNameError(`name "${name}" contains characters FAT cannot store`);
    const longKey = this.fold(wlong);

    // reserved or illegal 8.3 names are renamed first; autorename leaves neither behind
    while (isReservedShort(name11) || hasIllegal(name11, SHORT_ILLEGALS)) {
      useLong = 1;
      autorenameShort(name11, true);
    }
    for (let guard = 0; guard < 1_000_000; guard++) {
      const shortW = unixShortName(name11);
      if (this.scanned && this.hashed > 0) {
        if (!this.hashOp(wlong, false) && this.hashOp(shortW, false)) {
          if (useLong) {
            // pessimisticShortRename: a possible short clash bumps the alias without looking
            if (useLong & MANGLED) {
              autorenameShort(name11, true);
              continue;
            }
          }
        }
      }
      if (this.longs.has(longKey) || this.shorts.has(longKey)) {
        throw new FatNameError(`name "${name}" clashes with an existing entry (FAT names are case-insensitive)`);
      }
      if (this.shorts.has(this.fold(shortW))) {
        if (useLong & MANGLED) {
          autorenameShort(name11, true);
          continue;
        }
        throw new FatNameError(`name "${name}" clashes with an existing entry's short name`);
      }
      // success: remember the entry as mtools' cache would
      this.scanned = true;
      this.hashed++;
      const isLong = (useLong & MANGLED) !== 0;
      this.hashAdd(isLong ? wlong : []);
      this.hashAdd(shortW);
      if (isLong) this.longs.add(longKey);
      this.shorts.add(this.fold(shortW));
      if (name11[0] === 0xe5) name11[0] = 0x05;
      return {
        name11,
        ntCase: useLong & (CASE_LOWER_BASE | CASE_LOWER_EXT),
        longName: isLong ? toUtf16(ctx, wlong) : null,
      };
    }
    throw new FatNameError(`no free short name for "${name}"`);
  }
}

function toUtf16(ctx: NamingContext, wide: number[]): Uint16Array {
  if (ctx.mode === 'mcopy-c') return Uint16Array.from(wide);
  const s = String.fromCodePoint(...wide);
  const out = new Uint16Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
