/**
 * Source xattrs read beside the tree scan (src/tree/xattrs.ts XattrPrefetch: the paths the scan
 * lists below a directory copied whole, to one xargs getfattr) must put on every node exactly
 * what the argv batches of paths put on it: same attributes, same order, hard links, symlinked directories left alone, paths that
 * need getfattr's quoting; a directory with something excluded below it is not prefetched.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setx, userXattrSkip } from '../helpers/host-xattrs.js';
import { buildTree, type TreeSpec } from '../../src/tree/build.js';
import { walk, type SourceTree } from '../../src/tree/model.js';
import { attachHostXattrs, XattrPrefetch } from '../../src/tree/xattrs.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'xattr-prefetch-test-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const skip = userXattrSkip(work);


/** A source tree: nested files with one or several attributes, a hard link, a symlink to a directory, odd names. */
function makeSource(): { src: string; single: string } {
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'a/b'), { recursive: true });
  fs.mkdirSync(path.join(src, 'c'), { recursive: true });
  fs.mkdirSync(path.join(work, 'elsewhere'), { recursive: true });
  fs.writeFileSync(path.join(src, 'a/one'), '1');
  fs.writeFileSync(path.join(src, 'a/b/two'), '22');
  fs.writeFileSync(path.join(src, 'a/b/plain'), '');
  fs.writeFileSync(path.join(src, 'c/excluded'), 'x');
  fs.writeFileSync(path.join(src, 'new\nline = é'), 'odd');
  fs.writeFileSync(path.join(work, 'elsewhere/f'), 'e');
  fs.linkSync(path.join(src, 'a/one'), path.join(src, 'a/b/one-again'));
  fs.symlinkSync('../elsewhere', path.join(src, 'to-elsewhere'));
  const single = path.join(work, 'single');
  fs.writeFileSync(single, 's');
  setx(src, 'user.root', 'r');
  setx(path.join(src, 'a'), 'user.dir', 'd');
  setx(path.join(src, 'a/one'), 'user.one', '1');
  setx(path.join(src, 'a/b/two'), 'user.z', 'zz');
  setx(path.join(src, 'a/b/two'), 'user.a', 'aa');
  setx(path.join(src, 'c/excluded'), 'user.c', 'c');
  setx(path.join(src, 'new\nline = é'), 'user.odd=name', 'o');
  setx(path.join(work, 'elsewhere/f'), 'user.elsewhere', 'e');
  setx(single, 'user.single', 's');
  return { src, single };
}

const spec = (src: string, single: string, extra: Partial<TreeSpec> = {}): TreeSpec => ({
  copySource: '/', copyFiles: [{ source: src, target: '/' }, { source: single, target: '/s' }],
  excludeFiles: [], excludeFilesTarget: [], makeDirectories: [], makeSymlinks: [], subvolumes: [],
  owner: { uid: 0, gid: 0 }, now: { sec: 1700000000, nsec: 0 }, ...extra,
});

/** path in the tree -> its attributes as name=hex, in order */
function dump(tree: SourceTree): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const { path: p, node } of walk(tree)) out[p] = (node.meta.xattrs ?? []).map((x) => `${x.name}=${Buffer.from(x.value).toString('hex')}`);
  return out;
}

async function both(extra: Partial<TreeSpec>): Promise<{ pre: SourceTree; batch: SourceTree; started: string[] }> {
  const { src, single } = fs.existsSync(path.join(work, 'src')) ? { src: path.join(work, 'src'), single: path.join(work, 'single') } : makeSource();
  const prefetch = new XattrPrefetch();
  const started: string[] = [];
  const hooks = prefetch.scanHooks();
  const pre = await buildTree({ ...spec(src, single, extra), ...hooks, onWholeDirectory: (d) => { started.push(d); hooks.onWholeDirectory(d); } });
  const r1 = await attachHostXattrs(pre, process.env, process.platform, prefetch);
  assert.deepEqual(r1.problems, []);
  const batch = await buildTree(spec(src, single, extra));
  const r2 = await attachHostXattrs(batch);
  assert.deepEqual(r2.problems, []);
  return { pre, batch, started };
}

test('xattrs read beside the scan equal those read in batches after it', { skip, timeout: 60_000 }, async () => {
  const { pre, batch, started } = await both({});
  assert.deepEqual(started, [path.join(work, 'src')], 'the directory line is prefetched, the single file is not');
  const d = dump(pre);
  assert.deepEqual(d, dump(batch));
  const hex = (s: string) => Buffer.from(s).toString('hex');
  assert.deepEqual(d['/'], [`user.root=${hex('r')}`]);
  assert.deepEqual(d['/a'], [`user.dir=${hex('d')}`]);
  assert.deepEqual(d['/a/one'], [`user.one=${hex('1')}`]);
  assert.deepEqual(d['/a/b/one-again'], [`user.one=${hex('1')}`], 'a hard link is the same node');
  assert.equal(d['/a/b/two']!.length, 2);
  assert.deepEqual(d['/a/b/plain'], []);
  assert.deepEqual(d['/c/excluded'], [`user.c=${hex('c')}`]);
  assert.deepEqual(d['/new\nline = é'], [`user.odd=name=${hex('o')}`], 'getfattr quotes the path and the name; both come back exact');
  assert.deepEqual(d['/s'], [`user.single=${hex('s')}`], 'a single-file line is read in a batch');
  assert.deepEqual(d['/to-elsewhere'], [], 'the symlink is not followed');
  assert.equal(d['/to-elsewhere/f'], undefined);
});

test('a directory with something excluded below it is read in batches, and the excluded file is not in the tree', { skip, timeout: 60_000 }, async () => {
  const { pre, batch, started } = await both({ excludeFiles: [path.join(work, 'src/c/excluded')] });
  assert.deepEqual(started, []);
  const d = dump(pre);
  assert.deepEqual(d, dump(batch));
  assert.equal(d['/c/excluded'], undefined);
  assert.deepEqual(d['/a/one'], [`user.one=${Buffer.from('1').toString('hex')}`]);
});

test('the prefetch reads attributes of the paths the scan lists, never a directory (reading one moves its atime to now)', { skip }, async () => {
  const src = path.join(work, 'atimes');
  fs.mkdirSync(path.join(src, 'x/y'), { recursive: true });
  fs.writeFileSync(path.join(src, 'x/y/f'), 'f');
  setx(path.join(src, 'x/y/f'), 'user.f', 'f');
  setx(path.join(src, 'x'), 'user.x', 'x');
  // older than a day: relatime would move them on the next read of the directory
  for (const d of ['', 'x', 'x/y']) fs.utimesSync(path.join(src, d), 1600000000, 1600000000);
  const atime = (d: string) => fs.statSync(path.join(src, d)).atimeMs;
  const prefetch = new XattrPrefetch();
  prefetch.start(src);
  prefetch.add(path.join(src, 'x'));
  prefetch.add(path.join(src, 'x/y/f'));
  prefetch.add(path.join(work, 'elsewhere/f')); // not below the root: left to the batches
  assert.equal(prefetch.covering(path.join(src, 'x/y/f')), src);
  const r = await prefetch.results();
  assert.equal(r.unavailable, undefined);
  assert.deepEqual([...r.byPath.keys()].sort(), [path.join(src, 'x'), path.join(src, 'x/y/f')]);
  for (const d of ['', 'x', 'x/y']) assert.equal(atime(d), 1600000000 * 1000, `${d || '.'}: read by getfattr`);
});

test('without xargs every path is read in batches after the scan: the same attributes', { skip, timeout: 60_000 }, async () => {
  const { src, single } = fs.existsSync(path.join(work, 'src')) ? { src: path.join(work, 'src'), single: path.join(work, 'single') } : makeSource();
  const bin = path.join(work, 'bin-without-xargs');
  fs.mkdirSync(bin, { recursive: true });
  // getfattr, and attr for the order of several attributes: the attr package without findutils
  for (const tool of ['getfattr', 'attr']) {
    const at = ['/usr/bin/', '/bin/'].map((d) => d + tool).find((p) => fs.existsSync(p))!;
    if (!fs.existsSync(path.join(bin, tool))) fs.symlinkSync(at, path.join(bin, tool));
  }
  const env = { ...process.env, PATH: bin };
  const prefetch = new XattrPrefetch(env);
  const tree = await buildTree({ ...spec(src, single), ...prefetch.scanHooks() });
  const r = await attachHostXattrs(tree, env, process.platform, prefetch);
  assert.equal(r.unavailable, undefined);
  assert.deepEqual(r.problems, []);
  assert.equal(prefetch.covering(src), undefined, 'nothing covered once xargs could not start');
  const batch = await buildTree(spec(src, single));
  await attachHostXattrs(batch);
  assert.deepEqual(dump(tree), dump(batch));
  assert.ok(Object.values(dump(tree)).some((xs) => xs.length > 0));
});
