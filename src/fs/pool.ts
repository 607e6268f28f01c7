/**
 * Formatting in worker threads: one job per worker, jobs in parallel, the pool sized to the
 * machine. This module is the pool (main thread); the worker entry, which runs one job through
 * the registry's driver, is src/fs/pool-worker.ts. A WebAssembly tool is compiled once per
 * worker and reused by later jobs on that worker (src/fs/wasm/host.ts). Nothing here loads
 * before it is used: piscina, node:worker_threads and the tree packer come with the first job.
 *
 * Jobs travel by structured clone, which keeps hard links (the same FileNode object twice)
 * intact within one message. The tree of a job whose driver reads it only through VirtualTree
 * goes packed (src/tree/packed.ts), its buffers transferred rather than cloned: a worker then
 * holds a million-file tree in about a hundred bytes a node, not as a clone of the objects.
 * Errors come back as data (RepartError.toJSON) and are rebuilt as the same typed error: an
 * Error thrown across the thread boundary would lose its code and location.
 * The error thrown names the job that failed (`jobIndex`).
 */
import { availableParallelism } from 'node:os';
import type { Piscina } from 'piscina';
import { asCompat, type Compat } from '../compat.js';
import { FsError, RepartError } from '../errors.js';
import type { FormatEvents, FormatJob, FormatOutcome, FormatProgress } from './driver.js';
import type { Reply, Task, WarmTask } from './pool-worker.js';
import { LIGHT_FORMATS, tagJob } from './registry.js';

/**
 * The job as posted: its tree packed where the driver can use that, and what to transfer. A tree
 * packed already goes as it is: on SharedArrayBuffers (src/build/trees.ts) it is not copied.
 */
function postable(job: FormatJob, packed: typeof import('../tree/packed.js')): { job: FormatJob; transfer: ArrayBuffer[] } {
  const { isPacked, packTree, PACKED_FORMATS, transferablesOf } = packed;
  if (!job.tree || isPacked(job.tree) || !PACKED_FORMATS.has(job.format)) return { job, transfer: [] };
  // packed afresh (not the cached encoding): its buffers leave this thread with the job
  const tree = packTree(job.tree);
  return { job: { ...job, tree }, transfer: transferablesOf(tree) };
}

/** A failure sent back as data: our errors are rebuilt as themselves, others become E_FS. */
function rebuild(r: Extract<Reply, { ok: false }>, job: FormatJob): Error {
  if ('error' in r) return RepartError.fromJSON(r.error);
  const e = new FsError('E_FS', `formatting ${job.format} failed: ${r.foreign.message}`, { file: job.definitionFile });
  if (r.foreign.stack) e.stack = r.foreign.stack;
  return e;
}

let pool: Piscina | null = null;

let poolLoading: Promise<Piscina> | null = null;

// piscina is loaded on first use: a run that formats nothing (GPT only) never pays for it.
// idleTimeout: a pre-warmed pool waits for the tree scan (longer than the default's half second).
function getPool(idleTimeout = 500, minThreads = 0): Promise<Piscina> {
  if (pool) return Promise.resolve(pool);
  return (poolLoading ??= import('piscina').then(({ Piscina }) => (pool = newPool(Piscina, idleTimeout, minThreads))));
}

/**
 * piscina require()s the worker file before it import()s it, and Node 20.19+ can require() an ES
 * module; that synchronous path aborts the whole process (V8 fatal error "IsGraphAsync must be
 * used on an instantiated module") when the load is cut short, as when the CLI exits while a
 * pre-warmed worker is still starting (seen about once in 20 swap-only builds on a loaded
 * machine, before and after the worker entry moved to pool-worker.ts). Without require(esm)
 * piscina takes the import() path. Only when the process has no options of its own: explicit
 * execArgv replaces the inherited one, and V8 flags in it would be refused.
 */
const workerExecArgv = (): string[] | undefined => (process.execArgv.length === 0 && process.allowedNodeEnvironmentFlags.has('--experimental-require-module')
  ? ['--no-experimental-require-module'] : undefined);

function newPool(Piscina: typeof import('piscina').Piscina, idleTimeout: number, minThreads: number): Piscina {
  return new Piscina({
    filename: new URL('./pool-worker.js', import.meta.url).href,
    execArgv: workerExecArgv(),
    minThreads: Math.min(minThreads, Math.max(1, availableParallelism())),
    maxThreads: Math.max(1, availableParallelism()),
    // one job per worker at a time: each job is one tool run, CPU-bound
    concurrentTasksPerWorker: 1,
    // idle workers go away soon, so a finished build does not keep the process alive
    idleTimeout,
    // a worker closes source files the main thread opened (src/fs/wasm/fd-handoff.ts): with
    // tracking on, each such close emits a warning (about 70 µs each); a worker closes what it
    // opens itself anyway (src/fs/wasm/host.ts closeAll)
    trackUnmanagedFds: false,
  });
}

/**
 * Start one worker per core and have each load the drivers and compile the tools of `formats`
 * (a failure here shows again, with its context, when the job runs). Resolves once the workers
 * are started and their tasks posted: the caller then scans the tree synchronously, so workers
 * created later (minThreads 0) would get no task until a worker's "ready" message is read after
 * the scan; created by the pool's constructor (minThreads), they count as ready and read their
 * tasks themselves.
 */
export function prewarmWorkers(formats: string[], compat: Compat, workers = availableParallelism()): Promise<void> {
  const warmTask: WarmTask = { warm: { formats, toolSet: asCompat(compat).toolsSuite } };
  return getPool(10_000, Math.max(1, workers)).then((p) => {
    for (let i = 0; i < Math.min(Math.max(1, workers), p.maxThreads); i++) p.run(warmTask).catch(() => undefined);
  }, () => undefined);
}
formatInWorkers.prewarm = prewarmWorkers;

/**
 * Whether the light jobs (TypeScript drivers: vfat, swap) run on the main thread instead of
 * starting a worker of their own: when the cores are all taken by the heavy jobs and the main
 * thread (which reads their sources ahead, src/build/readahead.ts). A new worker costs ~0.25 s
 * of CPU to start (Node, the modules, their compilation), more than a light job itself (~0.02 s
 * for a 96 MiB ESP); on two cores it was taken from mke2fs: debian-usr 0.1 s faster, 0.15 s less
 * CPU, when the ESP waited for the heavy job's worker; beside mke2fs on the main thread, which
 * has little else to do then, the format stage is 10-18 ms shorter again (the job, its driver's
 * load and a message round trip no longer follow mke2fs; bench/results/issue-18.md).
 */
export function lightJobsHere(cores: number, heavy: number, light: number): boolean {
  return heavy > 0 && light > 0 && cores <= heavy + 1;
}

/**
 * Format every job, in parallel. Resolves with one outcome per job, in order; if any job fails,
 * waits for all of them (no worker may still be writing into the image) and then throws the
 * first failure.
 */
export async function formatInWorkers(jobs: FormatJob[], events: FormatEvents = {}): Promise<FormatOutcome[]> {
  if (jobs.length === 0) return [];
  const [p, { MessageChannel, receiveMessageOnPort }, packed, { BIG_TREE, collectGarbage }] = await Promise.all([
    getPool(), import('node:worker_threads'), import('../tree/packed.js'), import('../tree/gc.js'),
  ]);
  // Heavy jobs are posted first, so that they get the pre-warmed workers (prewarmWorkers starts
  // one per heavy job) and a light job waits for a worker that starts meanwhile, or, when the
  // cores are taken (lightJobsHere), runs on this thread, one after another.
  const isLight = (i: number) => LIGHT_FORMATS.has(jobs[i]!.format);
  const order = jobs.map((_, i) => i).sort((a, b) => Number(isLight(a)) - Number(isLight(b)));
  const heavy = order.filter((i) => !isLight(i)).length;
  const here = lightJobsHere(Math.max(1, availableParallelism()), heavy, jobs.length - heavy);
  let hereDone: Promise<unknown> = Promise.resolve();
  const running: Promise<Reply>[] = [];
  for (const i of order) running.push((async () => {
    if (here && isLight(i)) {
      // after the heavy jobs are posted (their workers start on the other cores), in turn
      const turn = hereDone.then(async () => {
        const { runJob } = await import('./pool-worker.js');
        events.start?.(i);
        const r = await runJob(jobs[i]!, (m) => events.progress?.(i, m));
        if (r.ok) events.done?.(i, r.outcome);
        return r;
      });
      hereDone = turn.catch(() => undefined);
      return turn;
    }
    const job = jobs[i]!;
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (m: FormatProgress) => events.progress?.(i, m));
    events.start?.(i);
    try {
      const posted = postable(job, packed);
      const r = (await p.run({ job: posted.job, port: port2 } satisfies Task, { transferList: [port2, ...posted.transfer] })) as Reply;
      // The reply comes over piscina's own channel and may overtake the last progress
      // messages (the final, complete one included): take what is still queued first.
      for (let m = receiveMessageOnPort(port1); m; m = receiveMessageOnPort(port1)) events.progress?.(i, m.message as FormatProgress);
      if (r.ok) events.done?.(i, r.outcome);
      return r;
    } finally {
      port1.close();
    }
  })());
  // The jobs are posted. A big tree's scan and Minimize= models left their garbage on this
  // thread's heap (~100 MB at a million files), which V8 would keep through the whole format
  // stage (this thread allocates next to nothing meanwhile): it goes now, while the workers
  // start, rather than adding to the peak beside the tools' memory.
  const all = Promise.allSettled(running); // (a job failing meanwhile is handled)
  if (jobs.some((j) => j.tree && packed.isPacked(j.tree) && j.tree.count >= BIG_TREE)) await collectGarbage();
  const settled = await all;
  const replies: PromiseSettledResult<Reply>[] = new Array(jobs.length);
  order.forEach((i, k) => (replies[i] = settled[k]!));
  const out: FormatOutcome[] = [];
  let first: Error | null = null;
  replies.forEach((r, i) => {
    const job = jobs[i]!;
    let failed: Error | null = null;
    if (r.status === 'rejected') {
      failed = new FsError('E_FS', `formatting ${job.format} failed in its worker: ${String((r.reason as Error)?.message ?? r.reason)}`, { file: job.definitionFile });
    } else if (!r.value.ok) {
      failed = rebuild(r.value, job);
    } else out.push(r.value.outcome);
    if (failed && !first) first = tagJob(failed, i);
  });
  if (first) throw first;
  return out;
}

/** Stop the pool's workers (tests and the CLI call this when done). */
export async function closeWorkerPool(): Promise<void> {
  const p = pool ?? (poolLoading ? await poolLoading.catch(() => null) : null);
  pool = null;
  poolLoading = null;
  if (p) await p.destroy();
}
