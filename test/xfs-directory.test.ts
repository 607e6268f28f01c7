/**
 * Format=xfs under 262: mkfs.xfs is given the tree's directory (`-p <dir>`, as 262 gives sid's
 * 7.2.0), which our 6.13.0 build reads as 7.2.0 does (wasm/xfs/ext/populate_dir.c). Judged by
 * bookworm's xfs_repair -n and xfs_db, with 7.2.0's new incompat features turned off (bookworm's
 * 6.1 cannot read exchange/parent); test/oracle/xfs-directory.test.ts compares with 262 itself.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FormatJob } from '../src/fs/driver.js';
import { mkfsXfsArgs, populatesFromDirectory, sidDefaultArgs, xfsDriver } from '../src/fs/xfs/index.js';
import { emptyMeta, newTree, type DirNode, type FileNode, type NodeMeta, type TreeNode } from '../src/tree/model.js';

const MiB = 1024 * 1024;
const UUID = '5e0c3a41-8e0f-4a8b-9d52-3f6a1c2b7e90';
const EPOCH = 1700000000;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'xfs-dir-test-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const noTools = spawnSync('xfs_repair', ['-V']).status === 0 ? false : 'xfsprogs not installed on the host (apt-get install xfsprogs)';

function job(over: Partial<FormatJob> & Pick<FormatJob, 'window'>): FormatJob {
  return {
    format: 'xfs', label: 'root', fsUuid: UUID, sectorSize: 4096, tree: null, sourceDateEpoch: EPOCH, systemdVersion: 262,
    extraOptions: [], discard: true, subvolumes: [], definitionFile: '/etc/repart.d/10-root.conf', windowZeroed: true, ...over,
  };
}

test('262 gives mkfs.xfs the directory (-p <mount point>) and 7.2.0\'s autofsck default, unless the options rule it out', () => {
  const j = job({ window: { path: '/x', offset: 0, size: 400 * MiB } });
  // v260 moved from the protofile to the directory (formatting.md §3)
  assert.deepEqual([257, 259, 260, 262].map((v) => populatesFromDirectory({ ...j, systemdVersion: v })), [false, false, true, true]);
  const args = mkfsXfsArgs(j, 'directory');
  assert.deepEqual(args.slice(args.indexOf('-p'), args.indexOf('-p') + 2), ['-p', '/repart-root']);
  assert.deepEqual(args.slice(-3), ['-m', 'autofsck=repair', '/dev/repart-partition']);
  // 7.2.0 sets trusted.xfs:autofsck only with reverse mapping and parent pointers (measured)
  assert.deepEqual(sidDefaultArgs(['-m', 'rmapbt=0']), ['-i', 'exchange=1', '-n', 'parent=1']);
  assert.deepEqual(sidDefaultArgs(['-nparent=0']), ['-i', 'exchange=1']);
  assert.deepEqual(sidDefaultArgs(['-m', 'autofsck=none']), ['-i', 'exchange=1', '-n', 'parent=1']);
  assert.deepEqual(sidDefaultArgs(['-m', 'rmapbt=0,rmapbt']), ['-i', 'exchange=1', '-n', 'parent=1', '-m', 'autofsck=repair']);
});

function xfsDb(img: string, cmds: string[]): string {
  const r = spawnSync('xfs_db', ['-r', ...cmds.flatMap((c) => ['-c', c]), img], { encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** name → inode number of one directory. */
function ls(img: string, ino: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of xfsDb(img, [`inode ${ino}`, 'ls']).split('\n')) {
    const m = /^\d+\s+(\d+)\s+\S+\s+0x[0-9a-f]+\s+\d+ (.*) \(good\)$/.exec(line);
    if (m && m[2] !== '.' && m[2] !== '..') out.set(m[2]!, Number(m[1]));
  }
  return out;
}

function field(print: string, name: string): string {
  const m = new RegExp(`^${name.replaceAll('.', '\\.').replaceAll('[', '\\[').replaceAll(']', '\\]')} = (.*)$`, 'm').exec(print);
  assert.ok(m, `${name} in\n${print}`);
  return m[1]!;
}

test('262: the tree read as a directory: modes with sticky bits, owners, mtimes to the ns, the epoch as clock, hard links, xattrs everywhere', { skip: noTools, timeout: 120_000 }, async () => {
  const meta = (perm: number, over: Partial<NodeMeta> = {}): NodeMeta => ({ ...emptyMeta(perm, { sec: 1_600_000_000, nsec: 987_654_321 }), ...over });
  const t = newTree(meta(0o750, { uid: 3, gid: 4, xattrs: [{ name: 'user.validatefs.gpt_label', value: Buffer.from('root\0') }] }));
  let ino = 10;
  const add = (dir: DirNode, name: string, node: TreeNode): TreeNode => (dir.entries.set(name, node), node);
  const data = new Uint8Array(100_000).fill(9);
  const file: FileNode = { kind: 'file', ino: ino++, meta: meta(0o644, { mtime: { sec: 1_234_567_890, nsec: 123_456_789 }, xattrs: [{ name: 'user.f', value: Buffer.from('v') }] }), size: data.length, source: { kind: 'bytes', data } };
  const pub = add(t.root, 'pub', { kind: 'dir', ino: ino++, meta: meta(0o1777, { xattrs: [{ name: 'user.d', value: Buffer.from('dir') }] }), entries: new Map() }) as DirNode;
  add(pub, 'a', file);
  add(t.root, 'b', file);
  add(t.root, 'sgid', { kind: 'file', ino: ino++, meta: meta(0o2755, { uid: 5 }), size: 1, source: { kind: 'bytes', data: new Uint8Array([1]) } });
  // a target with spaces: a protofile cannot say it (257 refuses it), a directory can
  add(t.root, 'l', { kind: 'symlink', ino: ino++, meta: meta(0o777, { mtime: { sec: 4_000_000_000, nsec: 1 }, xattrs: [{ name: 'trusted.t', value: Buffer.from('x') }] }), target: 'a b c' });
  add(t.root, 'p', { kind: 'fifo', ino: ino++, meta: meta(0o640), rdev: 0 });
  add(t.root, 's', { kind: 'socket', ino: ino++, meta: meta(0o755), rdev: 0 });
  add(t.root, 'c', { kind: 'char', ino: ino++, meta: meta(0o620, { gid: 5 }), rdev: 0x10300 + 5 }); // major 259 minor 5
  const img = path.join(work, 'dir.img');
  fs.writeFileSync(img, '');
  fs.truncateSync(img, 400 * MiB);
  // bookworm's xfs tools (6.1) do not know 7.2.0's exchange and parent features
  const out = await xfsDriver.format(job({ window: { path: img, offset: 0, size: 400 * MiB }, tree: t, extraOptions: ['-n', 'parent=0', '-i', 'exchange=0'] }));
  assert.deepEqual(out.warnings, []);
  const rep = spawnSync('xfs_repair', ['-n', '-f', img], { encoding: 'utf8' });
  assert.equal(rep.status, 0, rep.stderr + rep.stdout);

  const rootIno = Number(/rootino = (\d+)/.exec(xfsDb(img, ['sb 0', 'print rootino']))![1]);
  const root = ls(img, rootIno);
  const under = ls(img, root.get('pub')!);
  assert.deepEqual([...root.keys()], ['b', 'c', 'l', 'p', 'pub', 's', 'sgid'], 'strcmp order');
  assert.equal(root.get('b'), under.get('a'), 'one inode for both names');
  const print = (i: number) => xfsDb(img, [`inode ${i}`, 'print']);
  const r = print(rootIno);
  assert.equal(field(r, 'core.mode'), '040750');
  assert.equal(`${field(r, 'core.uid')}:${field(r, 'core.gid')}`, '3:4');
  assert.equal(field(r, 'core.mtime.nsec'), '0', 'the root has the clock\'s times');
  assert.equal(field(r, 'core.nlinkv2'), '3');
  assert.match(r, /a\.sfattr\.list\[\d\]\.name = "validatefs\.gpt_label"/);
  const f = print(root.get('b')!);
  assert.equal(field(f, 'core.nlinkv2'), '2');
  assert.equal(field(f, 'core.size'), '100000');
  assert.equal(field(f, 'core.mtime.nsec'), '123456789');
  assert.match(field(f, 'core.mtime.sec'), /2009/);
  assert.match(field(f, 'core.atime.sec'), /Nov 14 .* 2023/, 'SOURCE_DATE_EPOCH is the clock');
  assert.equal(field(f, 'core.atime.nsec'), '0');
  assert.equal(field(f, 'a.sfattr.list[0].name'), '"f"');
  const d = print(root.get('pub')!);
  assert.equal(field(d, 'core.mode'), '041777');
  assert.equal(field(d, 'core.mtime.nsec'), '987654321');
  assert.equal(field(d, 'a.sfattr.list[0].name'), '"d"');
  const s = print(root.get('sgid')!);
  assert.equal(field(s, 'core.mode'), '0102755');
  assert.equal(field(s, 'core.uid'), '5');
  const l = print(root.get('l')!);
  assert.equal(field(l, 'core.mtime.nsec'), '1');
  assert.match(field(l, 'core.mtime.sec'), /2096/, '64-bit seconds (emscripten\'s stat() has 32)');
  assert.equal(field(l, 'a.sfattr.list[0].root'), '1');
  assert.match(xfsDb(img, [`inode ${root.get('l')!}`, 'print u3']), /a b c/);
  assert.equal(field(print(root.get('p')!), 'core.mode'), '010640');
  assert.equal(field(print(root.get('s')!), 'core.mode'), '0140755', 'sockets too, as 7.2.0');
  const c = print(root.get('c')!);
  assert.equal(field(c, 'core.mode'), '020620');
  // IRIX_MKDEV(259, 5), as the protofile route stores it
  assert.equal(field(c, 'u3.dev'), `0x${((259 << 18) | 5).toString(16)}`);
});
