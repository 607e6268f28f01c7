/**
 * Temporary files beside a target (".#IMG.<pid>.<random>.tmp"): named with the pid of the run
 * that made them, so that a run killed with SIGKILL (no cleanup possible) leaves a file the next
 * run on the same target recognises and removes. Only names of exactly this pattern, only
 * regular files, and only when no process with that pid exists.
 */
import { lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export function tempBeside(target: string): string {
  return path.join(path.dirname(target), `.#${path.basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, owned by someone else
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Remove the temporary files dead runs left beside `target`; returns the names removed. */
export function removeStaleTemps(target: string): string[] {
  const dir = path.dirname(target);
  const prefix = `.#${path.basename(target)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const m = /^(\d+)\.[0-9a-f]{12}\.tmp$/.exec(n.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    const p = path.join(dir, n);
    try {
      if (!lstatSync(p).isFile()) continue;
      unlinkSync(p);
      removed.push(n);
    } catch { /* raced with another run: fine */ }
  }
  return removed;
}
