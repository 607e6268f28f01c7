/**
 * The human summary on a terminal, like repart's: a table of the partitions and a bar of the
 * disk drawn with block characters, one colour/letter per partition.
 */
import type { Plan } from '../plan/plan.js';
import { fmtBytes } from '../plan/allocate.js';
import type { PartitionRow } from './json.js';
import { layoutSegments } from './layout-svg.js';

export function renderTable(rows: PartitionRow[], plan: Plan, legend: boolean, width = 80, color = false): string {
  const head = ['TYPE', 'LABEL', 'UUID', 'FILE', 'NODE', 'OFFSET', 'SIZE', 'PADDING', 'ACTIVITY'];
  const body = rows.map((r) => [r.type, r.label || '-', r.uuid, r.file ?? '-', r.node, String(r.offset),
    fmtBytes(r.rawSize), fmtBytes(r.rawPadding), r.activity]);
  const all = legend ? [head, ...body] : body;
  const widths = head.map((_, c) => Math.max(...all.map((row) => row[c]!.length)));
  const lines = all.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join(' ').trimEnd());
  if (legend) lines.push(`${' '.repeat(widths[0]! + widths[1]! + widths[2]! + widths[3]! + widths[4]! + 5)}Σ = ${fmtBytes(plan.imageSize)}`);
  lines.push('', renderBar(plan, width, color));
  return lines.join('\n') + '\n';
}

/** One line: '#'-style blocks per partition ('░' padding/free), sized by share of the disk. */
export function renderBar(plan: Plan, width: number, color: boolean): string {
  const segs = layoutSegments(plan).filter((s) => s.kind !== 'meta');
  const total = segs.reduce((a, s) => a + Number(s.size), 0);
  const COLORS = [34, 33, 31, 36, 32, 35, 94, 93, 91, 96];
  let out = '';
  let used = 0;
  let pi = 0;
  segs.forEach((s, i) => {
    const n = i === segs.length - 1 ? Math.max(0, width - used) : Math.max(s.size > 0n ? 1 : 0, Math.round((Number(s.size) / total) * width));
    used += n;
    if (s.kind === 'part') {
      const ch = color ? `\x1b[${COLORS[pi % COLORS.length]}m${'█'.repeat(n)}\x1b[0m` : String.fromCharCode(65 + (pi % 26)).repeat(n);
      out += ch;
      pi++;
    } else out += '░'.repeat(n);
  });
  return out;
}
