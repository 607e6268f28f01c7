/**
 * --generate-crypttab=PATH (256+): one line per encrypted partition with
 * EncryptedVolume=NAME[:KEYFILE[:OPTIONS]] — the volume name, the LUKS UUID, the key file ("-" for
 * none) and the options — under the header 257 uses for fstab (262 too: crypttab has no sections).
 */
import type { PlannedPartition } from '../plan/plan.js';
import { GENERATED_HEADER } from './fstab.js';

export function crypttabText(partitions: PlannedPartition[], luksUuidOf: (p: PlannedPartition) => string): string {
  const lines: string[] = [];
  for (const p of partitions) {
    const v = p.def.encryptedVolume;
    if (p.dropped || p.def.encrypt === 'off' || v === undefined) continue;
    const [name = '', keyFile = '', options = ''] = v.split(':');
    lines.push(`${name} UUID=${luksUuidOf(p)} ${keyFile || '-'} ${options}`);
  }
  return GENERATED_HEADER + lines.map((l) => `${l}\n`).join('');
}
