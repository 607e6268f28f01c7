#!/usr/bin/env node
import { removePendingFiles } from '../image/build.js';
import { run } from './run.js';

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    removePendingFiles();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

if (process.argv[2] === 'bench') {
  // `repart-ts bench …` is the benchmark runner (bench/run.ts), compiled beside the CLI.
  process.argv.splice(2, 1);
  const { main } = await import('../../bench/run.js');
  await main();
  process.exit(0);
}

const code = await run(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  isTTY: Boolean(process.stdout.isTTY),
  stderrIsTTY: Boolean(process.stderr.isTTY),
  env: process.env,
});
process.exitCode = code;
