/**
 * The worker side of the formatting pool (src/fs/pool.ts): piscina loads this module in each
 * worker thread and calls its default export with one task. Kept apart from pool.ts so that the
 * main thread, which only posts jobs, loads the drivers' registry and the phase timers only when
 * it formats a light job itself (runJob), and never the WebAssembly host (a run that formats
 * nothing loads none of this).
 */
import { RepartError, type RepartErrorJson } from '../errors.js';
import type { MessagePort } from 'node:worker_threads';
import type { FormatJob, FormatOutcome, FormatProgress } from './driver.js';
import { driverFor } from './registry.js';
import { addPhase, now, takePhases } from './wasm/phases.js';
import type { ToolName, ToolSet } from './wasm/host.js';

export type Reply =
  | { ok: true; outcome: FormatOutcome }
  | { ok: false; error: RepartErrorJson }
  | { ok: false; foreign: { message: string; stack?: string } };

export interface Task {
  job: FormatJob;
  /** progress messages go back to the main thread over this port */
  port?: MessagePort;
}

/** A worker gets ready for jobs of these formats (prewarmWorkers). */
export interface WarmTask {
  warm: { formats: string[]; toolSet: ToolSet };
}

/** The WebAssembly tool behind a format, compiled ahead by a warm task. */
const TOOL_OF: Record<string, ToolName> = { ext2: 'mke2fs', ext3: 'mke2fs', ext4: 'mke2fs', btrfs: 'mkfs.btrfs', erofs: 'mkfs.erofs', squashfs: 'mksquashfs', xfs: 'mkfs.xfs' };

async function warm({ formats, toolSet }: WarmTask['warm']): Promise<Reply> {
  for (const f of formats) {
    await driverFor(f);
    const tool = TOOL_OF[f];
    // the WebAssembly host only where a tool runs: a worker for vfat or swap never loads it
    if (tool) await (await import('./wasm/host.js')).warmTool(tool, toolSet);
  }
  return { ok: true, outcome: { warnings: [], passes: 0 } };
}

/** Worker side: format one job (or get ready for some). */
export default async function formatJob(task: Task | WarmTask): Promise<Reply> {
  if ('warm' in task) return warm(task.warm).catch((e: Error) => ({ ok: false, foreign: { message: String(e?.message ?? e) } }));
  const { job, port } = task;
  let last = 0;
  const progress = port ? (p: FormatProgress) => {
    // at most ~20 messages a second; the main thread only redraws at 10 Hz anyway
    const now = Date.now();
    if (now - last < 50 && p.files < p.totalFiles) return;
    last = now;
    port.postMessage(p);
  } : undefined;
  try {
    return await runJob(job, progress);
  } finally {
    port?.close();
  }
}

/**
 * One job through its driver, in this thread, its failure as data (Reply): the worker's task, and
 * the main thread's light jobs (src/fs/pool.ts). One at a time per thread: the phase timers are
 * the thread's.
 */
export async function runJob(job: FormatJob, progress?: (p: FormatProgress) => void): Promise<Reply> {
  try {
    takePhases();
    const start = now();
    const driver = await driverFor(job.format);
    addPhase('driverLoad', start);
    const outcome = await driver.format(job, progress);
    addPhase('total', start);
    return { ok: true, outcome: { ...outcome, phases: takePhases() } };
  } catch (e) {
    if (e instanceof RepartError) return { ok: false, error: e.toJSON() };
    const err = e as Error;
    return { ok: false, foreign: { message: err?.message ?? String(e), stack: err?.stack } };
  }
}
