import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressReporter } from '../src/report/progress.js';

test('progress: plain periodic lines when not a terminal', () => {
  let t = 0;
  const out: string[] = [];
  const r = new ProgressReporter((s) => out.push(s), false, true, () => t, 5000);
  r.start('0', 'root');
  r.update('0', { files: 10, bytes: 1 << 20, totalFiles: 100, totalBytes: 10 << 20 });
  t = 6000;
  r.update('0', { files: 50, bytes: 5 << 20, totalFiles: 100, totalBytes: 10 << 20 });
  t = 9000;
  r.finish('0');
  assert.deepEqual(out, [
    'root: formatting…\n',
    'root: 50/100 files, 5M/10M, 853.3K/s, ETA 6 s\n',
    'root: done, 50 files, 5M in 9.0 s\n',
  ]);
});

test('progress: a redrawn bar per partition on a terminal; nothing when disabled', () => {
  let t = 0;
  const out: string[] = [];
  const r = new ProgressReporter((s) => out.push(s), true, true, () => t);
  r.start('0', 'esp');
  r.start('1', 'root');
  t = 200;
  r.update('1', { files: 1, bytes: 512, totalFiles: 2, totalBytes: 1024 });
  const last = out[out.length - 1]!;
  assert.match(last, /^\x1b\[2A/);
  assert.match(last, /root +\[#{12}\.{12}\]  50%/);
  const quiet: string[] = [];
  const q = new ProgressReporter((s) => quiet.push(s), true, false);
  q.start('0', 'x');
  q.finish('0');
  assert.equal(quiet.length, 0);
});
