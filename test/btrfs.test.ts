/**
 * Format=btrfs through the WebAssembly mkfs.btrfs, judged by btrfs check and by reading the
 * trees back (dump-tree + btrfs restore); against the native mkfs.btrfs of the release whose
 * systemd-repart is reproduced (262: sid's 7.3, 257: trixie's 6.14) when the oracle can run.
 * Byte identity is out of reach for btrfs: mkfs.btrfs has no SOURCE_DATE_EPOCH (root item
 * times are time(NULL)) and draws device and chunk UUIDs at random, and for 262 our build is
 * still 6.14 (wasm/sid/README.md).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { runTool } from '../src/fs/wasm/host.js';
import type { FormatJob, FormatProgress } from '../src/fs/driver.js';
import type { DirNode } from '../src/tree/model.js';
import { btrfsDriver, mkfsBtrfsArgs, toolDefaultArgs, type BtrfsFormatJob } from '../src/fs/btrfs/index.js';
import { mkfsBtrfsEstimate } from '../src/fs/btrfs/estimate.js';
import { emptyMeta, newTree } from '../src/tree/model.js';
import { closeWorkerPool, formatInWorkers } from '../src/fs/pool.js';
import { FsError } from '../src/errors.js';
import { assertProgress, btrfsXattrs, copyWindow, describeBtrfs, describeTree, diffDescriptions, hostTree, isRoot, makeFixture, ROOT_XATTRS, FILE_XATTRS, setHostXattrs, xattrView } from './wasm-helpers.js';
import { REFERENCE } from './helpers/reference.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const UUID = '7d0b9c3e-54a1-4c2f-8e6d-1b2a3c4d5e6f';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'btrfs-test-'));
after(async () => {
  await closeWorkerPool();
  fs.rmSync(work, { recursive: true, force: true });
});

function job(over: Partial<FormatJob> & Pick<FormatJob, 'window'>): FormatJob {
  return {
    format: 'btrfs', label: 'home', fsUuid: UUID, sectorSize: 512, tree: null, sourceDateEpoch: 1700000000,
    extraOptions: [], discard: true, subvolumes: [], definitionFile: '/etc/repart.d/20-home.conf', windowZeroed: true, ...over,
  };
}

function sparseImage(name: string, size: number): string {
  const p = path.join(work, name);
  fs.rmSync(p, { force: true });
  fs.writeFileSync(p, '');
  fs.truncateSync(p, size);
  return p;
}

function rootTree(dev: string): string {
  return execFileSync('btrfs', ['inspect-internal', 'dump-tree', '-t', 'root', dev], { encoding: 'utf8' });
}

const SUBVOLS = [
  { path: '/usr', readOnly: false, nodatacow: false },
  { path: '/private', readOnly: true, nodatacow: false },
];

test('mkfs.btrfs argv is systemd-repart\'s, --subvol from Subvolumes=/DefaultSubvolume=', () => {
  const tree = { root: { kind: 'dir', ino: 1, meta: { perm: 0o755, uid: 0, gid: 0, atime: { sec: 0, nsec: 0 }, mtime: { sec: 0, nsec: 0 }, ctime: { sec: 0, nsec: 0 } }, entries: new Map() }, nextIno: 2 } as const;
  const j = job({ window: { path: '/x', offset: 0, size: GiB }, tree: tree as never, subvolumes: SUBVOLS, defaultSubvolume: '/usr', extraOptions: ['--nodesize', '16384'] });
  assert.deepEqual(mkfsBtrfsArgs(j), [
    '-L', 'home', '-U', UUID, '-r', '/repart-root', '--sectorsize=4096', '/dev/repart-partition',
    '--nodesize', '16384', '--subvol', 'default:/usr', '--subvol', 'ro:/private',
  ]);
  const unpopulated = job({ window: { path: '/x', offset: 0, size: GiB }, discard: false, compression: 'zlib', compressionLevel: '3', subvolumes: SUBVOLS });
  assert.deepEqual(mkfsBtrfsArgs(unpopulated), ['-L', 'home', '-U', UUID, '--nodiscard', '--sectorsize=4096', '/dev/repart-partition']);
  assert.deepEqual(mkfsBtrfsArgs({ ...unpopulated, systemdVersion: 257 }).slice(5, 7), ['--compress', 'zlib:3'], 'v257 passes --compress without a root');
  // 262 (sid's 7.3 defaults) on our 6.14 build: block-group-tree first, so extra options can undo it
  assert.deepEqual(toolDefaultArgs(j), ['-O', 'block-group-tree']);
  assert.deepEqual(toolDefaultArgs({ ...j, systemdVersion: 257 }), []);
});

test('btrfs beyond 4 GiB and at 1 MiB in parallel: check clean, subvolumes, tree read back exactly', async () => {
  const src = path.join(work, 'tree');
  makeFixture(src);
  const tree = hostTree(src);
  const img = sparseImage('two.img', 6 * GiB);
  const a = { path: img, offset: 4.5 * GiB, size: 512 * MiB };
  const b = { path: img, offset: MiB, size: 256 * MiB };
  const seen: FormatProgress[][] = [[], []];
  await formatInWorkers([
    job({ window: a, tree, subvolumes: SUBVOLS, defaultSubvolume: '/usr' }),
    job({ window: b, tree, fsUuid: '01234567-89ab-4cde-8f01-23456789abcd', label: 'plain', compression: 'zlib' }),
  ], { progress: (i, p) => seen[i]!.push(p) });
  for (const s of seen) assertProgress(s, tree);
  const want = describeTree(tree);
  for (const [w, subvols] of [[a, true], [b, false]] as const) {
    const part = path.join(work, `part-${w.offset}.img`);
    copyWindow(img, w.offset, w.size, part);
    const check = spawnSync('btrfs', ['check', '--check-data-csum', part], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    const got = describeBtrfs(part, path.join(work, 'scratch'));
    // btrfs cannot hard-link across a subvolume boundary: mkfs makes two inodes (documented)
    const expect = subvols ? { ...want, links: want.links.filter((g) => !g.some((p) => p.startsWith('/usr/')) || g.every((p) => p.startsWith('/usr/'))) } : want;
    assert.deepEqual(diffDescriptions(expect, got), []);
    if (subvols) {
      assert.deepEqual([...got.subvolumes.keys()].sort(), ['/private', '/usr']);
      const rt = rootTree(part);
      const ids = Object.fromEntries([...got.subvolumes].map(([p, id]) => [p, id]));
      assert.match(rt, new RegExp(`key \\(${ids['/private']} ROOT_ITEM 0\\)[^\\n]*\\n[^\\n]*\\n[^\\n]*flags 0x1\\(RDONLY\\)`), '/private is read-only');
      assert.match(rt, new RegExp(`key \\(${ids['/usr']} ROOT_ITEM 0\\)[^\\n]*\\n[^\\n]*\\n[^\\n]*flags 0x0\\(none\\)`), '/usr is writable');
      assert.match(rt, new RegExp(`location key \\(${ids['/usr']} ROOT_ITEM 0\\) type DIR\\n[^\\n]*\\n\\s*name: default`), '/usr is the default subvolume');
    }
    const sb = execFileSync('btrfs', ['inspect-internal', 'dump-super', part], { encoding: 'utf8' });
    assert.match(sb, /sectorsize\s+4096\n/);
    assert.match(sb, subvols ? /label\s+home\n/ : /label\s+plain\n/);
    assert.match(sb, subvols ? new RegExp(`fsid\\s+${UUID}`) : /fsid\s+01234567-89ab-4cde-8f01-23456789abcd/);
  }
});

test('a window too small for the content fails as E_FS_NO_SPACE naming the definition', async () => {
  const src = path.join(work, 'toobig');
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'blob'), Buffer.alloc(200 * MiB, 1));
  const img = sparseImage('small.img', 256 * MiB);
  await assert.rejects(
    btrfsDriver.format(job({ window: { path: img, offset: 0, size: 128 * MiB }, tree: hostTree(src) })),
    (e: unknown) => e instanceof FsError && e.code === 'E_FS_NO_SPACE' && /20-home\.conf/.test(e.message),
  );
  await assert.rejects(
    btrfsDriver.format(job({ window: { path: img, offset: 0, size: 128 * MiB }, compression: 'zstd' })),
    (e: unknown) => e instanceof FsError && /zstd/.test(e.message),
  );
});

/** Run mkfs.btrfs in this thread with its randomness (UUIDs) and clock fixed, so two runs can
 * be compared byte for byte. */
async function deterministicRun(j: FormatJob, env: Record<string, string>): Promise<Buffer> {
  const cryptoCjs = createRequire(import.meta.url)('node:crypto') as { randomBytes: (n: number) => Buffer };
  const realRandom = cryptoCjs.randomBytes;
  const realNow = Date.now;
  let x = 0x9e3779b9;
  cryptoCjs.randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 16) & 0xff));
  Date.now = () => 1700000000000;
  try {
    const r = await runTool({
      tool: 'mkfs.btrfs', argv0: 'mkfs.btrfs', args: mkfsBtrfsArgs(j), env,
      tree: j.tree ? { mountPoint: '/repart-root', tree: j.tree } : undefined,
      device: { path: '/dev/repart-partition', window: j.window, zeroed: true },
    });
    assert.equal(r.status, 0, r.stderr);
  } finally {
    cryptoCjs.randomBytes = realRandom;
    Date.now = realNow;
  }
  return fs.readFileSync(j.window.path);
}

test('the check-block speed patch leaves the image byte-identical (BTRFS_MKFS_CHECK_BLOCK=1 restores the checks)', async () => {
  const src = path.join(work, 'dtree');
  makeFixture(src);
  const tree = hostTree(src);
  const run = async (env: Record<string, string>) => {
    const img = sparseImage('det.img', 256 * MiB);
    return deterministicRun(job({ window: { path: img, offset: 0, size: 256 * MiB }, tree, subvolumes: SUBVOLS }), env);
  };
  const fast = await run({});
  const checked = await run({ BTRFS_MKFS_CHECK_BLOCK: '1' });
  assert.ok(fast.equals(await run({})), 'runs are deterministic here, so the comparison means something');
  assert.ok(fast.equals(checked), 'same bytes with and without the per-search block checks');
});

/** The superblock fields that do not depend on tree layout, times or random UUIDs. */
const superOf = (p: string) =>
  execFileSync('btrfs', ['inspect-internal', 'dump-super', p], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /^(fsid|label|sectorsize|nodesize|stripesize|flags|magic|incompat_flags|compat_flags|compat_ro_flags|csum_type|num_devices|root_level|chunk_root_level|metadata_uuid|total_bytes|dev_item\.total_bytes)\s/.test(l))
    .join('\n');

test('Minimize under 262: --shrink into an empty-file window; too small a window is E_FS_NO_SPACE with the size needed', async () => {
  const src = path.join(work, 'stree');
  makeFixture(src);
  const tree = hostTree(src);
  const j = job({ window: { path: sparseImage('shrink.img', 64 * MiB), offset: 0, size: 64 * MiB }, tree, systemdVersion: 262, shrink: true } as BtrfsFormatJob);
  assert.deepEqual(mkfsBtrfsArgs(j).slice(-2), ['/dev/repart-partition', '--shrink']);
  assert.ok(!mkfsBtrfsArgs({ ...j, tree: null }).includes('--shrink'), '--shrink needs --rootdir');
  // mkfs first grows the file to its estimate (at least 109 MiB): a 64 MiB window cannot hold
  // it, and the size it wanted is the one mkfsBtrfsEstimate() predicts
  const want = mkfsBtrfsEstimate(tree, 4096);
  assert.ok(want > 109 * MiB);
  await assert.rejects(btrfsDriver.format(j), (e: unknown) => e instanceof FsError && e.code === 'E_FS_NO_SPACE' && e.message.includes(`needs at least ${want} bytes`));
  // a bigger tree (only stat()ed: mkfs stops before reading any file)
  const big = newTree();
  for (let d = 0; d < 70; d++) {
    const dir: DirNode = { kind: 'dir', ino: big.nextIno++, meta: emptyMeta(0o755), entries: new Map() };
    big.root.entries.set(`d${d}`, dir);
    for (let f = 0; f < 99; f++) dir.entries.set(`f${f}`, { kind: 'file', ino: big.nextIno++, meta: emptyMeta(0o644), size: 1 + ((d * 99 + f) % 30000), source: { kind: 'bytes', data: new Uint8Array(0) } });
  }
  // there both terms count: 7,001 inodes * 16 KiB + data/8 of metadata (DUP, above the 32 MiB
  // chunk) and ~30 MiB of data (above 8 MiB); mkfs asks for exactly the predicted size again
  const wantBig = mkfsBtrfsEstimate(big, 4096);
  assert.ok(wantBig > 300 * MiB, String(wantBig));
  await assert.rejects(btrfsDriver.format({ ...j, tree: big } as BtrfsFormatJob), (e: unknown) => e instanceof FsError && e.code === 'E_FS_NO_SPACE' && e.message.includes(`needs at least ${wantBig} bytes`));
});

const REF = REFERENCE;
// setfattr (package attr) puts the xattrs on the host tree for the native tool
const oracle = isRoot && fs.existsSync(REF) && spawnSync('setfattr', ['--version']).status === 0;

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
