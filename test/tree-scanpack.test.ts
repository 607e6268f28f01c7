/**
 * The packed scan (src/tree/scanpack.ts) gives the tree the object scan gives, packed: the same
 * entries, inode numbers, metadata, host paths, hard links, for merges, exclusions, replaced
 * entries, MakeDirectories=/MakeSymlinks=/Subvolumes=.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, mkdirSync, writeFileSync, symlinkSync, linkSync, rmSync, utimesSync } from 'node:fs';
import { timespecOfNs } from '../src/io/host-stat.js';
import type { DirNode } from '../src/tree/model.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTree, type TreeSpec } from '../src/tree/build.js';
import { scanPacked } from '../src/tree/scanpack.js';
import { FsError } from '../src/errors.js';
import { packTree, PackedView, U_ATIME, type PackedTree } from '../src/tree/packed.js';

/** every record, by path, with everything a reader can ask */
export function dump(p: PackedTree): string[] {
  const v = new PackedView(p);
  const out: string[] = [];
  const visit = (i: number, path: string): void => {
    const d = v.data(i);
    const fields = [path, v.kind(i), v.ino(i), v.perm(i), v.field(i, 2), v.field(i, 3), v.nlink(i), JSON.stringify(v.mtime(i)), // a directory's or symlink's atime moves when the first scan reads it (relatime)
      v.kind(i) === 'dir' || v.kind(i) === 'symlink' ? '-' : JSON.stringify(v.time(i, 11)), JSON.stringify(v.time(i, 12)),
      v.hostPath(i), JSON.stringify(v.xattrs(i)?.map((x) => [x.name, Buffer.from(x.value).toString('hex')]))];
    if (v.kind(i) === 'file') fields.push(v.size(i), v.allocated(i), String(v.dev(i)), String(v.srcIno(i)), v.srcKind(i), d === i ? 'data' : 'link:' + v.hostPath(d));
    if (v.kind(i) === 'symlink') fields.push(v.target(i));
    if (v.kind(i) === 'dir') fields.push(JSON.stringify(v.subvolume(i)), v.childCount(i));
    out.push(fields.map(String).join(' '));
    if (v.kind(i) === 'dir') {
      let prev: Buffer | null = null;
      for (let c = v.first(i); c < v.first(i) + v.childCount(i); c++) {
        assert.equal(v.parent(c), i);
        assert.ok(c > i);
        const nb = Buffer.from(v.name(c));
        if (prev) assert.ok(Buffer.compare(prev, nb) < 0, 'byte order');
        prev = nb;
        visit(c, path + '/' + v.name(c));
      }
    }
  };
  visit(0, '');
  assert.equal(out.length, p.count);
  return out;
}

export async function same(spec: TreeSpec): Promise<void> {
  const a = dump(packTree(await buildTree(spec), { shared: true }));
  const s = scanPacked(spec);
  const b = dump(s.finish());
  assert.deepEqual(b, a);
}

function spec(root: string, over: Partial<TreeSpec>): TreeSpec {
  return { copySource: root, copyFiles: [], excludeFiles: [], excludeFilesTarget: [], makeDirectories: [], makeSymlinks: [], subvolumes: [], owner: { uid: 1, gid: 2 }, now: { sec: 1700000000, nsec: 5 }, ...over };
}

test('packed scan equals the object scan', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tree-scanpack-'));
  try {
    const mk = (p: string, s = 'x') => { mkdirSync(join(root, p, '..'), { recursive: true }); writeFileSync(join(root, p), s); };
    mk('a/one'); mk('a/two', 'yy'); mk('a/sub/deep/f'); mk('a/é'); mk('a/z\u{1f600}'); mk('a/\uff21');
    mk('b/one', 'other'); mk('b/sub/g'); mk('b/sub/deep/h'); mk('b/new/x'); mk('b/two/inner');
    mkdirSync(join(root, 'a/emptydir'));
    symlinkSync('one', join(root, 'a/ln'));
    linkSync(join(root, 'a/one'), join(root, 'a/sub/hard1'));
    linkSync(join(root, 'a/one'), join(root, 'b/hard2'));
    linkSync(join(root, 'a/two'), join(root, 'a/aaa-hard'));
    mk('single', 'file');
    utimesSync(join(root, 'a/two'), 1000, 2000);
    utimesSync(join(root, 'a/sub'), 3000, 3000);
    const lines = (...l: [string, string][]) => l.map(([source, target]) => ({ source, target }));
    await same(spec(root, { copyFiles: lines(['/a', '/']) }));
    await same(spec(root, { copyFiles: lines(['/a', '/'], ['/b', '/']) }));
    await same(spec(root, { copyFiles: lines(['/b', '/'], ['/a', '/']) }));
    await same(spec(root, { copyFiles: lines(['/a', '/usr'], ['/b', '/usr/lib'], ['/single', '/usr/bin/s'], ['/a/sub', '/x/y']) }));
    await same(spec(root, { copyFiles: lines(['/', '/']), excludeFiles: ['/a/sub/', '/b/one'], excludeFilesTarget: ['/b/new'] }));
    await same(spec(root, { copyFiles: lines(['/a', '/'], ['/b', '/']), mapOwnersToRoot: true, makeDirectories: ['/m/n', '/sub/q'], makeSymlinks: [{ path: '/m/l', target: '/x' }], subvolumes: [{ path: '/m', readOnly: true, nodatacow: false }], defaultSubvolume: '/m' }));
    await same(spec(root, { copyFiles: lines(['/a/one', '/f'], ['/a', '/d']), sourceDateEpoch: 1 }));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a hard-linked symlink is two symlinks, each with its target; a hard-linked FIFO stays one inode (systemd-repart\'s copy)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tree-scanpack-hlsym-'));
  try {
    mkdirSync(join(root, 'd/sub'), { recursive: true });
    symlinkSync('target-of-link', join(root, 'd/s1'));
    linkSync(join(root, 'd/s1'), join(root, 'd/sub/s2'));
    execFileSync('mkfifo', [join(root, 'd/p1')]);
    linkSync(join(root, 'd/p1'), join(root, 'd/sub/p2'));
    const sp = spec(root, { copyFiles: [{ source: '/d', target: '/' }] });
    await same(sp);
    const v = new PackedView(scanPacked(sp).finish());
    const byName = new Map<string, number>();
    for (let i = 0; i < v.count; i++) byName.set(v.name(i), i);
    const [s1, s2, p1, p2] = ['s1', 's2', 'p1', 'p2'].map((n) => byName.get(n)!);
    for (const s of [s1!, s2!]) {
      assert.equal(v.kind(s), 'symlink');
      assert.equal(v.data(s), s, 'a symlink of its own, not a link record');
      assert.equal(v.target(s), 'target-of-link');
      assert.equal(v.nlink(s), 1);
    }
    assert.notEqual(v.ino(s1!), v.ino(s2!));
    assert.equal(v.ino(p1!), v.ino(p2!), 'the FIFO\'s names share an inode');
    assert.equal(v.nlink(p2!), 2);
    const objects = await buildTree(sp);
    const a = objects.root.entries.get('s1')!, b = (objects.root.entries.get('sub') as DirNode).entries.get('s2')!;
    assert.notEqual(a, b);
    assert.ok(a.kind === 'symlink' && b.kind === 'symlink' && a.target === 'target-of-link' && b.target === 'target-of-link');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('packed scan equals the object scan on a bench tree', { skip: !process.env.REPART_TS_SCANPACK_TREE }, async () => {
  await same(spec('/', { copyFiles: [{ source: process.env.REPART_TS_SCANPACK_TREE!, target: '/usr' }] }));
});

test('eachHost leaves out exactly the paths below what it is told to skip', () => {
  const root = mkdtempSync(join(tmpdir(), 'tree-scanpack-skip-'));
  try {
    const mk = (p: string) => { mkdirSync(join(root, p, '..'), { recursive: true }); writeFileSync(join(root, p), 'x'); };
    mk('a/one'); mk('a/sub/deep/f'); mk('b/two'); mk('b/sub/g'); mk('single');
    linkSync(join(root, 'b/two'), join(root, 'a/sub/hard'));
    const lines = (...l: [string, string][]) => l.map(([source, target]) => ({ source, target }));
    // /b lands inside /a's copy, /a/sub a second time elsewhere: host paths of their own below a skipped one
    const s = scanPacked(spec(root, { copyFiles: lines(['/a', '/usr'], ['/b', '/usr/lib'], ['/single', '/usr/sub/s'], ['/a/sub', '/x/y']) }));
    const all: string[] = [];
    s.eachHost((_i, p) => all.push(p));
    for (const under of [join(root, 'a'), join(root, 'a/sub'), join(root, 'b'), root]) {
      const covered = (p: string) => p === under || p.startsWith(under + '/');
      const seen: string[] = [];
      let asked = 0;
      s.eachHost((_i, p) => seen.push(p), (p) => (asked++, covered(p)));
      assert.deepEqual(seen, all.filter((p) => !covered(p)), under);
      // the names below a skipped directory are not asked about (their paths are never built)
      assert.ok(asked < all.length || all.every((p) => !covered(p)), `${under}: asked ${asked} of ${all.length}`);
    }
    assert.ok(all.includes(join(root, 'b/sub/g')) && all.includes(join(root, 'single')));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('both scans keep host times to the nanosecond (Node\'s float milliseconds are ~100 ns off), before 1970 too', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tree-scanpack-ns-'));
  try {
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'd/f'), 'x');
    writeFileSync(join(root, 'd/old'), 'y');
    utimesSync(join(root, 'd/f'), 1600000001.25, 1600000001.123456789);
    // Node's utimes takes a negative time for "now": touch sets it
    execFileSync('touch', ['-d', '@-2.25', join(root, 'd/old')]);
    utimesSync(join(root, 'd'), 1600000002.5, 1600000002.987654321);
    const exact = (p: string) => {
      const st = lstatSync(join(root, p), { bigint: true });
      return { m: timespecOfNs(st.mtimeNs), a: timespecOfNs(st.atimeNs) };
    };
    const s = spec(root, { copyFiles: [{ source: '/d', target: '/d' }] });
    const objects = await buildTree(s);
    const v = new PackedView(scanPacked(s).finish());
    const byName = new Map<string, number>();
    for (let i = 0; i < v.count; i++) byName.set(v.name(i), i);
    const d = objects.root.entries.get('d') as DirNode;
    for (const [p, node, rec] of [['d', d, byName.get('d')!], ['d/f', d.entries.get('f')!, byName.get('f')!], ['d/old', d.entries.get('old')!, byName.get('old')!]] as const) {
      const want = exact(p);
      assert.deepEqual(node.meta.mtime, want.m, `${p}: object scan mtime`);
      assert.deepEqual(v.mtime(rec), want.m, `${p}: packed scan mtime`);
      if (p !== 'd') {
        assert.deepEqual(node.meta.atime, want.a, `${p}: object scan atime`);
        assert.deepEqual(v.time(rec, U_ATIME), want.a, `${p}: packed scan atime`);
      }
    }
    assert.ok(v.mtime(byName.get('old')!).nsec >= 0 && v.mtime(byName.get('old')!).sec < 0);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a name that is not UTF-8 is a clear error in both scans (Node would hand it over as a path to nothing); a real U+FFFD is a name', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tree-scanpack-utf8-'));
  try {
    mkdirSync(join(root, 'd'));
    writeFileSync(join(root, 'd/ok-\uFFFD'), 'x');
    const s = spec(root, { copyFiles: [{ source: '/d', target: '/d' }] });
    assert.ok((await buildTree(s)).root.entries.get('d'));
    scanPacked(s);
    writeFileSync(Buffer.concat([Buffer.from(join(root, 'd') + '/bad'), Buffer.from([0xff]), Buffer.from('name')]), 'y');
    const bad = (e: unknown) => e instanceof FsError && e.code === 'E_SOURCE' && e.message.includes('/d/bad\\xffname') && /not valid UTF-8/.test(e.message);
    await assert.rejects(buildTree(s), bad);
    assert.throws(() => scanPacked(s), bad);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
