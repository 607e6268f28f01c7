/**
 * Format=xfs through the WebAssembly mkfs.xfs (xfsprogs 6.13.0): systemd-repart's argv and
 * protofile, images judged by xfs_repair -n and read back with xfs_db, nothing written
 * outside the window, Minimize=guess measured as repart does. (Comparisons with the native
 * tools and systemd-repart are in test/oracle/xfs.test.ts.)
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FormatJob } from '../src/fs/driver.js';
import { FsError } from '../src/errors.js';
import { mkfsXfsArgs, PROTOFILE_PATH, sidDefaultArgs, xfsDriver } from '../src/fs/xfs/index.js';
import { makeProtofile } from '../src/fs/xfs/protofile.js';
import { xfsMeasuredBytes } from '../src/plan/minimize/xfs.js';
import { emptyMeta, newTree, type DirNode, type SourceTree } from '../src/tree/model.js';
import { describeTree, hostTree, makeFixture } from './wasm-helpers.js';
import { describeXfs } from './xfs-helpers.js';
import { asCompat } from '../src/compat.js';
import { runOurs } from './helpers/reference.js';

const MiB = 1024 * 1024;
const UUID = '5e0c3a41-8e0f-4a8b-9d52-3f6a1c2b7e90';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'xfs-test-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const hasXfsRepair = spawnSync('xfs_repair', ['-V']).status === 0;
const noTools = hasXfsRepair ? false : 'xfsprogs not installed on the host (apt-get install xfsprogs)';

function job(over: Partial<FormatJob> & Pick<FormatJob, 'window'>): FormatJob {
  return {
    format: 'xfs', label: 'root-x86-64', fsUuid: UUID, sectorSize: 4096, tree: null, sourceDateEpoch: 1700000000,
    extraOptions: [], discard: true, subvolumes: [], definitionFile: '/etc/repart.d/10-root.conf', windowZeroed: true, ...over,
  };
}

function sparseImage(name: string, size: number): string {
  const p = path.join(work, name);
  fs.rmSync(p, { force: true });
  fs.writeFileSync(p, '');
  fs.truncateSync(p, size);
  return p;
}

test('mkfs.xfs argv is systemd-repart\'s: label cut to 12 bytes, -K without discard, 262 gets 7.2.0\'s defaults', () => {
  const w = { path: '/x', offset: 0, size: 400 * MiB };
  const j = job({ window: w, label: 'a-very-long-label', discard: false, systemdVersion: 257 });
  assert.deepEqual(mkfsXfsArgs(j, null), ['-L', 'a-very-long-', '-m', `uuid=${UUID}`, '-m', 'reflink=1', '-K', '-s', 'size=4096', '/dev/repart-partition']);
  const proto = { text: '', slashesAreSpaces: true, aliases: {} };
  assert.deepEqual(mkfsXfsArgs({ ...j, discard: true, systemdVersion: 262, label: 'äöüäöüä' }, proto), [
    '-L', 'äöüäöü', '-m', `uuid=${UUID}`, '-m', 'reflink=1', '-p', `slashes_are_spaces=1,${PROTOFILE_PATH}`, '-s', 'size=4096',
    '-i', 'exchange=1', '-n', 'parent=1', '-m', 'autofsck=repair', '/dev/repart-partition',
  ]);
  // SYSTEMD_REPART_MKFS_OPTIONS_XFS that set those suboptions themselves win (no "respecified")
  assert.deepEqual(sidDefaultArgs(['-n', 'parent=0']), ['-i', 'exchange=1']);
  assert.deepEqual(sidDefaultArgs(['-isparse=1,exchange=0', '-n', 'size=8192']), ['-n', 'parent=1', '-m', 'autofsck=repair']);
});

test('protofile: repart\'s format (sorted, u/g bits, sticky lost, devices, spaces as slashes, aliases)', () => {
  const t = newTree();
  const add = (dir: DirNode, name: string, node: object): void => void dir.entries.set(name, { ino: 0, ...node } as never);
  const sub: DirNode = { kind: 'dir', ino: 0, meta: { ...emptyMeta(0o1777), uid: 7, gid: 8 }, entries: new Map() };
  add(t.root, 'z-dev', { kind: 'block', meta: emptyMeta(0o660), rdev: 8 * 256 + 1 });
  add(t.root, 'b', sub);
  add(t.root, 'a b', { kind: 'file', meta: emptyMeta(0o4755), size: 1, source: { kind: 'bytes', data: new Uint8Array(1) } });
  add(t.root, 'sock', { kind: 'socket', meta: emptyMeta(0o755), rdev: 0 });
  add(sub, 'l', { kind: 'symlink', meta: emptyMeta(0o777), target: '../a' });
  add(sub, 'c', { kind: 'char', meta: emptyMeta(0o2640), rdev: 0x10300 + 5 }); // major 259 minor 5
  const p = makeProtofile(t, '/m', '/alias', { file: 'x' });
  assert.equal(p.text, [
    '/', '0 0', 'd--755 0 0',
    'a/b -u-755 0 0 /alias/0',
    'b d--777 7 8 ',
    'c c-g640 0 0 259 5',
    'l l--777 0 0 ../a',
    '$',
    'z-dev b--660 0 0 8 1',
    '$', '',
  ].join('\n'));
  assert.equal(p.slashesAreSpaces, true);
  assert.deepEqual(p.aliases, { '/alias/0': '/m/a b' });
  add(sub, 'bad', { kind: 'symlink', meta: emptyMeta(0o777), target: 'has space' });
  assert.throws(() => makeProtofile(t, '/m', '/alias', { file: 'x' }), (e: unknown) => e instanceof FsError && /whitespace/.test(e.message));
});

test('the fixture tree in a window: xfs_repair -n clean, every entry read back, nothing outside touched', { skip: noTools, timeout: 120_000 }, async () => {
  const src = path.join(work, 'tree');
  makeFixture(src);
  const tree: SourceTree = hostTree(src);
  const img = sparseImage('window.img', 500 * MiB);
  const off = 50 * MiB;
  const size = 400 * MiB;
  const fd = fs.openSync(img, 'r+');
  for (const o of [off - MiB, off + size]) fs.writeSync(fd, Buffer.alloc(MiB, 0x5a), 0, MiB, o);
  fs.closeSync(fd);
  // 257: the protofile mode native 257 uses, and no 6.13+ incompat features bookworm's xfs_repair would not know
  const out = await xfsDriver.format(job({ window: { path: img, offset: off, size }, tree, systemdVersion: 257, windowZeroed: false }));
  assert.deepEqual(out.warnings, []);
  const b = Buffer.alloc(MiB);
  const rfd = fs.openSync(img, 'r');
  for (const o of [off - MiB, off + size]) {
    fs.readSync(rfd, b, 0, MiB, o);
    assert.ok(b.every((x) => x === 0x5a), `bytes at ${o} untouched`);
  }
  fs.closeSync(rfd);
  const part = path.join(work, 'part.img');
  fs.copyFileSync(img, part);
  fs.truncateSync(part, off + size);
  const window = path.join(work, 'w.img');
  spawnSync('dd', [`if=${part}`, `of=${window}`, 'bs=1M', `skip=${off / MiB}`, 'status=none']);
  const r = spawnSync('xfs_repair', ['-n', '-f', window], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const got = describeXfs(window);
  const want = describeTree(tree).entries;
  // the protofile keeps names, types, rwx + setuid/setgid (not sticky), owners, contents, targets;
  // sockets are skipped; hard links become separate inodes; times are mkfs time (not compared)
  for (const [p, e] of want) {
    if (e.type === 'socket') continue;
    const g = got.get(p);
    assert.ok(g, `${p} in the image`);
    assert.deepEqual({ ...g, mtime: 0 }, { ...e, perm: e.perm & 0o6777, mtime: 0, size: e.type === 'file' ? e.size : 0 }, p);
  }
  assert.equal(got.size, [...want.values()].filter((e) => e.type !== 'socket').length);
  const sb = spawnSync('xfs_db', ['-r', '-c', 'sb 0', '-c', 'print uuid fname sectsize', window], { encoding: 'utf8' }).stdout;
  assert.match(sb, new RegExp(`uuid = ${UUID}`));
  assert.match(sb, /fname = "root-x86-64(\\000)*"/);
  assert.match(sb, /sectsize = 4096/);
});

test('a tree too large for the window fails with E_FS_NO_SPACE', { skip: noTools, timeout: 120_000 }, async () => {
  const t = newTree();
  t.root.entries.set('big', { kind: 'file', ino: 2, meta: emptyMeta(0o644), size: 400 * MiB, source: { kind: 'bytes', data: new Uint8Array(400 * MiB) } });
  const img = sparseImage('small.img', 300 * MiB);
  await assert.rejects(xfsDriver.format(job({ window: { path: img, offset: 0, size: 300 * MiB }, tree: t, systemdVersion: 257 })),
    (e: unknown) => e instanceof FsError && e.code === 'E_FS_NO_SPACE');
});

test('Minimize=guess measurement: what the first pass in 1 TiB writes, content included', { skip: noTools, timeout: 120_000 }, async () => {
  const m = { label: 'root', sectorSize: 4096, discard: true, extraOptions: [], compat: asCompat(262), definitionFile: 'x.conf' };
  const empty = await xfsMeasuredBytes(null, m, work);
  // native sid mkfs.xfs 7.2.0 in a 1 TiB file, SEEK_DATA sum (measured on ext4): 389,120 bytes;
  // the log is zero-ranged, not written (test/oracle/xfs.test.ts compares with the real tool)
  assert.equal(empty, 389120);
  const t = newTree();
  const data = new Uint8Array(20 * MiB).fill(7);
  t.root.entries.set('f', { kind: 'file', ino: 2, meta: emptyMeta(0o644), size: data.length, source: { kind: 'bytes', data } });
  const full = await xfsMeasuredBytes(t, m, work);
  assert.ok(full >= 20 * MiB && full < empty + 21 * MiB, `with 20 MiB: ${full}`);
  assert.deepEqual(fs.readdirSync(work).filter((n) => n.startsWith('repart-xfs-minimize-')), [], 'scratch removed');
});

test('Minimize=best is refused for xfs (as systemd-repart does); Format=xfs itself is accepted', { timeout: 60_000 }, () => {
  const dir = fs.mkdtempSync(path.join(work, 'cli-'));
  fs.mkdirSync(path.join(dir, 'defs'));
  fs.writeFileSync(path.join(dir, 'defs', 'a.conf'), '[Partition]\nType=root\nFormat=xfs\nMinimize=best\n');
  const r = runOurs(['--offline=yes', '--empty=create', '--size=auto', '--dry-run=yes', '--definitions=defs', 'img'], dir);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /a\.conf:4: Minimize=: Minimize=best can only be used with read-only filesystems or Verity=hash/);
  fs.writeFileSync(path.join(dir, 'defs', 'a.conf'), '[Partition]\nType=root\nFormat=xfs\n');
  const ok = runOurs(['--offline=yes', '--empty=create', '--size=auto', '--dry-run=yes', '--json=short', '--definitions=defs', 'img'], dir);
  assert.equal(ok.status, 0, ok.stderr);
  // no Minimize: the partition is xfs' 300 MiB minimum (formatting.md §8)
  assert.equal((JSON.parse(ok.stdout) as { raw_size: number }[])[0]!.raw_size, 300 * MiB);
});
