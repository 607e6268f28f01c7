/**
 * Stage "encrypt": Encrypt=key-file partitions become LUKS2 containers, encrypted in place.
 * Writes: the encrypted partitions' bytes in the image.
 */
import { formatUuid } from '../gpt/guid.js';
import { deriveUuid } from '../plan/ids.js';
import { fsSectorOf, isWritten, type BuildContext, type Stage } from './context.js';

export const encryptStage: Stage = {
  name: 'encrypt',
  when: (ctx) => !ctx.request.dryRun && ctx.changed,
  async run(ctx: BuildContext) {
    const targets = ctx.partitions.filter((s) => s.def.encrypt === 'key-file' && isWritten(s));
    if (targets.length === 0) return;
    // loaded only here: most runs encrypt nothing
    const { encryptPartitionInPlace, luksLabel } = await import('../luks/index.js');
    // read (bounded, type-checked) by the first stage
    const keyFile: Uint8Array = ctx.inputs?.keyFile ?? new Uint8Array(0);
    for (const s of targets) {
      const p = s.placed!;
      const sectorSize = fsSectorOf(ctx, s.def);
      const key = await encryptPartitionInPlace(ctx.image!.path, p.offset, p.size, {
        keyFile,
        uuid: formatUuid(deriveUuid(p.uuid, 'luks-uuid')),
        label: luksLabel(ctx.compat, p.label, s.def.volumeLabel),
        sectorSize: sectorSize >= 4096 ? 4096 : 512,
        allowDiscards: ctx.compat.luksAllowDiscards && s.def.discard !== false,
        pbkdf: s.def.encryptKdfMinimal ? { hash: 'sha512', iterations: 1000 } : undefined,
      }, ctx.random);
      (ctx.volumeKeys ??= new Map()).set(p, key);
    }
  },
};
