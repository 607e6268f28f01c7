#!/usr/bin/env node
// first: what it changes should hold for everything that follows
import './malloc-thresholds.js';
import { removePendingFiles } from '../image/build.js';
import { run } from './run.js';
import { closeWorkerPool, formatInWorkers } from '../fs/pool.js';
import { installSignalHandlers } from './signals.js';

// before any work: the inspector guard must be in place when the long synchronous phases start
await installSignalHandlers(removePendingFiles);

if (process.argv[2] === 'bench') {
  // `repart-ts bench …` is the benchmark runner (bench/run.ts), compiled beside the CLI.
  process.argv.splice(2, 1);
  const { main } = await import('../../bench/run.js');
  await main();
  process.exit(0);
}

if (process.argv[2] === 'build') {
  // `repart-ts build CONFIG.json [--out DIR] [--compat=257|262] [--quiet] [--no-progress]`: the
  // NixOS image.repart description, natively.
  const { buildNixosImage } = await import('../nixos/build.js');
  const { RepartError } = await import('../errors.js');
  const args = process.argv.slice(3);
  const outIdx = args.findIndex((a) => a === '--out' || a.startsWith('--out='));
  const outDir = outIdx < 0 ? '.' : args[outIdx]!.startsWith('--out=') ? args[outIdx]!.slice(6) : args[outIdx + 1] ?? '.';
  const config = args.find((a, i) => !a.startsWith('--') && (outIdx < 0 || i !== outIdx + 1));
  const usage = 'usage: repart-ts build CONFIG.json [--out DIR] [--compat=257|262] [--quiet] [--no-progress]\n';
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${usage}\nBuilds the NixOS image.repart description CONFIG.json (as written by the NixOS module) into DIR.\n`);
    process.exit(0);
  }
  if (!config) { process.stderr.write(usage); process.exit(1); }
  const options = args.filter((a) => a.startsWith('--') && a !== '--out' && !a.startsWith('--out='));
  const unknown = options.find((a) => !/^--(compat=\d+|quiet|no-progress)$/.test(a));
  if (unknown) { process.stderr.write(`repart-ts build: unrecognized option '${unknown}'\n${usage}`); process.exit(1); }
  const { ProgressReporter } = await import('../report/progress.js');
  const { errorLine } = await import('./run.js');
  try {
    const r = await buildNixosImage({
      config, outDir, repartOptions: options, env: process.env, formatter: formatInWorkers,
      onWarning: (m) => process.stderr.write(`${m}\n`),
      progress: (enabled) => {
        const bar = new ProgressReporter((s) => process.stderr.write(s), Boolean(process.stderr.isTTY), enabled);
        return { start: (id, l) => bar.start(id, l), update: (id, p) => bar.update(id, p), finish: (id) => bar.finish(id) };
      },
    });
    process.stdout.write(r.json);
  } catch (e) {
    if (e instanceof RepartError) { process.stderr.write(`${errorLine(e)}\n`); process.exitCode = e.exitCode; } else throw e;
  } finally {
    await closeWorkerPool();
  }
  process.exit(process.exitCode ?? 0);
}

let code: number;
try {
  code = await run(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    isTTY: Boolean(process.stdout.isTTY),
    stderrIsTTY: Boolean(process.stderr.isTTY),
    env: process.env,
  }, { formatter: formatInWorkers });
} catch (e) {
  await closeWorkerPool();
  throw e;
}
// Every job has finished, so the workers are idle: exit at once, which stops them faster than
// terminating them one by one first. Only when all output is out (stdout and stderr are
// synchronous for files, pipes and terminals on Linux; not for pipes elsewhere).
if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit(code);
await closeWorkerPool();
process.exitCode = code;
