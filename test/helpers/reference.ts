/**
 * Access to ../shared/tools/reference-repart (the real systemd-repart in a Debian chroot) for
 * differential tests. Tests call referenceSkipReason() and skip with its message when set.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const REFERENCE = path.resolve(REPO, '../shared/tools/reference-repart');
export const CLI = path.join(REPO, 'dist/src/cli/main.js');

export type Suite = 'trixie' | 'sid';

const checked = new Map<Suite, string | null>();

/** null when the oracle can run for this suite, else why not. */
export function referenceSkipReason(suite: Suite): string | null {
  if (checked.has(suite)) return checked.get(suite)!;
  let reason: string | null = null;
  // the fast tier never calls the oracle, even as root (test/oracle/ holds those tests)
  if (process.env.REPART_TS_TIER === 'fast') reason = 'the fast tier does not run the oracle (npm run test:oracle does)';
  else if (!existsSync(REFERENCE)) reason = `reference-repart not found at ${REFERENCE}`;
  else if (process.getuid?.() !== 0) reason = 'reference-repart needs root (debootstrap, chroot); run the tests as root to compare with the real systemd-repart';
  else {
    const r = spawnSync(REFERENCE, ['--setup'], { env: { ...process.env, REFERENCE_SUITE: suite }, encoding: 'utf8', timeout: 15 * 60 * 1000 });
    if (r.status !== 0) reason = `reference-repart --setup (${suite}) failed: ${(r.stderr || '').trim().split('\n').slice(-3).join(' / ')}`;
  }
  checked.set(suite, reason);
  return reason;
}

export interface RunResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function runReference(suite: Suite, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): RunResult {
  const r = spawnSync(REFERENCE, args, {
    cwd, encoding: 'utf8', timeout: 10 * 60 * 1000,
    env: { ...process.env, ...env, REFERENCE_SUITE: suite, SYSTEMD_LOG_LEVEL: 'info' },
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function runOurs(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): RunResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 10 * 60 * 1000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `defs/10-root.conf` (`conf`) through both builders in `dir`, `--empty=create --size=auto` with a
 * fixed seed (257 gets `--compat=257` on our side): our run, and whether the two images are
 * byte-identical. The reference must succeed. `before` runs before each builder (a tree's times
 * to set again, say).
 */
export function compareWholeImage(suite: Suite, dir: string, conf: string, env: NodeJS.ProcessEnv, before: () => void = () => {}): { ours: RunResult; same: boolean } {
  mkdirSync(path.join(dir, 'defs'), { recursive: true });
  writeFileSync(path.join(dir, 'defs/10-root.conf'), conf);
  const args = ['--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', '--seed=e2a40bf9-73f1-4278-9160-49c031e7aef8', '--json=off'];
  for (const f of ['ref.raw', 'ours.raw']) rmSync(path.join(dir, f), { force: true });
  before();
  const ref = runReference(suite, [...args, 'ref.raw'], dir, env);
  if (ref.status !== 0) throw new Error(`reference-repart (${suite}) failed: ${ref.stderr}`);
  before();
  const ours = runOurs([...(suite === 'trixie' ? ['--compat=257'] : []), '--quiet', ...args, 'ours.raw'], dir, env);
  const same = ours.status === 0 && spawnSync('cmp', ['-s', path.join(dir, 'ref.raw'), path.join(dir, 'ours.raw')]).status === 0;
  return { ours, same };
}
