/**
 * Stages "signing keys" and "join signature": Verity=signature partitions are signed with --private-key=/--certificate=
 * once the root hash is known, or get a signature made elsewhere (--join-signature=, 258+). Keys
 * are loaded and the joined signature checked before anything is written.
 * Writes: signer, joinCertificate; for a joined signature over an existing pair, its root hash.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { veritySibling } from '../config/load.js';
import { RepartError } from '../errors.js';
import { uuidHex } from '../gpt/guid.js';
import type { VeritySigner } from '../verity/signature.js';
import { isWritten, type BuildContext, type Stage } from './context.js';
import type { BuildRequest } from './request.js';
import { applyRootHash } from './root-hash.js';
import { readCliInputs, type CliInputs } from '../io/cli-inputs.js';

/** Online signing: the key pair, when a signature partition is written and no joined signature replaces it. */
export const signingKeysStage: Stage = {
  name: 'signing keys',
  when: (ctx) => !ctx.request.dryRun && (ctx.request.privateKey !== undefined || ctx.request.joinSignature === undefined),
  run(ctx: BuildContext) {
    const firstSigned = ctx.partitions.find((s) => s.def.verity === 'signature' && isWritten(s));
    ctx.signer = firstSigned ? loadSigner(ctx.request, firstSigned.def.file, ctx.inputs ?? readCliInputs(ctx.request)) : undefined;
  },
};

/** --join-signature=: the certificate checks it, and it must belong to a pair of this image. */
export const joinSignatureStage: Stage = {
  name: 'join signature',
  when: (ctx) => ctx.request.joinSignature !== undefined,
  async run(ctx: BuildContext) {
    const o = ctx.request;
    if (!o.joinSignature) return;
    const { verifyPkcs7Detached } = await import('../verity/signature.js');
    ctx.joinCertificate = o.certificate ? loadCertificate(o.certificate, (ctx.inputs ?? readCliInputs(o)).certificate!) : undefined;
    if (ctx.joinCertificate && !verifyPkcs7Detached(o.joinSignature.signature, Buffer.from(o.joinSignature.rootHash, 'ascii'), ctx.joinCertificate))
      throw new RepartError('E_VERITY', `--join-signature=: the signature does not verify for root hash ${o.joinSignature.rootHash} with the certificate`, { file: o.certificate });
    // the pair it belongs to: one hashed in this run, or an existing one named by the hash's halves
    const rh = o.joinSignature.rootHash;
    let found = false;
    for (const h of ctx.partitions) {
      if (h.def.verity !== 'hash') continue;
      const d = ctx.partitions[ctx.definitions.indexOf(veritySibling(ctx.definitions, h.def, 'data')!)]!;
      const hp = h.placed!, dp = d.placed!;
      if (hp.existing && uuidHex(hp.uuid) === rh.slice(32) && uuidHex(dp.uuid) === rh.slice(0, 32)) {
        found = true;
        applyRootHash(ctx, h, d, Uint8Array.from(Buffer.from(rh, 'hex')));
      } else if (!hp.existing) found = true; // checked against the computed hash when signing
    }
    if (!found) throw new RepartError('E_VERITY', `--join-signature=: no Verity=hash partition has root hash ${rh}`, {});
  },
};

function loadSigner(o: BuildRequest, definitionFile: string, inputs: CliInputs): VeritySigner {
  if (!o.privateKey) throw new RepartError('E_USAGE', 'Verity signature partition signing requested but no private key provided (--private-key=).', { file: definitionFile });
  if (!o.certificate) throw new RepartError('E_USAGE', 'Verity signature partition signing requested but no PEM certificate provided (--certificate=).', { file: definitionFile });
  let key: KeyObject;
  try { key = createPrivateKey(inputs.privateKey!); } catch (e) { throw new RepartError('E_SOURCE', `cannot load the private key: ${(e as Error).message}`, { file: o.privateKey }); }
  const certificate = loadCertificate(o.certificate, inputs.certificate!);
  if (!certificate.checkPrivateKey(key)) throw new RepartError('E_SOURCE', 'the private key does not belong to the certificate', { file: o.privateKey });
  return { key, certificate };
}

function loadCertificate(file: string, pem: Buffer): X509Certificate {
  try { return new X509Certificate(pem); } catch (e) { throw new RepartError('E_SOURCE', `cannot load the certificate: ${(e as Error).message}`, { file }); }
}
