/**
 * Oracle tier: the WebAssembly mkfs.btrfs against the native mkfs.btrfs of the release whose
 * systemd-repart is reproduced (262: sid's 7.3, 257: trixie's 6.14). Byte identity is out of
 * reach for btrfs (no SOURCE_DATE_EPOCH in mkfs.btrfs, random device and chunk UUIDs): the
 * superblock fields, trees, subvolumes and xattrs are compared.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DirNode } from '../../src/tree/model.js';
import { btrfsDriver, mkfsBtrfsArgs, toolDefaultArgs, type BtrfsFormatJob } from '../../src/fs/btrfs/index.js';
import { closeWorkerPool } from '../../src/fs/pool.js';
import { btrfsXattrs, copyWindow, describeBtrfs, diffDescriptions, hostTree, isRoot, makeFixture, ROOT_XATTRS, FILE_XATTRS, setHostXattrs, xattrView } from '../wasm-helpers.js';
import { REFERENCE, referenceSkipReason } from '../helpers/reference.js';
import { BTRFS_SUBVOLS as SUBVOLS, btrfsJob as job, btrfsSuperOf as superOf, MiB, sparseImage as sparseIn } from '../helpers/fs-jobs.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'btrfs-native-'));
const sparseImage = (name: string, size: number) => sparseIn(work, name, size);
after(async () => {
  await closeWorkerPool();
  fs.rmSync(work, { recursive: true, force: true });
});

const REF = REFERENCE;
// setfattr (package attr) puts the xattrs on the host tree for the native tool
const oracle = isRoot && referenceSkipReason('sid') === null && referenceSkipReason('trixie') === null && spawnSync('setfattr', ['--version']).status === 0;

test('same fs UUID, label, features and trees as native mkfs.btrfs: sid\'s 7.3 with 262\'s arguments, trixie\'s 6.14 with 257\'s', { skip: oracle ? false : 'needs root, ../shared/tools/reference-repart (the oracle) and setfattr' }, async () => {
  const src = path.join(work, 'otree');
  makeFixture(src);
  // the same xattrs on the host tree (native mkfs reads them there) and in ours
  setHostXattrs(src, ROOT_XATTRS);
  setHostXattrs(path.join(src, 'etc/hostname'), FILE_XATTRS);
  const tree = hostTree(src);
  tree.root.meta.xattrs = ROOT_XATTRS;
  (tree.root.entries.get('etc') as DirNode).entries.get('hostname')!.meta.xattrs = FILE_XATTRS;
  const size = 256 * MiB;
  for (const version of [262, 257]) {
    const img = sparseImage('mine.img', size);
    const j = job({ window: { path: img, offset: 0, size }, tree, subvolumes: SUBVOLS, defaultSubvolume: '/usr', systemdVersion: version });
    await btrfsDriver.format(j);
    const ref = sparseImage('ref.img', size);
    // the native tool gets exactly repart's argv (no toolDefaultArgs: 7.3 has them as defaults)
    const args = mkfsBtrfsArgs(j).map((a) => (a === '/repart-root' ? src : a === '/dev/repart-partition' ? ref : a));
    const suite = version >= 258 ? 'sid' : 'trixie';
    execFileSync(REF, ['--exec', 'mkfs.btrfs', ...args], { env: { ...process.env, REFERENCE_BIND: work, REFERENCE_SUITE: suite }, cwd: work, stdio: 'pipe' });
    // 262: sid's 7.3 has block-group-tree on by default; ours (6.14) gets it asked for
    assert.match(superOf(ref), version >= 258 ? /compat_ro_flags\s+0xb\n/ : /compat_ro_flags\s+0x3\n/);
    assert.equal(superOf(img), superOf(ref), `v${version}: superblock vs ${suite}'s mkfs.btrfs`);
    const check = spawnSync('btrfs', ['check', '--readonly', img], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const mine = describeBtrfs(img, path.join(work, 's1'));
    const theirs = describeBtrfs(ref, path.join(work, 's2'));
    assert.deepEqual(diffDescriptions(theirs, mine), [], `v${version}: trees`);
    assert.deepEqual([...mine.subvolumes.keys()].sort(), [...theirs.subvolumes.keys()].sort());
    const xattrs = (p: string) => new Map([...btrfsXattrs(p)].map(([k, xs]) => [k, xattrView(xs)]));
    assert.deepEqual(xattrs(img), xattrs(ref));
    assert.deepEqual(xattrs(img).get('/'), xattrView(ROOT_XATTRS));
  }
});

test('Minimize under 262: --shrink gives the size, superblock and trees of native mkfs.btrfs on an empty file (sid\'s 7.3 and trixie\'s 6.14)', { skip: oracle ? false : 'needs root, ../shared/tools/reference-repart (the oracle) and setfattr' }, async () => {
  const src = path.join(work, 'shtree');
  makeFixture(src);
  // 7.x keeps the holes of sparse source files, 6.14 writes them out: with one, sid's shrunk
  // size is smaller than ours (wasm/sid/README.md). Without, both versions agree.
  fs.rmSync(path.join(src, 'sparse.img'));
  fs.writeFileSync(path.join(src, 'blob'), Buffer.alloc(12 * MiB, 0x6b)); // past the 8 MiB data chunk
  const tree = hostTree(src);
  // a window at an offset, larger than mkfs' estimate, in an image with other bytes after it
  const img = sparseImage('shrink-mine.img', 600 * MiB);
  const w = { path: img, offset: MiB, size: 512 * MiB };
  fs.writeFileSync(img, Buffer.alloc(2 * MiB, 0x5a), { flag: 'r+' }); // dirty: the driver must zero it first
  const j = job({ window: w, tree, subvolumes: SUBVOLS, defaultSubvolume: '/usr', systemdVersion: 262, shrink: true, windowZeroed: false } as BtrfsFormatJob);
  const out = await btrfsDriver.format(j);
  const mine = path.join(work, 'shrink-part.img');
  copyWindow(img, w.offset, out.usedBytes!, mine);
  fs.truncateSync(mine, out.usedBytes!);
  const check = spawnSync('btrfs', ['check', '--readonly', mine], { encoding: 'utf8' });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const mineTree = describeBtrfs(mine, path.join(work, 's1'));
  // sid's 7.3 with repart's argv; trixie's 6.14 with exactly what we ran (+ -O block-group-tree)
  for (const [suite, extra] of [['sid', []], ['trixie', toolDefaultArgs(j)]] as const) {
    const ref = path.join(work, `shrink-ref-${suite}.img`);
    fs.writeFileSync(ref, ''); // repart's temporary file: new and empty
    const args = mkfsBtrfsArgs(j).map((a) => (a === '/repart-root' ? src : a === '/dev/repart-partition' ? ref : a));
    execFileSync(REF, ['--exec', 'mkfs.btrfs', ...extra, ...args], { env: { ...process.env, REFERENCE_BIND: work, REFERENCE_SUITE: suite }, cwd: work, stdio: 'pipe' });
    assert.equal(out.usedBytes, fs.statSync(ref).size, `${suite}: the size mkfs.btrfs --shrink left the file at`);
    assert.equal(superOf(mine), superOf(ref), `${suite}: superblock`);
    assert.deepEqual(diffDescriptions(describeBtrfs(ref, path.join(work, 's2')), mineTree), [], `${suite}: trees`);
  }
  // what mkfs wrote past the final size was truncated away, as from a file; before the window: untouched
  const fd = fs.openSync(img, 'r');
  const buf = Buffer.alloc(MiB);
  fs.readSync(fd, buf, 0, MiB, 0);
  assert.ok(buf.every((x) => x === 0x5a), 'the MiB before the window');
  for (let p = w.offset + out.usedBytes!; p < w.offset + w.size; p += MiB) {
    fs.readSync(fd, buf, 0, MiB, p);
    assert.ok(buf.every((x) => x === 0), `zeros beyond the file system (at ${p})`);
  }
  fs.closeSync(fd);
});
