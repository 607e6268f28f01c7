/**
 * Side-by-side runs for conformance scenarios: one template directory is prepared once (images
 * made with sfdisk get random UUIDs, so both sides must start from the same bytes), copied to
 * `ours/` and `ref/`, and every step runs in both with the same relative arguments — repart-ts
 * in `ours/`, the real systemd-repart (REFERENCE_SUITE) in `ref/`. Outputs are compared with the
 * side directory's path replaced by DIR.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI, REFERENCE, type Suite } from './reference.js';

export interface SideRun {
  dir: string;
  status: number;
  stdout: string;
  stderr: string;
}

export interface Sides {
  base: string;
  template: string;
  ours: string;
  ref: string;
  /** copies the template into both sides (call after preparing it) */
  fork(): void;
  cleanup(): void;
}

export function makeSides(prefix: string): Sides {
  const base = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const s: Sides = {
    base,
    template: path.join(base, 'template'),
    ours: path.join(base, 'ours'),
    ref: path.join(base, 'ref'),
    fork() {
      rmSync(s.ours, { recursive: true, force: true });
      rmSync(s.ref, { recursive: true, force: true });
      // cp -a, not cpSync: Node 20's cpSync sets a directory's times before it copies the
      // entries into it (so each side's directories got their own mtime) and keeps only
      // milliseconds; ext4 stores nanoseconds, so the two sides' file systems differed
      for (const side of [s.ours, s.ref]) {
        const r = spawnSync('cp', ['-a', '--', s.template, side], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`cp -a ${s.template} ${side}: ${r.stderr}`);
      }
    },
    cleanup() { rmSync(base, { recursive: true, force: true }); },
  };
  mkdirSync(s.template, { recursive: true });
  return s;
}

const TIMEOUT = 10 * 60 * 1000;

function normalize(r: { status: number | null; stdout: string; stderr: string }, dir: string): SideRun {
  const fix = (t: string) => (t ?? '').replaceAll(dir, 'DIR');
  return { dir, status: r.status ?? -1, stdout: fix(r.stdout), stderr: fix(r.stderr) };
}

/** The real systemd-repart in `dir`; env is passed as given (SYSTEMD_LOG_LEVEL too). */
export function refRun(suite: Suite, dir: string, args: string[], env: NodeJS.ProcessEnv = {}): SideRun {
  const r = spawnSync(REFERENCE, args, { cwd: dir, encoding: 'utf8', timeout: TIMEOUT, env: { ...process.env, SYSTEMD_LOG_LEVEL: 'info', ...env, REFERENCE_SUITE: suite } });
  return normalize(r, dir);
}

export function oursRun(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): SideRun {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', timeout: TIMEOUT, env: { ...process.env, ...env } });
  return normalize(r, dir);
}

/** A tool of the oracle's tree (sfdisk, mkfs.*, cryptsetup …) in `dir`. */
export function refTool(suite: Suite, dir: string, tool: string, args: string[], input?: string): SideRun {
  const r = spawnSync(REFERENCE, ['--exec', tool, ...args], { cwd: dir, encoding: 'utf8', input, timeout: TIMEOUT, env: { ...process.env, REFERENCE_SUITE: suite } });
  return normalize(r, dir);
}

/** `sfdisk --dump IMAGE` (the partition lines and header, without the device line's directory). */
export function sfdiskDump(suite: Suite, dir: string, image: string): string {
  const r = refTool(suite, dir, 'sfdisk', ['--dump', image]);
  if (r.status !== 0) throw new Error(`sfdisk --dump ${image} in ${dir}: ${r.stderr}`);
  return r.stdout;
}

/** Writes a table with sfdisk (a script as in systemd's tests). */
export function sfdiskWrite(suite: Suite, dir: string, image: string, script: string): void {
  const r = refTool(suite, dir, 'sfdisk', ['--no-reread', '--no-tell-kernel', image], script);
  if (r.status !== 0) throw new Error(`sfdisk ${image}: ${r.stderr}`);
}

export function sameFile(a: string, b: string): boolean {
  return readFileSync(a).equals(readFileSync(b));
}
