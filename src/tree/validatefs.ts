/**
 * The `user.validatefs.*` extended attributes systemd-repart ≥ 258 puts on a file system's root
 * directory (formatting.md §5.6): each value a list of strings, every one NUL-terminated.
 */
import { asCompat, type Compat } from '../compat.js';
import type { PartitionDefinition } from '../config/definition.js';
import { formatUuid } from '../gpt/guid.js';
import { mountPointsOf, type PartitionType } from '../gpt/types.js';

export interface Xattr {
  name: string;
  value: Uint8Array;
}

function nulstr(list: string[]): Uint8Array {
  return Buffer.from(list.map((s) => s + '\0').join(''), 'utf8');
}

const strcmp = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** AddValidateFS= defaults to on for every Format= except swap and vfat (v258+). */
export function wantsValidateFs(d: PartitionDefinition, compat: Compat | number): boolean {
  if (!asCompat(compat).validatefs || d.format === undefined) return false;
  return d.addValidateFS ?? !['swap', 'vfat'].includes(d.format);
}

/** @param siblings verity siblings of the partition (label and type each) */
export function validateFsXattrs(d: PartitionDefinition, label: string, type: PartitionType, siblings: { label: string; type: PartitionType }[] = []): Xattr[] {
  const out: Xattr[] = [];
  const labels = [...new Set([label, ...siblings.map((s) => s.label)])].sort(strcmp);
  if (labels.length > 0) out.push({ name: 'user.validatefs.gpt_label', value: nulstr(labels) });
  const types = [...new Set([type, ...siblings.map((s) => s.type)].map((t) => formatUuid(t.uuid)))].sort(strcmp);
  out.push({ name: 'user.validatefs.gpt_type_uuid', value: nulstr(types) });
  const mps = d.mountPoints.length > 0 ? d.mountPoints : mountPointsOf(type);
  if (mps.length > 0) out.push({ name: 'user.validatefs.mount_point', value: nulstr(mps) });
  return out;
}
