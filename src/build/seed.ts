/**
 * Stage "seed": the 128-bit seed every UUID derives from (--seed=, the machine ID, or random).
 * Writes: seed.
 */
import { parseUuid, type Uuid } from '../gpt/guid.js';
import { MACHINE_ID_MAX, readSmallFile, ReadSmallError } from '../io/read-small.js';
import { hostPathIn } from '../tree/chase.js';
import { makeV4 } from '../plan/ids.js';
import type { BuildContext, Stage } from './context.js';

function machineIdSeed(root: string | undefined, warn: (m: string) => void): Uuid | null {
  // with --root, only that tree's machine ID counts, its links resolved inside the tree;
  // bounded and type-checked (a machine-id linked to /dev/zero or a FIFO)
  const f = hostPathIn(root, '/etc/machine-id');
  try {
    const u = parseUuid(readSmallFile(f, { what: 'machine ID file', max: MACHINE_ID_MAX }).toString('utf8').trim());
    if (u && u.some((b) => b !== 0)) return u;
  } catch (e) {
    if (e instanceof ReadSmallError && e.errno !== 'ENOENT') warn(e.message);
  }
  return null;
}

export const seedStage: Stage = {
  name: 'seed',
  run(ctx: BuildContext) {
    const o = ctx.request;
    const random = () => makeV4(ctx.random(16));
    if (o.seed === 'random') ctx.seed = random();
    else if (o.seed === 'machine-id') {
      const m = machineIdSeed(o.root, ctx.warn);
      if (!m) ctx.warn('No machine ID set, using randomized partition UUIDs.');
      ctx.seed = m ?? random();
    } else ctx.seed = o.seed;
  },
};
