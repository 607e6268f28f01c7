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
import { runTool } from '../../src/fs/wasm/host.js';
import type { FormatJob, FormatProgress } from '../../src/fs/driver.js';
import type { DirNode } from '../../src/tree/model.js';
import { btrfsDriver, mkfsBtrfsArgs, toolDefaultArgs, type BtrfsFormatJob } from '../../src/fs/btrfs/index.js';
import { mkfsBtrfsEstimate } from '../../src/fs/btrfs/estimate.js';
import { emptyMeta, newTree } from '../../src/tree/model.js';
import { closeWorkerPool, formatInWorkers } from '../../src/fs/pool.js';
import { FsError } from '../../src/errors.js';
import { assertProgress, copyWindow, describeBtrfs, describeTree, diffDescriptions, hostTree, makeFixture } from '../wasm-helpers.js';
import { BTRFS_UUID as UUID, BTRFS_SUBVOLS as SUBVOLS, btrfsJob as job, GiB, MiB, sparseImage as sparseIn } from '../helpers/fs-jobs.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'btrfs-test-'));
const sparseImage = (name: string, size: number) => sparseIn(work, name, size);
after(async () => {
  await closeWorkerPool();
  fs.rmSync(work, { recursive: true, force: true });
});


function rootTree(dev: string): string {
  return execFileSync('btrfs', ['inspect-internal', 'dump-tree', '-t', 'root', dev], { encoding: 'utf8' });
}


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
    // zstd and lzo are built in now (test/btrfs-compression.test.ts); an unknown one is refused
    btrfsDriver.format(job({ window: { path: img, offset: 0, size: 128 * MiB }, compression: 'brotli' })),
    (e: unknown) => e instanceof FsError && /brotli/.test(e.message),
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
