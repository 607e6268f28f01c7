/**
 * The human summary repart prints when --json is off (context_dump_partitions() and
 * context_dump_partition_bar()): a table of the partitions with a sum row, then a bar of the disk
 * and one legend line per partition. Shape measured against systemd-repart 262 (and 257's
 * left-aligned variant with a PARTNO column): the table is as wide as its cells when stdout is not
 * a terminal; the bar is `columns - 2` cells wide. SYSTEMD_UTF8=0 switches to systemd's ASCII
 * glyphs, as the test suite of systemd runs it.
 */
import { fmtBytes } from '../plan/allocate.js';
import type { PartitionRow } from './json.js';

export interface Glyphs {
  arrow: string;
  sigma: string;
  dark: string;
  light: string;
  vertical: string;
  branch: string;
  right: string;
}

const UTF8: Glyphs = { arrow: '→', sigma: 'Σ', dark: '▒', light: '░', vertical: '│ ', branch: '├─', right: '└─' };
const ASCII: Glyphs = { arrow: '->', sigma: 'S', dark: 'X', light: '-', vertical: '| ', branch: '|-', right: '`-' };

/** systemd's special_glyph() choice: SYSTEMD_UTF8=0 (or a non-UTF-8 locale) means ASCII. */
export function glyphsFor(env: NodeJS.ProcessEnv): Glyphs {
  const v = env.SYSTEMD_UTF8;
  if (v !== undefined && /^(0|no|n|false|f|off)$/i.test(v)) return ASCII;
  return UTF8;
}

/** format_size_change(): "10M", "→ 32M" (new), "10M → 24.9M" (changed). */
export function sizeChange(from: bigint | undefined, to: bigint, g: Glyphs): string {
  if (from === undefined) return `${g.arrow} ${fmtBytes(to)}`;
  if (from === to) return fmtBytes(from);
  return `${fmtBytes(from)} ${g.arrow} ${fmtBytes(to)}`;
}

/** The "size" and "padding" columns (also in --json under SYSTEMD_LOG_LEVEL=debug, 262). */
export function rowSizes(r: PartitionRow, g: Glyphs): { size: string; padding: string } {
  const isNew = r.activity === 'create';
  return {
    size: sizeChange(isNew ? undefined : r.oldSize, r.rawSize, g),
    padding: sizeChange(isNew ? undefined : r.oldPadding, r.rawPadding, g),
  };
}

/** Columns are padded to their widest cell, `right` ones right-aligned; the last column is not
 * padded (format-table): an empty last cell leaves the separator, as on the sum row under ROOTHASH. */
function layoutColumns(rows: string[][], right: boolean[]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => [...row[c]!].length)));
  const last = widths.length - 1;
  return rows.map((row) => row.map((cell, c) => {
    const pad = ' '.repeat(widths[c]! - [...cell].length);
    if (c === last) return right[c] ? pad + cell : cell;
    return right[c] ? pad + cell : cell + pad;
  }).join(' '));
}

export interface TableOptions {
  legend: boolean;
  compat: number;
  /** terminal width (columns()): 80 unless COLUMNS= or a terminal says otherwise */
  width: number;
  color: boolean;
  glyphs: Glyphs;
  /** the disk bar after the table (default); not on the table printed again after writing */
  bar?: boolean;
}

export function renderTable(rows: PartitionRow[], imageSize: bigint, opt: TableOptions): string {
  const g = opt.glyphs;
  const out: string[] = [];
  if (rows.length > 0) {
    const new262 = opt.compat >= 262;
    const anyRoothash = rows.some((r) => r.roothash !== undefined);
    const head = ['TYPE', 'LABEL', 'UUID', new262 ? 'PART' : 'PARTNO', 'FILE', 'RAW SIZE', 'SIZE', 'PADDING', ...(anyRoothash ? ['ROOTHASH'] : [])];
    const right = [false, false, false, new262, false, new262, true, new262, false];
    let sumSize = 0n, sumPadding = 0n;
    const body = rows.map((r) => {
      const s = rowSizes(r, g);
      sumSize += r.rawSize;
      sumPadding += r.rawPadding;
      return [r.type, r.label || '-', r.uuid, String(r.partno), r.file ? r.file.slice(r.file.lastIndexOf('/') + 1) : '',
        String(r.rawSize), s.size, s.padding, ...(anyRoothash ? [r.roothash ?? '-'] : [])];
    });
    const sum = ['', '', '', '', '', '', `${g.sigma} = ${fmtBytes(sumSize)}`, `${g.sigma} = ${fmtBytes(sumPadding)}`, ...(anyRoothash ? [''] : [])];
    const table = opt.legend ? [head, ...body, sum] : body;
    out.push(...layoutColumns(table, right));
  }
  if (opt.bar !== false) out.push('', ...renderBar(rows, imageSize, opt), '');
  return out.join('\n') + '\n';
}

/** The disk as `width - 2` cells, then the tree of legend lines pointing at each partition's start. */
export function renderBar(rows: PartitionRow[], imageSize: bigint, opt: TableOptions): string[] {
  const g = opt.glyphs;
  const c = Math.max(opt.width, 2) - 2;
  const total = imageSize > 0n ? imageSize : 1n;
  const bar: (number | undefined)[] = new Array(c).fill(undefined);
  const starts = rows.map((r, k) => {
    const x = Number(r.offset * BigInt(c) / total);
    const y = Number((r.offset + r.rawSize) * BigInt(c) / total);
    for (let i = x; i < y && i < c; i++) bar[i] = k;
    return x;
  });
  let line = ' ';
  let last: number | undefined;
  let z = false;
  for (let i = 0; i < c; i++) {
    const k = bar[i];
    if (k !== undefined) {
      if (k !== last) z = !z;
      line += opt.color ? `${z ? '\x1b[0;32m' : '\x1b[0;33m'}${g.dark}` : g.dark;
    } else line += opt.color ? `\x1b[0m${g.light}` : g.light;
    last = k;
  }
  if (opt.color) line += '\x1b[0m';
  const lines = [line];
  const n = rows.length;
  for (let i = 0; i < n; i++) {
    const cells: (string | undefined)[] = new Array(c).fill(undefined);
    rows.forEach((r, k) => {
      const j = k + 1;
      const at = starts[k]!;
      let d: string | undefined;
      if (i < n - j) {
        const prev = cells[at];
        if (prev !== undefined && prev.startsWith(g.right)) d = g.branch + prev.slice(g.right.length);
        else d = g.vertical;
      } else if (i === n - j) {
        d = `${cells[at] === g.vertical ? g.branch : g.right} ${hint(r)}`;
      }
      if (d !== undefined) cells[at] = d;
    });
    let s = ' ';
    for (let j = 0; j < c;) {
      const cell = cells[j];
      if (cell !== undefined) { s += cell; j += [...cell].length; } else { s += ' '; j++; }
    }
    lines.push(s);
  }
  return lines;
}

/** partition_hint(): the definition file's name, else the label, else the partition's node. */
function hint(r: PartitionRow): string {
  if (r.file) return r.file.slice(r.file.lastIndexOf('/') + 1);
  if (r.label) return r.label;
  return r.node.slice(r.node.lastIndexOf('/') + 1);
}
