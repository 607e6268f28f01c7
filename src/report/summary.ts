/**
 * What repart prints on stdout at the end: the JSON array (--json=), else the table and bar
 * (262 and 257 print them by default, on a terminal or not; --pretty=no turns them off).
 */
import type { CliOptions } from '../config/cli.js';
import { formatJson, partitionsJson, type PartitionRow } from './json.js';
import { glyphsFor, renderTable } from './table.js';

export interface SummaryIo {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
}

/** SYSTEMD_LOG_LEVEL=debug (or 7): repart adds the "size"/"padding" columns to --json. */
export function debugLogging(env: NodeJS.ProcessEnv): boolean {
  const v = env.SYSTEMD_LOG_LEVEL?.trim().toLowerCase();
  return v === 'debug' || v === '7';
}

export function emitJson(o: CliOptions, io: SummaryIo, rows: PartitionRow[]): void {
  if (o.json === 'off') return;
  const sizes = debugLogging(io.env) ? glyphsFor(io.env) : undefined;
  io.stdout(formatJson(partitionsJson(rows, o.compat, sizes), o.json) + '\n');
}

/** columns(): $COLUMNS if valid, else the terminal's width, else 80. */
function columns(io: SummaryIo): number {
  const c = Number(io.env.COLUMNS);
  if (Number.isInteger(c) && c > 0) return c;
  if (io.isTTY && process.stdout.columns) return process.stdout.columns;
  return 80;
}

/** The table (unless --pretty=no); "Empty partition table." on stderr when there is none. */
export function emitSummary(o: CliOptions, io: SummaryIo, rows: PartitionRow[], imageSize: bigint, warn: (m: string) => void): void {
  if (o.json !== 'off') { emitJson(o, io, rows); return; }
  if (o.pretty === false) return;
  if (rows.length === 0) warn('Empty partition table.');
  const opt = { legend: !o.noLegend, compat: o.compat, width: columns(io), color: io.isTTY && io.env.NO_COLOR === undefined, glyphs: glyphsFor(io.env) };
  io.stdout(renderTable(rows.map((r) => (r.roothashEarly === undefined ? r : { ...r, roothash: r.roothashEarly })), imageSize, opt));
  // repart dumps the table again once written when it has root hashes to tell (without the bar)
  if (rows.some((r) => r.roothash && r.roothash !== 'TBD')) io.stdout(renderTable(rows, imageSize, { ...opt, bar: false }));
}
