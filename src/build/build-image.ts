/**
 * buildImage(): what `repart-ts` does, as a library call. Data in (a BuildRequest), a typed
 * result out; nothing is printed and no exit status is chosen (the CLI does that). Failures are
 * RepartErrors; no temporary file is left behind and the target is untouched.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { compatFor } from '../compat.js';
import { RepartError } from '../errors.js';
import type { BuildContext } from './context.js';
import { runStages } from './pipeline.js';
import type { BuildRequest, BuildResult } from './request.js';

export function newContext(request: BuildRequest): BuildContext {
  // device "-": a dry run of an auto-sized image that reports its size
  if (request.device === '-') request = { ...request, dryRun: true, size: 'auto', empty: 'allow' };
  if (request.device === undefined)
    throw new RepartError('E_USAGE', 'No device specified: repart-ts only operates on image files, pass the image path.', {}, 76);
  const warnings: string[] = [];
  return {
    request,
    compat: compatFor(request.compat),
    now: request.now ?? Date.now(),
    random: request.random ?? ((n) => new Uint8Array(randomBytes(n))),
    device: request.device,
    warn: (m) => { warnings.push(m); request.onWarning?.(m); },
    warnings,
    written: [],
    definitions: [],
    partitions: [],
    deviceExists: false,
    deviceSize: 0n,
    gpt: null,
    seed: new Uint8Array(16),
    sectorSize: 512,
    fsSectorSize: 4096,
    grain: 4096n,
    size: 'auto',
    nodeBase: request.device,
    changed: false,
    attempts: 0,
  };
}

export async function buildImage(request: BuildRequest): Promise<BuildResult> {
  const startupMs = performance.now();
  const ctx = newContext(request);
  await runStages(ctx);
  if (ctx.stats) {
    ctx.stats.startupMs = Math.round(startupMs * 10) / 10;
    ctx.stats.stages = ctx.timings?.map((t) => ({ ...t, ms: Math.round(t.ms * 10) / 10 }));
  }
  const rootHashes: Record<string, string> = {};
  const splitPaths: Record<string, string> = {};
  for (const s of ctx.partitions) {
    const label = s.placed?.label ?? s.label;
    if (s.rootHash !== undefined) rootHashes[label] = s.rootHash;
    if (s.splitPath !== undefined) splitPaths[label] = s.splitPath;
  }
  return {
    rows: ctx.rows ?? [],
    plan: ctx.done ? null : ctx.plan ?? null,
    rootHashes, splitPaths,
    written: ctx.written,
    warnings: ctx.warnings,
    changed: ctx.changed,
    stats: ctx.stats,
    imageSize: ctx.plan?.imageSize ?? ctx.deviceSize,
    minimalSize: ctx.minimalSize,
  };
}
