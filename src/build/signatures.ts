/**
 * Stage "signatures": Verity=signature partitions get the JSON signature of their pair's root
 * hash (signed with the key, or the --join-signature= one).
 * Writes: the signature partitions' bytes in the image.
 */
import { RepartError } from '../errors.js';
import { ImageFile } from '../image/file.js';
import { isWritten, type BuildContext, type Stage } from './context.js';

export const signaturesStage: Stage = {
  name: 'signatures',
  when: (ctx) => !ctx.request.dryRun && ctx.changed && (ctx.signer !== undefined || ctx.request.joinSignature !== undefined),
  async run(ctx: BuildContext) {
    const { joinedSignatureJson, veritySignatureJson } = await import('../verity/signature.js');
    const { signer } = ctx;
    const join = ctx.request.joinSignature;
    const img = ImageFile.open(ctx.image!.path, 'r+');
    try {
      for (const s of ctx.partitions) {
        if (s.def.verity !== 'signature' || !isWritten(s)) continue;
        const p = s.placed!;
        const hex = s.rootHash;
        if (hex === undefined)
          throw new RepartError('E_VERITY', `cannot sign: the root hash of VerityMatchKey=${p.def.verityMatchKey} is not known (its hash partition already exists)`, { file: p.def.file });
        if (!signer && hex !== join!.rootHash)
          throw new RepartError('E_VERITY', `--join-signature= is for root hash ${join!.rootHash}, but VerityMatchKey=${p.def.verityMatchKey} has ${hex}`, { file: p.def.file });
        const text = Buffer.from(signer ? veritySignatureJson(hex, signer) : joinedSignatureJson(hex, join!.signature, ctx.joinCertificate), 'utf8');
        if (text.length > Number(p.size))
          throw new RepartError('E_NO_SPACE', `Verity signature too long for partition: ${text.length} bytes, the partition has ${p.size}`, { file: p.def.file });
        const block = Buffer.alloc(Number(p.size));
        text.copy(block);
        img.writeAt(p.offset, block);
      }
    } finally {
      img.close();
    }
  },
};
