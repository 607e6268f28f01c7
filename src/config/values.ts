/**
 * Value parsers with systemd's exact acceptance rules (parse_size(), parse_boolean(),
 * safe_atou64() with base detection). They return null on invalid input; callers decide
 * whether that is fatal (as repart does for sizes and types) or a warning.
 */

const IEC: ReadonlyArray<readonly [string, bigint]> = [
  ['E', 1n << 60n],
  ['P', 1n << 50n],
  ['T', 1n << 40n],
  ['G', 1n << 30n],
  ['M', 1n << 20n],
  ['K', 1n << 10n],
  ['B', 1n],
  ['', 1n],
];
const U64_MAX = (1n << 64n) - 1n;
const WS = ' \t\n\r';

function skipWs(s: string, i: number): number {
  while (i < s.length && WS.includes(s[i]!)) i++;
  return i;
}

/** parse_size(t, 1024): "1G 512M", "1.5M", "4096"; upper-case suffixes only. */
export function parseSize(t: string): bigint | null {
  let p = 0;
  let r = 0n;
  let startPos = 0;
  if (t.length === 0) return null;
  do {
    p = skipWs(t, p);
    // strtoull() would also accept a sign; a '-' is refused explicitly, a '+' is let through.
    let q = p;
    if (t[q] === '-') return null;
    if (t[q] === '+') q++;
    const ds = q;
    while (q < t.length && t[q]! >= '0' && t[q]! <= '9') q++;
    if (q === ds) return null;
    const l = BigInt(t.slice(ds, q));
    if (l > U64_MAX) return null;
    let e = q;
    let frac = 0;
    if (t[e] === '.') {
      e++;
      const fs = e;
      while (e < t.length && t[e]! >= '0' && t[e]! <= '9') e++;
      if (e > fs) frac = Number(t.slice(fs, e)) / 10 ** (e - fs);
    }
    e = skipWs(t, e);
    let i = startPos;
    for (; i < IEC.length; i++) if (t.startsWith(IEC[i]![0], e)) break;
    if (i >= IEC.length) return null;
    const factor = IEC[i]![1];
    if (l + (frac > 0 ? 1n : 0n) > U64_MAX / factor) return null;
    const tmp = l * factor + BigInt(Math.floor(frac * Number(factor)));
    if (tmp > U64_MAX - r) return null;
    r += tmp;
    p = e + IEC[i]![0].length;
    startPos = i + 1;
  } while (p < t.length);
  return r;
}

/** parse_boolean() */
export function parseBool(s: string): boolean | null {
  const v = s.toLowerCase();
  if (['1', 'yes', 'y', 'true', 't', 'on'].includes(v)) return true;
  if (['0', 'no', 'n', 'false', 'f', 'off'].includes(v)) return false;
  return null;
}

/**
 * Unsigned integer with C base detection (0x hex, 0b binary, 0o or leading 0 octal), as
 * systemd's safe_atou64() with base 0 does; whitespace before is skipped, a sign is refused.
 */
export function parseUnsigned(s: string, max: bigint = U64_MAX): bigint | null {
  const t = s.replace(/^[ \t\n\r]+/, '');
  if (t.startsWith('-')) return null;
  const m = /^\+?(?:0[xX]([0-9a-fA-F]+)|0[bB]([01]+)|0[oO]([0-7]+)|(0[0-7]*)|([1-9][0-9]*))$/.exec(t);
  if (!m) return null;
  let v: bigint;
  if (m[1] !== undefined) v = BigInt('0x' + m[1]);
  else if (m[2] !== undefined) v = BigInt('0b' + m[2]);
  else if (m[3] !== undefined) v = BigInt('0o' + m[3]);
  else if (m[4] !== undefined) v = m[4].length > 1 ? BigInt('0o' + m[4].slice(1)) : 0n;
  else v = BigInt(m[5]!);
  return v > max ? null : v;
}

/** safe_atoi32() (decimal with base detection, sign allowed) */
export function parseInt32(s: string): number | null {
  const t = s.replace(/^[ \t\n\r]+/, '');
  const neg = t.startsWith('-');
  const v = parseUnsigned(neg ? t.slice(1) : t.replace(/^\+/, ''), 1n << 31n);
  if (v === null) return null;
  const n = neg ? -v : v;
  if (n > 2147483647n || n < -2147483648n) return null;
  return Number(n);
}

export function roundUp(v: bigint, g: bigint): bigint {
  return ((v + g - 1n) / g) * g;
}

export function roundDown(v: bigint, g: bigint): bigint {
  return (v / g) * g;
}

/**
 * extract_first_word() with EXTRACT_UNQUOTE (+ CUNESCAPE when asked): whitespace separated
 * words, '…' and "…" quoting, backslash escapes. Returns null on unbalanced quotes.
 */
export function splitWords(s: string, unescape = false): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (true) {
    while (i < s.length && WS.includes(s[i]!)) i++;
    if (i >= s.length) return out;
    let word = '';
    let quote: string | null = null;
    for (; i < s.length; i++) {
      const c = s[i]!;
      if (quote) {
        if (c === quote) { quote = null; continue; }
        if (c === '\\' && i + 1 < s.length) {
          const r = unescape ? cEscape(s, i) : null;
          if (r) { word += r.text; i = r.end - 1; } else { word += s[++i]; }
          continue;
        }
        word += c;
      } else {
        if (WS.includes(c)) break;
        if (c === '"' || c === "'") { quote = c; continue; }
        if (c === '\\' && i + 1 < s.length) {
          const r = unescape ? cEscape(s, i) : null;
          if (r) { word += r.text; i = r.end - 1; } else { word += s[++i]; }
          continue;
        }
        word += c;
      }
    }
    if (quote) return null;
    out.push(word);
  }
}

/** One C escape at s[i] === '\\' (cunescape_one()); null if not a valid escape. */
export function cEscape(s: string, i: number): { text: string; end: number } | null {
  const c = s[i + 1];
  const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'", s: ' ' };
  if (c === undefined) return null;
  if (simple[c] !== undefined) return { text: simple[c]!, end: i + 2 };
  if (c === 'x') {
    const h = s.slice(i + 2, i + 4);
    if (!/^[0-9a-fA-F]{2}$/.test(h)) return null;
    const v = parseInt(h, 16);
    if (v === 0) return null;
    return { text: String.fromCharCode(v), end: i + 4 };
  }
  if (c === 'u' || c === 'U') {
    const n = c === 'u' ? 4 : 8;
    const h = s.slice(i + 2, i + 2 + n);
    if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) return null;
    const v = parseInt(h, 16);
    if (v === 0 || v > 0x10ffff) return null;
    return { text: String.fromCodePoint(v), end: i + 2 + n };
  }
  if (c >= '0' && c <= '7') {
    const o = s.slice(i + 1, i + 4);
    if (!/^[0-7]{3}$/.test(o)) return null;
    const v = parseInt(o, 8);
    if (v === 0 || v > 255) return null;
    return { text: String.fromCharCode(v), end: i + 4 };
  }
  return null;
}

/** Splits on ':' with C escapes decoded in each field (CopyFiles=, MakeSymlinks=). */
export function splitColonFields(s: string): string[] | null {
  return splitFields(s, false);
}

/**
 * extract_first_word() with ":" separators, EXTRACT_UNQUOTE and EXTRACT_CUNESCAPE, as repart
 * reads MountPoint= and EncryptedVolume=: single or double quotes group a field (so
 * `/:"subvol=@,zstd:1"` keeps its colon) and are removed; empty fields are kept. Null on a bad
 * escape or an unterminated quote.
 */
export function splitQuotedColonFields(s: string): string[] | null {
  return splitFields(s, true);
}

function splitFields(s: string, quotes: boolean): string[] | null {
  const out: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      const r = cEscape(s, i);
      if (!r) return null;
      cur += r.text;
      i = r.end - 1;
    } else if (quote !== null) {
      if (c === quote) quote = null;
      else cur += c;
    } else if (quotes && (c === '"' || c === "'")) {
      quote = c;
    } else if (c === ':') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (quote !== null) return null;
  out.push(cur);
  return out;
}

/**
 * path_simplify(): collapse '//' and '/./', drop a trailing '/', and — for an absolute path —
 * drop '..' right after the root ("/../../x" is "/x": nothing is above the root). A '..'
 * anywhere else stays, and path_is_normalized() then refuses the path (systemd 262, measured:
 * "/q/../r" is ignored with "path is not normalized", "/../../z" is "/z").
 */
export function simplifyPath(p: string): string {
  const abs = p.startsWith('/');
  const parts: string[] = [];
  for (const x of p.split('/')) {
    if (x === '' || x === '.') continue;
    if (x === '..' && abs && parts.length === 0) continue;
    parts.push(x);
  }
  return (abs ? '/' : '') + parts.join('/') || (abs ? '/' : '.');
}

/** Absolute, and normalized once simplified (no '..' left below the root). */
export function isAbsoluteNormalizable(p: string): boolean {
  return p.startsWith('/') && !simplifyPath(p).split('/').includes('..');
}

/** Why a path value is refused, in systemd's words, or null when it is accepted. */
export function pathValueProblem(p: string): string | null {
  if (!p.startsWith('/')) return 'is not absolute';
  if (simplifyPath(p).split('/').includes('..')) return 'is not normalized';
  return null;
}

/** EncryptedVolume=NAME[:KEYFILE[:OPTIONS[:EXTRA]]] (src/report/crypttab.ts writes it out). */
export interface EncryptedVolume {
  name: string;
  keyFile: string;
  options: string;
  fixateVolumeKey: boolean;
}

/** Null when the value cannot be parsed; `warn` hears about unknown extra options. */
export function parseEncryptedVolume(v: string, warn?: (m: string) => void): EncryptedVolume | null {
  const f = splitQuotedColonFields(v);
  if (!f || f.length > 4) return null;
  const extra = f[3] ?? '';
  if (extra !== '' && extra !== 'fixate-volume-key') warn?.(`Unknown extra option '${extra}', ignoring`);
  return { name: f[0] ?? '', keyFile: f[1] ?? '', options: f[2] ?? '', fixateVolumeKey: extra === 'fixate-volume-key' };
}
