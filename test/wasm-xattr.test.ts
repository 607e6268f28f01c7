/**
 * Extended attributes from the source tree (NodeMeta.xattrs) reach the file system through the
 * tools' own llistxattr/lgetxattr paths (wasm/shim/xattr.c): on the root directory (systemd-repart's
 * user.validatefs.*), a file, a directory and a symlink, read back byte for byte. The oracle
 * comparisons (same xattrs on a host tree for native mkfs) are in ext4.test.ts / btrfs.test.ts.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FormatJob } from '../src/fs/driver.js';
import { ext4Driver } from '../src/fs/ext4/index.js';
import { btrfsDriver } from '../src/fs/btrfs/index.js';
import { emptyMeta, newTree, type NodeMeta, type SourceTree } from '../src/tree/model.js';
import { btrfsXattrs, copyWindow, ext4Xattrs, FILE_XATTRS, ROOT_XATTRS, xattrView, type Xattr } from './wasm-helpers.js';

const MiB = 1024 * 1024;
const T = { sec: 1700000000, nsec: 0 };
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'xattr-test-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const meta = (perm: number, xattrs?: Xattr[]): NodeMeta => ({ ...emptyMeta(perm, T), ...(xattrs ? { xattrs } : {}) });

function xattrTree(): { tree: SourceTree; want: Map<string, Xattr[]> } {
  const tree = newTree(meta(0o755, ROOT_XATTRS));
  const dir = { kind: 'dir' as const, ino: 3, meta: meta(0o750, [{ name: 'user.dir', value: Buffer.from('d') }]), entries: new Map() };
  tree.root.entries.set('file', { kind: 'file', ino: 2, meta: meta(0o644, FILE_XATTRS), size: 5, source: { kind: 'bytes', data: Buffer.from('hello') } });
  tree.root.entries.set('dir', dir);
  dir.entries.set('link', { kind: 'symlink', ino: 4, meta: meta(0o777, [{ name: 'trusted.link', value: Buffer.from([0]) }]), target: '../file' });
  dir.entries.set('plain', { kind: 'file', ino: 5, meta: meta(0o644, []), size: 0, source: { kind: 'bytes', data: new Uint8Array(0) } });
  tree.nextIno = 6;
  const want = new Map<string, Xattr[]>([
    ['/', ROOT_XATTRS], ['/file', FILE_XATTRS], ['/dir', dir.meta.xattrs!], ['/dir/link', dir.entries.get('link')!.meta.xattrs!],
  ]);
  return { tree, want };
}

function job(format: string, img: string, tree: SourceTree): FormatJob {
  return {
    format, window: { path: img, offset: MiB, size: 128 * MiB }, label: 'root-x86-64', fsUuid: '5e0c3a41-8e0f-4a8b-9d52-3f6a1c2b7e90',
    sectorSize: 4096, tree, sourceDateEpoch: T.sec, extraOptions: [], discard: true, subvolumes: [], definitionFile: '/x/10-root.conf', windowZeroed: true,
  };
}

function image(name: string): string {
  const p = path.join(work, name);
  fs.writeFileSync(p, '');
  fs.truncateSync(p, 130 * MiB);
  return p;
}

test('ext4: xattrs of the root, a file (one too big for the inode), a directory and a symlink', async () => {
  const { tree, want } = xattrTree();
  const img = image('x.ext4');
  await ext4Driver.format(job('ext4', img, tree));
  const dev = `${img}?offset=${MiB}`;
  const fsck = spawnSync('e2fsck', ['-fn', dev], { encoding: 'utf8' });
  assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
  for (const [p, xs] of want) assert.deepEqual(xattrView(ext4Xattrs(dev, p, path.join(work, 's'))), xattrView(xs), p);
  assert.deepEqual(ext4Xattrs(dev, '/dir/plain', path.join(work, 's')), []);
});

test('btrfs: the same xattrs, read from the leaves', async () => {
  const { tree, want } = xattrTree();
  const img = image('x.btrfs');
  await btrfsDriver.format(job('btrfs', img, tree));
  const part = path.join(work, 'part.btrfs');
  copyWindow(img, MiB, 128 * MiB, part);
  const check = spawnSync('btrfs', ['check', part], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const got = btrfsXattrs(part);
  assert.deepEqual(new Map([...got].map(([p, xs]) => [p, xattrView(xs)])), new Map([...want].map(([p, xs]) => [p, xattrView(xs)])));
});
