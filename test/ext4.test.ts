/**
 * Format=ext2/3/4 through the WebAssembly mke2fs, judged by e2fsck and by reading every entry
 * back with debugfs; against the native mkfs.ext4 of the Debian release whose systemd-repart
 * is reproduced (262: sid's e2fsprogs 1.47.4, 257: trixie's 1.47.2) when the oracle can run.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FormatJob, FormatProgress } from '../src/fs/driver.js';
import type { DirNode } from '../src/tree/model.js';
import { ext4Driver, gnuPermute, mke2fsArgs, mke2fsEnv } from '../src/fs/ext4/index.js';
import { closeWorkerPool, formatInWorkers } from '../src/fs/pool.js';
import { FsError } from '../src/errors.js';
import { assertProgress, describeExt4, describeTree, diffDescriptions, hostTree, isRoot, makeFixture, ROOT_XATTRS, FILE_XATTRS, setHostXattrs } from './wasm-helpers.js';
import { REFERENCE } from './helpers/reference.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const UUID = '5e0c3a41-8e0f-4a8b-9d52-3f6a1c2b7e90';
const EPOCH = 1700000000;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ext4-test-'));
after(async () => {
  await closeWorkerPool();
  fs.rmSync(work, { recursive: true, force: true });
});

function job(over: Partial<FormatJob> & Pick<FormatJob, 'window'>): FormatJob {
  return {
    format: 'ext4', label: 'root-x86-64', fsUuid: UUID, sectorSize: 4096, tree: null, sourceDateEpoch: EPOCH,
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

/** Marker MiBs just outside a window, to prove nothing there is touched. */
function mark(img: string, offsets: number[]): void {
  const fd = fs.openSync(img, 'r+');
  for (const o of offsets) fs.writeSync(fd, Buffer.alloc(MiB, 0x5a), 0, MiB, o);
  fs.closeSync(fd);
}
function marked(img: string, o: number): boolean {
  const fd = fs.openSync(img, 'r');
  const b = Buffer.alloc(MiB);
  fs.readSync(fd, b, 0, MiB, o);
  fs.closeSync(fd);
  return b.every((x) => x === 0x5a);
}

test('mke2fs argv and environment are systemd-repart\'s (262 default, 257 compat)', () => {
  const j = job({ window: { path: '/x', offset: 0, size: GiB }, tree: null, label: 'a-very-long-label-ä' });
  assert.deepEqual(mke2fsArgs(j), [
    '-L', 'a-very-long-labe', '-U', UUID, '-I', '256', '-m', '0', '-E', `discard,lazy_itable_init=1,hash_seed=${UUID}`,
    '-b', '4096', '-T', 'default', '/dev/repart-partition',
  ]);
  const j257 = { ...j, systemdVersion: 257, discard: false, extraOptions: ['-O', '^orphan_file'], label: 'ääääääää€' };
  assert.deepEqual(mke2fsArgs(j257).slice(0, 10), ['-L', 'ääääääää', '-U', UUID, '-I', '256', '-m', '0', '-E', 'nodiscard,lazy_itable_init=1']);
  assert.deepEqual(mke2fsArgs(j257).slice(-3), ['/dev/repart-partition', '-O', '^orphan_file']);
  const env = mke2fsEnv(j);
  assert.equal(env.MKE2FS_DEVICE_SECTSIZE, '4096');
  assert.equal(env.SOURCE_DATE_EPOCH, String(EPOCH));
  assert.equal(env.E2FSPROGS_FAKE_TIME, String(EPOCH));
  assert.equal(mke2fsEnv(j257).E2FSPROGS_FAKE_TIME, undefined, 'v257 does not set E2FSPROGS_FAKE_TIME');
});

test('ext4 at 1 MiB and beyond 4 GiB, in parallel workers: fsck clean, tree read back exactly', async () => {
  const src = path.join(work, 'tree');
  makeFixture(src, { big: true });
  describeTree(hostTree(src)); // read every file once, so atimes are settled before the tree is taken
  const tree = hostTree(src);
  const img = sparseImage('two.img', 6 * GiB);
  const a = { path: img, offset: MiB, size: 3 * GiB };
  const b = { path: img, offset: 4.5 * GiB, size: 512 * MiB };
  mark(img, [0, a.offset + a.size, b.offset - MiB, b.offset + b.size]);
  const seen: FormatProgress[][] = [[], []];
  const outcomes = await formatInWorkers([job({ window: a, tree }), job({ window: b, tree, fsUuid: '11111111-2222-4333-8444-555555555555', label: 'second' })], {
    progress: (i, p) => seen[i]!.push(p),
  });
  assert.equal(outcomes.length, 2);
  for (const s of seen) assertProgress(s, tree);
  for (const o of [0, a.offset + a.size, b.offset - MiB, b.offset + b.size]) assert.ok(marked(img, o), `marker at ${o} intact`);
  const want = describeTree(tree, EPOCH);
  for (const w of [a, b]) {
    const dev = `${img}?offset=${w.offset}`;
    const fsck = spawnSync('e2fsck', ['-fn', dev], { encoding: 'utf8' });
    assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
    const got = describeExt4(dev, path.join(work, 'scratch'));
    assert.deepEqual(diffDescriptions(want, got), []);
  }
  const sb = execFileSync('dumpe2fs', ['-h', `${img}?offset=${b.offset}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.match(sb, /Filesystem volume name:\s+second\n/);
  assert.match(sb, /Filesystem UUID:\s+11111111-2222-4333-8444-555555555555/);
  assert.match(sb, /Filesystem created:\s+Tue Nov 14 22:13:20 2023/, 'SOURCE_DATE_EPOCH is the creation time');
  assert.ok(fs.statSync(img).blocks * 512 < 200 * MiB, 'the image stays sparse (holes of the source and of the fs kept)');
});

test('ext2 and ext3 come from the program name, as with mkfs.ext2/mkfs.ext3', async () => {
  const img = sparseImage('ext23.img', 384 * MiB);
  const features = (o: number) =>
    execFileSync('dumpe2fs', ['-h', `${img}?offset=${o}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).match(/features:\s+(.*)/)![1]!.split(' ');
  await ext4Driver.format(job({ format: 'ext2', window: { path: img, offset: 0, size: 128 * MiB } }));
  await ext4Driver.format(job({ format: 'ext3', window: { path: img, offset: 128 * MiB, size: 128 * MiB } }));
  assert.ok(!features(0).includes('has_journal'));
  assert.ok(features(128 * MiB).includes('has_journal') && !features(128 * MiB).includes('extent'));
  for (const o of [0, 128 * MiB]) assert.equal(spawnSync('e2fsck', ['-fn', `${img}?offset=${o}`]).status, 0);
  // SYSTEMD_REPART_MKFS_OPTIONS_EXT4 words come after the device; glibc's getopt permutes them
  // in front, so they must work here too
  await ext4Driver.format(job({ window: { path: img, offset: 256 * MiB, size: 128 * MiB }, extraOptions: ['-O', '^orphan_file', '-N', '5000'] }));
  assert.ok(!features(256 * MiB).includes('orphan_file') && features(256 * MiB).includes('has_journal'));
  assert.deepEqual(gnuPermute(['-L', 'x', '-E', 'a,b', '/dev/p', '-O', '^y', '-qF', '-N5', 'extra'], 'qFL:E:O:N:'), ['-L', 'x', '-E', 'a,b', '-O', '^y', '-qF', '-N5', '--', '/dev/p', 'extra']);
});

test('content that does not fit, and bad options, fail as typed errors naming the definition', async () => {
  const src = path.join(work, 'toobig');
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'blob'), Buffer.alloc(24 * MiB, 1));
  const img = sparseImage('small.img', 32 * MiB);
  await assert.rejects(
    ext4Driver.format(job({ window: { path: img, offset: 4 * MiB, size: 16 * MiB }, tree: hostTree(src) })),
    (e: unknown) => e instanceof FsError && e.code === 'E_FS_NO_SPACE' && /10-root\.conf/.test(e.message) && /mkfs\.ext4/.test(e.message),
  );
  await assert.rejects(
    formatInWorkers([job({ window: { path: img, offset: 0, size: 16 * MiB }, extraOptions: ['-O', 'no_such_feature'] })]),
    (e: unknown) => e instanceof FsError && e.code === 'E_FS' && /Invalid filesystem option set|no_such_feature/.test(e.message),
  );
});

const REF = REFERENCE;
// setfattr (package attr) puts the xattrs on the host tree for the native tool
const oracle = isRoot && fs.existsSync(REF) && spawnSync('setfattr', ['--version']).status === 0;

test('byte-identical to native mkfs.ext4: sid\'s 1.47.4 with 262\'s arguments, trixie\'s 1.47.2 with 257\'s', { skip: oracle ? false : 'needs root, ../shared/tools/reference-repart (the oracle) and setfattr' }, async () => {
  const src = path.join(work, 'otree');
  makeFixture(src);
  // A directory of long and short names: 1.47.3+ appends each entry to the directory's last
  // block (EXT2FS_LINK_APPEND), 1.47.2 put short names into the free tail of earlier blocks, so
  // this alone makes 1.47.2's and 1.47.4's images differ (by thousands of bytes).
  fs.mkdirSync(path.join(src, 'many'));
  for (let i = 0; i < 400; i++) fs.writeFileSync(path.join(src, 'many', `f${String(i).padStart(3, '0')}${'x'.repeat(i % 3 === 0 ? 200 : i % 17)}`), '');
  // the same xattrs on the host tree (native mkfs reads them there) and in ours
  setHostXattrs(src, ROOT_XATTRS);
  setHostXattrs(path.join(src, 'etc/hostname'), FILE_XATTRS);
  describeTree(hostTree(src));
  const tree = hostTree(src);
  tree.root.meta.xattrs = ROOT_XATTRS;
  (tree.root.entries.get('etc') as DirNode).entries.get('hostname')!.meta.xattrs = FILE_XATTRS;
  for (const version of [262, 257]) {
    for (const discard of [true, false]) {
      const size = 256 * MiB;
      const img = sparseImage('mine.img', size + 2 * MiB);
      const j = job({ window: { path: img, offset: MiB, size }, tree, systemdVersion: version, discard });
      await ext4Driver.format(j);
      const ref = sparseImage('ref.img', size);
      const args = mke2fsArgs(j).map((a) => (a === '/repart-root' ? src : a === '/dev/repart-partition' ? ref : a));
      const env = { ...process.env, ...mke2fsEnv(j), REFERENCE_BIND: work };
      delete (env as Record<string, string | undefined>).MKE2FS_CONFIG; // the chroot's own /etc/mke2fs.conf
      // each version against its own Debian release's mkfs.ext4 (262: sid, 257: trixie)
      execFileSync(REF, ['--exec', 'mkfs.ext4', ...args], { env: { ...env, REFERENCE_SUITE: version >= 258 ? 'sid' : 'trixie' }, cwd: work, stdio: 'pipe' });
      const mine = path.join(work, 'mine-part.img');
      execFileSync('dd', [`if=${img}`, `of=${mine}`, 'bs=1M', 'skip=1', `count=${size / MiB}`, 'status=none']);
      const cmp = spawnSync('sh', ['-c', `cmp -l "${ref}" "${mine}" | wc -l`], { encoding: 'utf8' });
      const header = (p: string) => execFileSync('dumpe2fs', ['-h', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      if (version >= 260) {
        assert.equal(cmp.stdout.trim(), '0', `v${version} discard=${discard}: bytes differ from native mkfs.ext4`);
      } else {
        // v257 passes no hash_seed=, so mke2fs picks a random one: only the seed and the
        // superblock checksum may differ, in each superblock copy (16 + 4 bytes).
        const mask = (t: string) => t.replace(/^(Directory Hash Seed|Checksum):.*$/gm, '');
        assert.equal(mask(header(mine)), mask(header(ref)));
        const copies = 1 + (execFileSync('dumpe2fs', [mine], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).match(/Backup superblock at/g)?.length ?? 0);
        assert.ok(Number(cmp.stdout.trim()) <= 20 * copies, `v257: ${cmp.stdout.trim()} bytes differ (at most ${20 * copies} expected)`);
      }
      if (version >= 260) assert.equal(header(mine), header(ref));
    }
  }
});
