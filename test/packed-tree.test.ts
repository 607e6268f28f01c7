/**
 * The packed tree encoding (src/tree/packed.ts): encode → decode gives the same tree (hard links
 * shared again, xattrs, every source kind, host paths derived or explicit), children are in
 * strcmp byte order, and VirtualTree reads the same answers from it as the objects say.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildTree } from '../src/tree/build.js';
import { byteOrder, emptyMeta, lookup, newTree, walk, type DirNode, type FileNode, type SourceTree, type TreeNode } from '../src/tree/model.js';
import { PackedView, packTree, transferablesOf, unpackTree, xattrsBelowRoot, U_STRIDE, U_NAME, U_NAME_LEN } from '../src/tree/packed.js';
import { VirtualTree, treeTotals } from '../src/fs/wasm/vtree.js';
import { treeStats } from '../src/plan/minimize/stats.js';

/** The tree as plain data: entries listed in byte order (the order a decoded tree has). */
function canon(tree: SourceTree): unknown {
  const node = (n: TreeNode): unknown => {
    if (n.kind !== 'dir') return n;
    const { entries, ...rest } = n;
    return { ...rest, entries: byteOrder([...entries.keys()]).map((k) => [k, node(entries.get(k)!)]) };
  };
  return { root: node(tree.root), nextIno: tree.nextIno };
}

function sample(): { tree: SourceTree; hard: FileNode } {
  const t = newTree({ ...emptyMeta(0o755, { sec: 5, nsec: 6 }) });
  t.root.hostPath = '/src';
  const ctime = { sec: 1_700_000_000, nsec: 123 };
  const meta = (perm: number, sec: number) => ({ perm, uid: 1000, gid: 100, atime: { sec, nsec: 1 }, mtime: { sec, nsec: 999_999_999 }, ctime });
  const usr: DirNode = { kind: 'dir', ino: 2, meta: meta(0o755, 10), entries: new Map(), hostPath: '/src/usr', subvolume: { readOnly: true, nodatacow: false, isDefault: true } };
  const hard: FileNode = {
    kind: 'file', ino: 3, meta: { ...meta(0o4755, 11), xattrs: [{ name: 'user.\u00e9t\u00e9', value: new Uint8Array([0, 1, 255]) }, { name: 'security.capability', value: new Uint8Array(20).fill(7) }] },
    size: 12, allocated: 4096, source: { kind: 'host', path: '/src/usr/bin', dev: 0xfd01n, ino: 2n ** 60n + 5n },
  };
  t.root.entries.set('usr', usr);
  usr.entries.set('bin', hard);
  const other: DirNode = { kind: 'dir', ino: 4, meta: meta(0o700, 12), entries: new Map() };
  t.root.entries.set('other', other);
  other.entries.set('link-to-bin', hard);
  usr.entries.set('again', hard);
  usr.entries.set('plain', { kind: 'file', ino: 5, meta: meta(0o644, 9), size: 0, source: { kind: 'host', path: '/src/usr/plain' } });
  // names whose UTF-8 byte order differs from UTF-16 code unit order
  for (const [i, name] of ['z', '\u{1F600}', '\uFFFD', '\u00e9', 'A', '\u30a2', 'a b', 'Z'].entries()) {
    usr.entries.set(name, { kind: 'file', ino: 10 + i, meta: meta(0o644, 100 + i), size: 0, source: { kind: 'host', path: `/elsewhere/${i}`, dev: 0xfd01n, ino: BigInt(100 + i) } });
  }
  other.entries.set('bytes', { kind: 'file', ino: 30, meta: { ...meta(0o600, 13), xattrs: [] }, size: 3, source: { kind: 'bytes', data: new Uint8Array([1, 2, 3]) } });
  other.entries.set('member', { kind: 'file', ino: 31, meta: meta(0o644, 14), size: 9, source: { kind: 'archive', path: '/a.tar', offset: 2 ** 40 + 512, dev: 1n, ino: 2n } });
  other.entries.set('sym', { kind: 'symlink', ino: 32, meta: meta(0o777, 15), target: '../usr/\u00e9', hostPath: '/x/sym' });
  other.entries.set('tty', { kind: 'char', ino: 33, meta: meta(0o620, 16), rdev: (4 << 8) | 1, hostPath: '/dev/tty1' });
  other.entries.set('fifo', { kind: 'fifo', ino: 34, meta: { ...emptyMeta(0o644), atime: { sec: -5, nsec: 0 } }, rdev: 0 });
  t.nextIno = 35;
  return { tree: t, hard };
}

test('packed tree: encode → decode is the same tree, hard links shared again', () => {
  const { tree } = sample();
  const p = packTree(tree);
  const back = unpackTree(p);
  assert.deepEqual(canon(back), canon(tree));
  const a = lookup(back, '/usr/bin');
  assert.ok(a && a === lookup(back, '/other/link-to-bin') && a === lookup(back, '/usr/again'), 'one object for the three names');
  assert.notEqual(lookup(back, '/usr/z'), lookup(back, '/usr/Z'));
  // host paths: derived ones are not stored, explicit ones are
  const heap = Buffer.from(p.heap).toString('latin1');
  assert.ok(!heap.includes('/src/usr/plain') && heap.includes('plain'), 'a derived host path is not in the heap');
  assert.ok(heap.includes('/elsewhere/3') && heap.includes('/a.tar'), 'explicit ones are');
  assert.equal(transferablesOf(p).length, new Set(transferablesOf(p)).size, 'each buffer its own');
});

test('packed tree: every directory\'s children in strcmp (UTF-8 byte) order', () => {
  const p = packTree(sample().tree);
  const v = new PackedView(p);
  const usr = v.lookup(0, 'usr');
  const names: Buffer[] = [];
  for (let k = 0; k < v.childCount(usr); k++) {
    const i = v.first(usr) + k;
    names.push(Buffer.from(p.heap.subarray(p.u[i * U_STRIDE + U_NAME]!, p.u[i * U_STRIDE + U_NAME]! + p.u[i * U_STRIDE + U_NAME_LEN]!)));
  }
  for (let k = 1; k < names.length; k++) assert.ok(Buffer.compare(names[k - 1]!, names[k]!) < 0, `${names[k - 1]} < ${names[k]}`);
  assert.deepEqual(names.map((n) => n.toString()), ['A', 'Z', 'a b', 'again', 'bin', 'plain', 'z', '\u00e9', '\u30a2', '\uFFFD', '\u{1F600}']);
  // each found by binary search, ASCII or not; absent names are not
  for (const n of names) assert.ok(v.lookup(usr, n.toString()) >= 0, n.toString());
  for (const n of ['', 'b', '\u00e8', 'zz', '\u{1F601}', 'bin2']) assert.equal(v.lookup(usr, n), -1, n);
});

test('VirtualTree on the packed form answers as the objects say', () => {
  const { tree, hard } = sample();
  const vt = new VirtualTree(packTree(tree), '/m', (e) => new Error(e));
  for (const { path: p, node } of walk(tree)) {
    const r = vt.resolve('/m' + (p === '/' ? '' : p), false);
    assert.equal(r.kind, node.kind, p);
    const st = vt.stat(r);
    assert.equal(st.ino, node.ino, p);
    assert.equal(st.mode & 0o7777, node.meta.perm, p);
    assert.equal(st.uid, node.meta.uid);
    assert.equal(st.mtime.getTime(), node.meta.mtime.sec * 1000, p);
    assert.equal(st.atime.getTime(), node.meta.atime.sec * 1000, p);
    assert.equal(st.ctime.getTime(), node.meta.ctime.sec * 1000, p);
    if (node.kind === 'symlink') assert.equal(vt.readlink(r), node.target);
    if (node.kind === 'char') assert.equal(st.rdev, node.rdev);
    if (node.kind === 'dir') assert.deepEqual(vt.readdir(r).slice(2), byteOrder([...node.entries.keys()]));
  }
  const bin = vt.resolve('/m/usr/bin', false);
  assert.equal(vt.stat(bin).nlink, 3);
  assert.equal(vt.stat(vt.resolve('/m', false)).nlink, 4);
  assert.equal(Buffer.from(vt.xattrList(bin)).toString(), 'user.\u00e9t\u00e9\0security.capability\0');
  assert.deepEqual([...vt.xattrValue(bin, 'user.\u00e9t\u00e9')], [0, 1, 255]);
  assert.throws(() => vt.xattrValue(bin, 'user.none'), /ENODATA/);
  assert.equal(vt.resolve('/m/other/sym', true).i, vt.resolve('/m/usr/\u00e9', false).i, 'a non-ASCII target resolves');
  assert.deepEqual(treeTotals(tree), { files: 12, bytes: hard.size + 3 + 9 });
  assert.deepEqual(treeTotals(packTree(tree)), treeTotals(tree));
});

test('packed tree: a scanned host tree round-trips (derived paths, hard links, symlinks)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'packed-'));
  try {
    const src = path.join(dir, 'src');
    fs.mkdirSync(path.join(src, 'a/b\u00e9'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a/b\u00e9/f'), 'data');
    fs.linkSync(path.join(src, 'a/b\u00e9/f'), path.join(src, 'a/hard'));
    fs.symlinkSync('b\u00e9/f', path.join(src, 'a/sym'));
    fs.writeFileSync(path.join(src, 'top'), '');
    const tree = await buildTree({
      copySource: src, copyFiles: [{ source: '/', target: '/' }, { source: '/a/b\u00e9/f', target: '/renamed' }], excludeFiles: [], excludeFilesTarget: [], makeDirectories: ['/made/here'],
      makeSymlinks: [], subvolumes: [], owner: { uid: 0, gid: 0 }, now: { sec: 0, nsec: 0 },
    });
    const back = unpackTree(packTree(tree));
    assert.deepEqual(canon(back), canon(tree));
    const fileData = { fileData: { blockSize: 4096, maxRun: 32768 } };
    assert.deepEqual(treeStats(packTree(tree, { shared: true }), fileData), treeStats(tree, fileData), 'the Minimize= statistics from either form');
    assert.equal(lookup(back, '/a/hard'), lookup(back, '/a/b\u00e9/f'));
    const f = lookup(back, '/renamed') as FileNode;
    assert.equal(f.source.kind === 'host' && f.source.path, path.join(src, 'a/b\u00e9/f'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('treeStats: the packed form gives the statistics the objects give, in the same order', () => {
  const { tree } = sample();
  const opts = { fileData: { blockSize: 4096, maxRun: 32768 } };
  const packed = packTree(tree, { shared: true });
  assert.ok(packed.u.buffer instanceof SharedArrayBuffer && transferablesOf(packed).length === 0, 'a shared tree is posted, not transferred');
  const a = treeStats(tree, opts);
  assert.deepEqual(treeStats(packed, opts), a);
  assert.equal(a.extraLinks, 2, 'the hard link\'s two other names');
  assert.equal(a.xattrs.length, 1);
});

test('treeStats: files of one block count share one frozen FileData (an object per file was ~40 MB at 1M files)', () => {
  const t = newTree(emptyMeta(0o755, { sec: 0, nsec: 0 }));
  const file = (name: string, size: number): void => {
    t.root.entries.set(name, { kind: 'file', ino: t.nextIno++, meta: emptyMeta(0o644, { sec: 0, nsec: 0 }), size, allocated: Math.ceil(size / 4096) * 4096, source: { kind: 'host', path: `/nonexistent/${name}` } });
  };
  file('a', 0);
  file('b', 0);
  file('c', 5000);
  file('d', 8192);
  file('e', 100);
  const opts = { fileData: { blockSize: 4096, maxRun: 32768 } };
  for (const st of [treeStats(t, opts), treeStats(packTree(t), opts)]) {
    assert.deepEqual(st.fileSizes, [0, 0, 5000, 8192, 100]);
    assert.deepEqual(st.fileData, [{ blocks: 0, extents: 0 }, { blocks: 0, extents: 0 }, { blocks: 2, extents: 1 }, { blocks: 2, extents: 1 }, { blocks: 1, extents: 1 }]);
    const fd = st.fileData!;
    assert.ok(fd[0] === fd[1] && fd[2] === fd[3] && fd[0] !== fd[4], 'one object per block count');
    assert.ok(Object.isFrozen(fd[0]), 'shared, so not to be changed');
  }
});

test('xattrsBelowRoot: an entry\'s attributes count (a hard link\'s through its data), the root\'s alone do not', () => {
  const { tree, hard } = sample();
  // the sample's hard-linked file carries two
  assert.equal(xattrsBelowRoot(packTree(tree, { shared: false })), true);
  delete hard.meta.xattrs;
  assert.equal(xattrsBelowRoot(packTree(tree, { shared: false })), false);
  tree.root.meta.xattrs = [{ name: 'user.validatefs.mount_point', value: new Uint8Array([47, 0]) }];
  assert.equal(xattrsBelowRoot(packTree(tree, { shared: false })), false, 'the root\'s own (validatefs) do not count');
  (tree.root.entries.get('other') as DirNode).meta.xattrs = [{ name: 'user.x', value: new Uint8Array(0) }];
  assert.equal(xattrsBelowRoot(packTree(tree, { shared: false })), true, 'an empty value is still an attribute');
});
