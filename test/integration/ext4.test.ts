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
import type { FormatProgress } from '../../src/fs/driver.js';
import { ext4Driver, gnuPermute, mke2fsArgs, mke2fsEnv } from '../../src/fs/ext4/index.js';
import { closeWorkerPool, formatInWorkers } from '../../src/fs/pool.js';
import { FsError } from '../../src/errors.js';
import { assertProgress, describeExt4, describeTree, diffDescriptions, hostTree, makeFixture } from '../wasm-helpers.js';
import { EPOCH, ext4Job as job, EXT4_UUID as UUID, GiB, MiB, sparseImage as sparseIn } from '../helpers/fs-jobs.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ext4-test-'));
const sparseImage = (name: string, size: number) => sparseIn(work, name, size);
after(async () => {
  await closeWorkerPool();
  fs.rmSync(work, { recursive: true, force: true });
});


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

test('times outside 32 bits reach mke2fs clamped, as native mke2fs -d clamps them (not wrapped by the tools\' 32-bit time_t)', async () => {
  const src = path.join(work, 'y2038');
  fs.mkdirSync(src);
  fs.writeFileSync(path.join(src, 'future'), 'a');
  fs.writeFileSync(path.join(src, 'past'), 'b');
  // Node's utimes takes negative times for "now": touch sets them
  execFileSync('touch', ['-d', '@2209000000', path.join(src, 'future')]); // 2040
  execFileSync('touch', ['-d', '@-2500000000', path.join(src, 'past')]); // 1890
  const img = sparseImage('y2038.img', 64 * MiB);
  await ext4Driver.format(job({ window: { path: img, offset: 0, size: 64 * MiB }, tree: hostTree(src), sourceDateEpoch: undefined }));
  const mtime = (p: string) => /mtime: (0x[0-9a-f]+):/.exec(execFileSync('debugfs', ['-R', `stat /${p}`, img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))?.[1];
  // what sid's native mkfs.ext4 -d writes for these times (measured with the reference)
  assert.equal(mtime('future'), '0x7fffffff');
  assert.equal(mtime('past'), '0x80000000');
});

test('directories filled name by name: the walk that skips full entries places every name as the full walk (checked by mke2fs at each skip), both tool sets', async () => {
  // names of every length from 1 to 255 bytes, so that blocks end with every kind of slack;
  // a directory of short names several blocks long; hard links across them
  const src = path.join(work, 'names');
  fs.mkdirSync(path.join(src, 'mixed'), { recursive: true });
  fs.mkdirSync(path.join(src, 'short'));
  for (let i = 0; i < 1500; i++) {
    const len = 1 + ((i * 37) % 255);
    const name = (String(i) + '_' + 'n'.repeat(255)).slice(0, Math.max(len, String(i).length));
    fs.writeFileSync(path.join(src, 'mixed', name), i % 3 ? '' : String(i));
  }
  for (let i = 0; i < 2000; i++) fs.writeFileSync(path.join(src, 'short', `e${i}`), '');
  fs.linkSync(path.join(src, 'short/e1'), path.join(src, 'mixed/hard'));
  fs.mkdirSync(path.join(src, 'mixed/sub'));
  const tree = hostTree(src);
  const want = describeTree(tree, EPOCH);
  const saved = { walk: process.env.E2FSPROGS_LINK_WALK_CHECK, csum: process.env.E2FSPROGS_LINK_CSUM_CHECK };
  process.env.E2FSPROGS_LINK_WALK_CHECK = '1';
  process.env.E2FSPROGS_LINK_CSUM_CHECK = '1';
  try {
    for (const systemdVersion of [262, 257]) {
      const img = sparseImage(`names-${systemdVersion}.img`, 64 * MiB);
      await ext4Driver.format(job({ window: { path: img, offset: 0, size: 64 * MiB }, tree, systemdVersion }));
      const fsck = spawnSync('e2fsck', ['-fn', img], { encoding: 'utf8' });
      assert.equal(fsck.status, 0, `${systemdVersion}: ${fsck.stdout}${fsck.stderr}`);
      assert.deepEqual(diffDescriptions(want, describeExt4(img, path.join(work, `names-scratch-${systemdVersion}`))), [], String(systemdVersion));
    }
  } finally {
    for (const [k, v] of [['E2FSPROGS_LINK_WALK_CHECK', saved.walk], ['E2FSPROGS_LINK_CSUM_CHECK', saved.csum]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

test('sources without read or search bits (a directory 000, one 0600, a file 000) are copied, as systemd-repart copies them as root', { skip: process.getuid?.() !== 0 ? 'needs root: this process must be able to read what it scans' : false }, async () => {
  const src = path.join(work, 'perms');
  fs.mkdirSync(path.join(src, 'locked/inner'), { recursive: true });
  fs.mkdirSync(path.join(src, 'noexec'));
  fs.writeFileSync(path.join(src, 'locked/inner/f'), 'deep');
  fs.writeFileSync(path.join(src, 'noexec/g'), 'g');
  fs.writeFileSync(path.join(src, 'unreadable'), 'u');
  fs.chmodSync(path.join(src, 'unreadable'), 0);
  fs.chmodSync(path.join(src, 'noexec'), 0o600);
  fs.chmodSync(path.join(src, 'locked'), 0);
  try {
    const tree = hostTree(src);
    const img = sparseImage('perms.img', 32 * MiB);
    await ext4Driver.format(job({ window: { path: img, offset: 0, size: 32 * MiB }, tree }));
    assert.equal(spawnSync('e2fsck', ['-fn', img]).status, 0);
    assert.deepEqual(diffDescriptions(describeTree(tree, EPOCH), describeExt4(img, path.join(work, 'perms-scratch'))), []);
    const stat = (p: string) => execFileSync('debugfs', ['-R', `stat ${p}`, img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.match(stat('/locked'), /Mode:\s+0000/);
    assert.match(stat('/locked/inner/f'), /Size: 4\b/);
  } finally {
    fs.chmodSync(path.join(src, 'locked'), 0o755);
    fs.chmodSync(path.join(src, 'noexec'), 0o755);
  }
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
