/**
 * The test tiers, run in order: `fast` (unit and in-process pipeline tests: no root, no oracle,
 * no QEMU; minutes are not allowed here), `integration` (whole builds and drivers end to end,
 * judged by the Debian tools; no root, no oracle: test/integration/), `oracle` (comparisons with
 * the real systemd-repart, test/oracle/), `boot` (QEMU, test/boot/).
 * `node dist/tools/run-tests.js [fast|integration|oracle|boot|all]`, after `tsc -p .`.
 *
 * Compiled tests whose source is gone (moved or deleted) are removed first: tsc never deletes
 * output, and a stale copy would run in the wrong tier.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REPO = path.resolve(DIST, '..');
const TIERS = { fast: 'test', integration: 'test/integration', oracle: 'test/oracle', boot: 'test/boot' } as const;
type Tier = keyof typeof TIERS;

function removeStale(dir: string): void {
  const out = path.join(DIST, dir);
  if (!existsSync(out)) return;
  for (const e of readdirSync(out, { withFileTypes: true })) {
    if (e.isDirectory()) { removeStale(path.join(dir, e.name)); continue; }
    const m = /^(.*)\.(js|js\.map|d\.ts)$/.exec(e.name);
    if (m && !existsSync(path.join(REPO, dir, `${m[1]}.ts`))) rmSync(path.join(out, e.name));
  }
}

function testFiles(tier: Tier): string[] {
  const dir = path.join(DIST, TIERS[tier]);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join(dir, f));
}

function runTier(tier: Tier): number {
  const files = testFiles(tier);
  const started = Date.now();
  process.stdout.write(`\n== ${tier} tier: ${files.length} files ==\n`);
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], {
    // the fast and integration tiers never call the oracle (test/helpers/reference.ts)
    stdio: 'inherit', env: { ...process.env, REPART_TS_TIER: tier === 'integration' ? 'fast' : tier },
  });
  process.stdout.write(`== ${tier} tier: ${r.status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - started) / 1000).toFixed(1)} s ==\n`);
  return r.status ?? 1;
}

const arg = process.argv[2] ?? 'all';
if (arg !== 'all' && !(arg in TIERS)) {
  process.stderr.write(`usage: run-tests [fast|integration|oracle|boot|all]\n`);
  process.exit(2);
}
removeStale('test');
const tiers: Tier[] = arg === 'all' ? ['fast', 'integration', 'oracle', 'boot'] : [arg as Tier];
let status = 0;
for (const t of tiers) {
  status = runTier(t);
  if (status !== 0) break; // a red fast tier is enough to know; the slow tiers would only add noise
}
process.exit(status);
