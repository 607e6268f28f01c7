/**
 * Read-ahead of source files while a worker formats (src/build/readahead.ts): it stays within
 * its window of what the tool reported, goes on as the tool progresses, stops when told, skips
 * a file that is no longer the one scanned, and never fails the build.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildTree } from '../src/tree/build.js';
import { filesOf, ReadAhead } from '../src/build/readahead.js';
import { packTree } from '../src/tree/packed.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'readahead-test-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const MiB = 2 ** 20;

async function tree(files: Record<string, number>) {
  const src = fs.mkdtempSync(path.join(work, 'src-'));
  for (const [name, size] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
    fs.writeFileSync(path.join(src, name), Buffer.alloc(size, 1));
  }
  const t = await buildTree({ copySource: '/', copyFiles: [{ source: src, target: '/' }], excludeFiles: [], excludeFilesTarget: [], makeDirectories: [], makeSymlinks: [], subvolumes: [], owner: { uid: 0, gid: 0 }, now: { sec: 0, nsec: 0 } });
  return { src, t };
}

const settle = () => new Promise((r) => setTimeout(r, 200));

test('read-ahead stays within its window of the tool, then follows its progress to the end', { timeout: 30_000 }, async () => {
  const { t } = await tree({ 'a/1': MiB, 'a/2': MiB, 'b/3': MiB, 'b/4': MiB, empty: 0 });
  const ra = new ReadAhead(t, { window: MiB, lanes: 2 });
  await settle();
  // a file is started while at most `window` bytes are ahead: two, then it waits
  assert.equal(ra.issuedBytes, 2 * MiB);
  ra.progress(2 * MiB);
  await ra.done;
  assert.equal(ra.issuedBytes, 4 * MiB, 'every non-empty file once; the empty one is not opened');
});

test('read-ahead stops when told, and skips a source that changed since the scan', { timeout: 30_000 }, async () => {
  const { src, t } = await tree({ '1': MiB, '2': MiB, '3': MiB });
  fs.rmSync(path.join(src, '1'));
  fs.writeFileSync(path.join(src, '1'), 'another file');
  const ra = new ReadAhead(t, { window: 0, lanes: 1 });
  await settle();
  assert.equal(ra.issuedBytes, MiB, 'the changed file is started, not read; the lane waits');
  ra.stop();
  await ra.done;
  assert.equal(ra.issuedBytes, MiB);
});

test('read-ahead reads on one lane while the page cache is warm, and in parallel once the process reads from the disk', { timeout: 30_000 }, async () => {
  const files = Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`f${String(i).padStart(2, '0')}`, MiB]));
  const { t } = await tree(files);
  const warm = new ReadAhead(t, { blockInputs: () => 7, sliceMs: 0 });
  await warm.done;
  assert.equal(warm.parallel, false, 'no block input: one synchronous lane throughout');
  assert.equal(warm.issuedBytes, 24 * MiB);
  let inputs = 0;
  // every check finds 300 more block inputs (150 KiB read from the disk)
  const cold = new ReadAhead(t, { blockInputs: () => (inputs += 300), sliceMs: 0 });
  await cold.done;
  assert.equal(cold.parallel, true, 'the parallel lanes took over');
  assert.equal(cold.issuedBytes, 24 * MiB, 'every file still once');
});

test('read-ahead reads the packed form in the same order as the objects (byte order, hard links each time named)', async () => {
  const { src } = await tree({ 'b/\u00e9': 10, 'b/z': 20, 'a b/1': 30, 'B/2': 40, empty: 0 });
  fs.linkSync(path.join(src, 'b/z'), path.join(src, 'hard'));
  const t2 = await buildTree({ copySource: '/', copyFiles: [{ source: src, target: '/' }], excludeFiles: [], excludeFilesTarget: [], makeDirectories: [], makeSymlinks: [], subvolumes: [], owner: { uid: 0, gid: 0 }, now: { sec: 0, nsec: 0 } });
  const seq = (it: Iterable<{ size: number; source: unknown }>) => [...it].map((f) => ({ size: f.size, source: f.source }));
  const objects = seq(filesOf(t2));
  assert.deepEqual(objects.map((f) => f.size), [40, 30, 20, 10, 20], 'B/2, "a b"/1, b/z, b/\u00e9, hard: as strcmp orders them, the hard link under both names');
  assert.deepEqual(seq(filesOf(packTree(t2, { shared: true }))), objects);
});
