/**
 * Stage "seed": the 128-bit seed every UUID derives from (--seed=, the machine ID, or random).
 * Writes: seed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseUuid, type Uuid } from '../gpt/guid.js';
import { makeV4 } from '../plan/ids.js';
import type { BuildContext, Stage } from './context.js';

function machineIdSeed(root: string | undefined): Uuid | null {
  for (const f of [root ? path.join(root, 'etc/machine-id') : null, '/etc/machine-id']) {
    if (!f) continue;
    try {
      const u = parseUuid(readFileSync(f, 'utf8').trim());
      if (u && u.some((b) => b !== 0)) return u;
    } catch { /* next */ }
    if (root) break; // with --root, only that tree's machine ID counts
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
      const m = machineIdSeed(o.root);
      if (!m) ctx.warn('No machine ID set, using randomized partition UUIDs.');
      ctx.seed = m ?? random();
    } else ctx.seed = o.seed;
  },
};
