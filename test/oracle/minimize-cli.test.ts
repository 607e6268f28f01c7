/**
 * Oracle tier: Minimize=guess through the command line is no larger than the real
 * systemd-repart 257's for the same definitions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { referenceSkipReason, runOurs, runReference } from '../helpers/reference.js';
import { minimizeScratch as scratch, SEED } from '../helpers/minimize-scratch.js';

for (const format of ['ext4', 'vfat'] as const) {
  test(`Minimize=guess Format=${format}: no larger than systemd-repart 257's guess`, { skip: referenceSkipReason('trixie') ?? false }, () => {
    const { dir } = scratch(format, 'guess');
    try {
      const args = ['--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short'];
      const env = { SOURCE_DATE_EPOCH: '1700000000' };
      const r = runOurs(['--compat=257', '--quiet', ...args, 'ours.raw'], dir, env);
      assert.equal(r.status, 0, r.stderr);
      const ref = runReference('trixie', ['--offline=yes', ...args, 'ref.raw'], dir, { ...env, REFERENCE_BIND: dir });
      assert.equal(ref.status, 0, ref.stderr);
      const ours = JSON.parse(r.stdout)[0] as { raw_size: number };
      const theirs = JSON.parse(ref.stdout)[0] as { raw_size: number };
      assert.ok(ours.raw_size <= theirs.raw_size, `ours ${ours.raw_size} > systemd-repart's ${theirs.raw_size}`);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
}
