/**
 * --generate-crypttab=PATH (256+): one line per encrypted partition with
 * EncryptedVolume=NAME[:KEYFILE[:OPTIONS[:EXTRA]]] (fields may be quoted, as 262 parses them):
 * the volume name (empty: "luks-<LUKS UUID>"), the LUKS UUID, the key file ("-" for none) and
 * the options, under the header 257 uses for fstab (262 too: crypttab has no sections).
 * EXTRA "fixate-volume-key" (260+) appends fixate-volume-key=<id>, the id systemd-cryptsetup
 * checks before activation: HMAC-SHA256 keyed with the volume key over
 * "cryptsetup:<name, ':' escaped>:<LUKS UUID>" (measured against 262 and its volume key).
 */
import { createHmac } from 'node:crypto';
import type { PlannedPartition } from '../plan/plan.js';
import { parseEncryptedVolume } from '../config/values.js';
import { GENERATED_HEADER } from './fstab.js';

// parsed where definitions are read (config/values.ts), without loading this module
export { parseEncryptedVolume, type EncryptedVolume } from '../config/values.js';

/** xescape(s, ":"): the bad characters, backslashes and unprintable bytes as \xHH. */
function xescape(s: string, bad: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += b < 0x20 || b >= 0x7f || c === '\\' || bad.includes(c) ? `\\x${b.toString(16).padStart(2, '0')}` : c;
  }
  return out;
}

/** cryptsetup_get_volume_key_id(): what fixate-volume-key= must equal. */
export function volumeKeyId(volumeKey: Uint8Array, name: string, luksUuid: string): string {
  return createHmac('sha256', volumeKey).update(`cryptsetup:${xescape(name, ':')}:${luksUuid}`).digest('hex');
}

/**
 * `volumeKeyOf` gives the volume key a partition was encrypted with (undefined before encryption:
 * the fixate-volume-key= option is then left out, as in 262's early pass before populating).
 */
export function crypttabText(partitions: PlannedPartition[], luksUuidOf: (p: PlannedPartition) => string,
  volumeKeyOf: (p: PlannedPartition) => Uint8Array | undefined = () => undefined): string {
  const lines: string[] = [];
  for (const p of partitions) {
    if (p.dropped || p.def.encrypt === 'off' || p.def.encryptedVolume === undefined) continue;
    const v = parseEncryptedVolume(p.def.encryptedVolume);
    if (!v) continue;
    const uuid = luksUuidOf(p);
    const name = v.name || `luks-${uuid}`;
    const options = [v.options];
    const key = v.fixateVolumeKey ? volumeKeyOf(p) : undefined;
    if (key) options.push(`fixate-volume-key=${volumeKeyId(key, name, uuid)}`);
    lines.push(`${name} UUID=${uuid} ${v.keyFile || '-'} ${options.filter((x) => x !== '').join(',')}`);
  }
  return GENERATED_HEADER + lines.map((l) => `${l}\n`).join('');
}

/** Whether any partition would get a line ("not generating" an empty file otherwise, 262). */
export function anyCrypttabLine(partitions: PlannedPartition[]): boolean {
  return partitions.some((p) => !p.dropped && p.def.encrypt !== 'off' && p.def.encryptedVolume !== undefined);
}
