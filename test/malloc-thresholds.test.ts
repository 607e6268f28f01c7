/**
 * src/cli/malloc-thresholds.ts: once its block is freed, glibc's malloc serves blocks below 2 MiB
 * from its heap (and keeps them there when freed) instead of mapping and unmapping each one.
 * Seen from outside: holding eight 1.5 MiB blocks grows the process's [heap] mapping by ~12 MiB
 * after the module has run, and not at all in a process without it (the control: it says
 * whether this libc needs the hint at all).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const MODULE = pathToFileURL(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/malloc-thresholds.js')).href;

const glibc = process.platform === 'linux' && Boolean((process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime);

/** MiB by which [heap] grows while eight 1.5 MiB blocks are held, in a fresh process. */
function heapGrowth(withHint: boolean): number {
  const script = `
import { readFileSync } from 'node:fs';
const heap = () => {
  const l = readFileSync('/proc/self/maps', 'utf8').split('\\n').find((x) => x.endsWith('[heap]'));
  if (!l) return 0;
  const [a, b] = l.split(' ')[0].split('-').map((h) => parseInt(h, 16));
  return b - a;
};
${withHint ? `await import(${JSON.stringify(MODULE)});` : ''}
// the module's block is freed by a collection, as the CLI's first ones do
gc(); await new Promise((r) => setTimeout(r, 20)); gc();
const h0 = heap();
const keep = [];
for (let i = 0; i < 8; i++) keep.push(Buffer.allocUnsafeSlow(1536 * 1024));
process.stdout.write(String((heap() - h0) / 2 ** 20) + ' ' + keep.length);
`;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.split(' ')[0]);
}

test('after the CLI\'s malloc hint, glibc serves 1.5 MiB blocks from its heap instead of mapping each', { skip: glibc ? false : 'glibc on Linux only' }, (t) => {
  const without = heapGrowth(false);
  if (without >= 8) {
    t.skip(`this glibc already serves such blocks from its heap (${without} MiB without the hint)`);
    return;
  }
  const withHint = heapGrowth(true);
  assert.ok(withHint >= 11, `[heap] grew by ${withHint} MiB with the hint (12 expected), ${without} MiB without`);
});
