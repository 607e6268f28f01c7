/**
 * A root hash names its verity pair: data UUID = its first 16 bytes, hash UUID = the last 16
 * (unless UUID= says otherwise, or the data partition exists); a Verity=signature sibling shows
 * and signs the same hash. The plan is replaced with the renamed entries.
 */
import type { Uuid } from '../gpt/guid.js';
import { verityPartitionUuids } from '../verity/index.js';
import { setPlan, type BuildContext, type PartitionState } from './context.js';

export function applyRootHash(ctx: BuildContext, hash: PartitionState, data: PartitionState, rootHash: Uint8Array): void {
  const hex = Buffer.from(rootHash).toString('hex');
  hash.rootHash = hex;
  data.rootHash = hex;
  for (const s of ctx.partitions) if (s.def.verity === 'signature' && s.def.verityMatchKey === hash.def.verityMatchKey) s.rootHash = hex;
  const u = verityPartitionUuids(rootHash);
  const renamed = new Map<number, Uuid>();
  if (!data.def.uuid && !data.placed!.existing) renamed.set(data.index, u.data);
  if (!hash.def.uuid) renamed.set(hash.index, u.hash);
  const plan = ctx.plan!;
  setPlan(ctx, { ...plan, partitions: plan.partitions.map((p, i) => (renamed.has(i) ? { ...p, uuid: renamed.get(i)! } : p)) });
}
