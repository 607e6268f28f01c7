/**
 * context_dump_partitions() --json output: same keys, order, types and formatting as
 * systemd's JSON printer (pretty: tabs and "key" : value; short: compact).
 */
import { asCompat, type Compat } from '../compat.js';
import { rowSizes, type Glyphs } from './table.js';
export type JsonValue = string | number | bigint | boolean | null | JsonValue[] | { [k: string]: JsonValue };

function str(s: string): string {
  return JSON.stringify(s);
}

export function formatJson(v: JsonValue, mode: 'pretty' | 'short', indent = 0): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return str(v);
  if (typeof v === 'bigint' || typeof v === 'number') return v.toString();
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  const pad = '\t'.repeat(indent + 1);
  const end = '\t'.repeat(indent);
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    if (mode === 'short') return '[' + v.map((x) => formatJson(x, mode)).join(',') + ']';
    return '[\n' + v.map((x) => pad + formatJson(x, mode, indent + 1)).join(',\n') + '\n' + end + ']';
  }
  const keys = Object.keys(v);
  if (keys.length === 0) return '{}';
  if (mode === 'short') return '{' + keys.map((k) => str(k) + ':' + formatJson(v[k]!, mode)).join(',') + '}';
  return '{\n' + keys.map((k) => pad + str(k) + ' : ' + formatJson(v[k]!, mode, indent + 1)).join(',\n') + '\n' + end + '}';
}

export interface PartitionRow {
  type: string;
  label: string;
  uuid: string;
  partno: number;
  file: string | null;
  node: string;
  offset: bigint;
  oldSize: bigint;
  rawSize: bigint;
  oldPadding: bigint;
  rawPadding: bigint;
  activity: 'create' | 'resize' | 'unchanged';
  roothash?: string | null;
  /** the table printed before writing shows this (262/257: "TBD" unless Minimize= hashed the pair
   * while planning); the JSON and the table printed after writing show `roothash` */
  roothashEarly?: string | null;
  dropIns?: string[] | null;
  splitPath?: string;
}

/**
 * `compat`: 257 prints an empty array for partitions without drop-ins, 262 prints null.
 * `debugSizes`: under SYSTEMD_LOG_LEVEL=debug repart also shows the table's "size" and "padding"
 * columns (e.g. "-> 32M", "14M -> 0B"), in those glyphs.
 */
export function partitionsJson(rows: PartitionRow[], compat: Compat | number, debugSizes?: Glyphs): JsonValue {
  const anyVerity = rows.some((r) => r.roothash !== undefined);
  const anyDropIns = rows.some((r) => r.dropIns && r.dropIns.length > 0);
  const anySplit = rows.some((r) => r.splitPath !== undefined);
  return rows.map((r) => {
    const o: Record<string, JsonValue> = {
      type: r.type,
      label: r.label === '' ? '-' : r.label,
      uuid: r.uuid,
      partno: r.partno,
      file: r.file,
      node: r.node,
      offset: r.offset,
      old_size: r.oldSize,
      raw_size: r.rawSize,
      ...(debugSizes ? { size: rowSizes(r, debugSizes).size } : {}),
      old_padding: r.oldPadding,
      raw_padding: r.rawPadding,
      ...(debugSizes ? { padding: rowSizes(r, debugSizes).padding } : {}),
      activity: r.activity,
    };
    if (anyVerity) o.roothash = r.roothash ?? null;
    if (anyDropIns) o['drop-in_files'] = r.dropIns && r.dropIns.length > 0 ? r.dropIns : asCompat(compat).jsonNullDropIns ? null : [];
    if (anySplit) o.split_path = r.splitPath ?? '-';
    return o;
  });
}

/** libfdisk partition naming: a device name ending in a digit gets a 'p' before the number. */
export function partitionNode(device: string, partno: number): string {
  return (/[0-9]$/.test(device) ? device + 'p' : device) + String(partno + 1);
}
