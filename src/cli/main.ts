#!/usr/bin/env node
import { removePendingFiles } from '../image/build.js';
import { run } from './run.js';

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    removePendingFiles();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

const code = await run(process.argv.slice(2), {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  isTTY: Boolean(process.stdout.isTTY),
  env: process.env,
});
process.exitCode = code;
