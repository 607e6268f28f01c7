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
  const mps = d.mountPoints.length > 0 ? d.mountPoints : mountPointsOf(type);
  // In the order the tools see them natively: repart sets label, type, mount point on its
  // staging directory, and ext4 (the usual /var/tmp) lists them label, mount point, type: the
  // type's entry (80 bytes) never fits in the inode after the label's and goes to the xattr
  // block, which is sorted by name length. mksquashfs stores xattrs in listed order (measured
  // against sid's systemd-repart 262: the squashfs xattr table); mke2fs and mkfs.btrfs sort.
  if (mps.length > 0) out.push({ name: 'user.validatefs.mount_point', value: nulstr(mps) });
  out.push({ name: 'user.validatefs.gpt_type_uuid', value: nulstr(types) });
  return out;
}

/**
 * The verity siblings of definition `i` (the same VerityMatchKey=, Verity=data/hash/signature),
 * with their labels: 262 lists their labels and types beside the partition's own in
 * user.validatefs.gpt_label/gpt_type_uuid (measured: an erofs Verity=data store carries
 * "store\0store-verity\0" and both type UUIDs).
 */
export function veritySiblings(defs: PartitionDefinition[], labels: string[], i: number): { label: string; type: PartitionType }[] {
  const d = defs[i]!;
  if (d.verity === 'off' || d.verityMatchKey === undefined) return [];
  return defs.flatMap((s, k) => k !== i && s.verity !== 'off' && s.verityMatchKey === d.verityMatchKey ? [{ label: labels[k]!, type: s.type }] : []);
}
