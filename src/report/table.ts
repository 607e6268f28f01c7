/** The human summary repart prints on a terminal (a table of the new partitions). */
import type { Plan } from '../plan/plan.js';
import { fmtBytes } from '../plan/allocate.js';
import type { PartitionRow } from './json.js';

export function renderTable(rows: PartitionRow[], plan: Plan, legend: boolean): string {
  const head = ['TYPE', 'LABEL', 'UUID', 'PARTNO', 'FILE', 'NODE', 'OFFSET', 'SIZE', 'PADDING', 'ACTIVITY'];
  const body = rows.map((r) => [r.type, r.label || '-', r.uuid, String(r.partno), r.file ?? '-', r.node, String(r.offset),
    fmtBytes(r.rawSize), fmtBytes(r.rawPadding), r.activity]);
  const all = legend ? [head, ...body] : body;
  const widths = head.map((_, c) => Math.max(...all.map((row) => row[c]!.length)));
  const lines = all.map((row) => row.map((cell, c) => cell.padEnd(widths[c]!)).join(' ').trimEnd());
  if (legend) lines.push(`image: ${fmtBytes(plan.imageSize)} (${plan.imageSize} bytes), ${rows.length} partition(s)`);
  return lines.join('\n') + '\n';
}
