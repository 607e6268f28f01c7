/**
 * Format=erofs through the WebAssembly mkfs.erofs: read back by trixie's fsck.erofs --extract
 * (the oracle's chroot; bookworm's 1.5 cannot read xattrs, hard links or zstd), and compared
 * byte for byte with trixie's native mkfs.erofs 1.8.6 on the same tree, arguments and
 * SOURCE_DATE_EPOCH.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { FormatJob } from '../src/fs/driver.js';
import { erofsDriver, erofsHostArgs, mkfsErofsArgs } from '../src/fs/erofs/index.js';
import { closeWorkerPool } from '../src/fs/pool.js';
import { FsError } from '../src/errors.js';
import { checkArtifacts, fixture, marked, markedImage, MiB, rofsJob, UUID } from './erofs-helpers.js';
import { hostTree } from './wasm-helpers.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'erofs-test-'));
const job = (over: Partial<FormatJob> & Pick<FormatJob, 'window'>) => rofsJob('erofs', over);
const image = (name: string, size: number, marks: number[] = []) => markedImage(work, name, size, marks);
after(async () => {
  await closeWorkerPool();
  fs.rmSync(work, { recursive: true, force: true });
});


test('mkfs.erofs argv is systemd-repart\'s', () => {
  const w = { path: '/x', offset: 0, size: MiB };
  assert.deepEqual(mkfsErofsArgs(job({ window: w })), ['-U', UUID, '--quiet', '/dev/repart-partition', '/repart-root']);
  assert.deepEqual(mkfsErofsArgs(job({ window: w, compression: 'lz4hc', compressionLevel: '12', extraOptions: ['-Eztailpacking'] })),
    ['-U', UUID, '--quiet', '-zlz4hc,level=12', '/dev/repart-partition', '/repart-root', '-Eztailpacking']);
  assert.deepEqual(mkfsErofsArgs(job({ window: w, compression: 'zstd' })).slice(3, 4), ['-zzstd']);
});

test('262\'s mkfs.erofs (1.9.4) with a one-entry job queue: a tree of more files than the tools have descriptors is made, and read back', { timeout: 120_000 }, async () => {
  assert.deepEqual(erofsHostArgs(job({ window: { path: '/x', offset: 0, size: MiB }, systemdVersion: 262 })), ['--async-queue-limit=1']);
  assert.deepEqual(erofsHostArgs(job({ window: { path: '/x', offset: 0, size: MiB } })), [], '1.8.6 has no job queue');
  // its walk queued every file opened for a worker that, as a fiber, ran only when the walk
  // blocked: past 4,096 open files (emscripten's table) it failed with EMFILE
  const dir = path.join(work, 'many');
  fs.mkdirSync(dir);
  // files the walk hands to the worker (with data blocks; empty and tiny ones it writes itself)
  const body = Buffer.alloc(9000, 7);
  for (let i = 0; i < 5000; i++) fs.writeFileSync(path.join(dir, `f${i}`), Buffer.concat([Buffer.from(String(i)), body]));
  const img = image('many.img', 96 * MiB);
  await erofsDriver.format(job({ window: { path: img, offset: 0, size: 96 * MiB }, tree: hostTree(dir), systemdVersion: 262 }));
  const ext = spawnSync('fsck.erofs', ['--help']).error ? null : path.join(work, 'many-out');
  if (!ext) return;
  const r = spawnSync('fsck.erofs', [`--extract=${ext}`, img], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(fs.readdirSync(ext).length, 5000);
  assert.ok(fs.readFileSync(path.join(ext, 'f4999')).equals(Buffer.concat([Buffer.from('4999'), body])));
});

test('a file\'s tail block survives any heap layout before the worker fiber starts (its C stack 16-byte aligned)', { timeout: 120_000 }, async () => {
  // The green threads' C stacks came from malloc (8-byte aligned here); clang takes wasm's stack
  // pointer to be 16-byte aligned and addressed `iov[h0]` in erofs_write_tail_end as
  // `sp | h0 << 3`: with the worker's stack at 8 mod 16 both iovecs were one, and a file whose
  // tail needs a block of its own (a 4,080-byte file: no room inline) was written as 55 zero
  // bytes. What comes before the worker in the heap is the shared xattrs the walk collects:
  // values of 13..20 bytes put it at 8 mod 16 with 1.9.4.
  const body = Buffer.from(Array.from({ length: 4080 }, (_, i) => (i * 7 + 1) & 0xff));
  for (const version of [262, 257]) {
    for (let k = 12; k <= 21; k++) {
      const dir = path.join(work, `tail-${version}-${k}`);
      fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'sub/tail'), body);
      for (let j = 1; j <= k; j++) fs.writeFileSync(path.join(dir, `x${j}`), '\n');
      const t = hostTree(dir);
      // shared (named more than once): the walk before the worker collects them on the heap
      for (let j = 1; j <= k; j++) t.root.entries.get(`x${j}`)!.meta.xattrs = [{ name: `user.s${j % 3}`, value: Buffer.alloc(k, 'v') }];
      const img = image(`tail-${version}-${k}.img`, 8 * MiB);
      await erofsDriver.format(job({ window: { path: img, offset: 0, size: 8 * MiB }, tree: t, systemdVersion: version }));
      // uncompressed and not inline: the whole file is one block, as it is
      assert.ok(fs.readFileSync(img).includes(body), `${version}, xattr values of ${k} bytes: the 4,080-byte file is not in the image`);
    }
  }
});

test('the shared xattr table is in the order Debian\'s builds write it (glibc\'s qsort, not musl\'s)', { timeout: 120_000 }, async () => {
  // 1.8.6 compares two xattrs of which one is a prefix of the other as `la > lb` (never -1);
  // glibc's merge sort still puts the shorter first, musl's smoothsort did not always
  // (wasm/shim/qsort_glibc.c). Values 'v' x 1..24 of one name, each on four files (so mkfs.erofs shares them),
  // named in a shuffled order: the table must list them shortest first.
  const n = 24;
  const lens = Array.from({ length: 4 * n }, (_, i) => (i % n) + 1);
  for (let i = lens.length - 1, s = 7; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [lens[i], lens[j]] = [lens[j]!, lens[i]!];
  }
  for (const version of [257, 262]) {
    const dir = path.join(work, `shared-${version}`);
    fs.mkdirSync(dir, { recursive: true });
    lens.forEach((_, i) => fs.writeFileSync(path.join(dir, `f${String(i).padStart(2, '0')}`), String(i)));
    const t = hostTree(dir);
    lens.forEach((len, i) => (t.root.entries.get(`f${String(i).padStart(2, '0')}`)!.meta.xattrs = [{ name: 'user.p', value: Buffer.alloc(len, 'v') }]));
    const img = image(`shared-${version}.img`, 8 * MiB);
    await erofsDriver.format(job({ window: { path: img, offset: 0, size: 8 * MiB }, tree: t, systemdVersion: version }));
    const bytes = fs.readFileSync(img);
    // an entry: name length 1, index 1 (user.), value size (le16), "p", the value
    const at = Array.from({ length: n }, (_, k) => {
      const entry = Buffer.concat([Buffer.from([1, 1, k + 1, 0]), Buffer.from('p'), Buffer.alloc(k + 1, 'v')]);
      const first = bytes.indexOf(entry);
      assert.ok(first >= 0, `${version}: no shared entry for a value of ${k + 1} bytes`);
      return first;
    });
    assert.deepEqual(at, [...at].sort((a, b) => a - b), `${version}: the shared xattrs are not shortest first (offsets by length: ${at.join(" ")})`);
  }
});

test('wasm/erofs: checksums, sources, licenses', () => {
  checkArtifacts('erofs', ['mkfs.erofs.cjs', 'mkfs.erofs.wasm'],
    [/^erofs-utils: 1\.8\.6-1$/m, /^lz4: 1\.10\.0-4$/m, /^libzstd: 1\.5\.7\+dfsg-1$/m, /^emscripten: 3\.1\.6/m],
    ['erofs-utils-COPYING', 'lz4-lib-LICENSE', 'zstd-LICENSE', 'xz-COPYING.0BSD', 'zlib-LICENSE']);
});

const src = path.join(work, 'tree');
const { tree } = fixture(src);

test('erofs: a window too small fails with E_FS_NO_SPACE and stays inside it', async () => {
  const img = image('small.img', 4 * MiB, [MiB]);
  const j = job({ window: { path: img, offset: 0, size: 256 * 1024 }, tree });
  await assert.rejects(erofsDriver.format(j), (e: unknown) => e instanceof FsError && e.code === 'E_FS_NO_SPACE');
  assert.ok(marked(img, MiB));
});

test('erofs: an unknown Compression= is a clear error', async () => {
  const j = job({ window: { path: '/nonexistent', offset: 0, size: MiB }, tree, compression: 'lzo' });
  await assert.rejects(erofsDriver.format(j), /Compression=lzo is not an erofs compressor/);
});

test('erofs: each mtime to the nanosecond, as the source has it (emscripten\'s stat gives 0 ns; the host writes them)', { skip: spawnSync('dump.erofs', ['--help']).error ? 'dump.erofs (erofs-utils) is not installed' : false }, async () => {
  const dir = path.join(work, 'ns');
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'sub/f'), 'nanoseconds\n');
  fs.symlinkSync('f', path.join(dir, 'sub/l'));
  // before SOURCE_DATE_EPOCH (not clamped); Node's float milliseconds of these are ~100 ns off
  fs.utimesSync(path.join(dir, 'sub/f'), 1600000001.25, 1600000001.123456789);
  fs.lutimesSync(path.join(dir, 'sub/l'), 1600000003.5, 1600000003.5555555);
  fs.utimesSync(path.join(dir, 'sub'), 1600000002.5, 1600000002.987654321);
  const nsTree = hostTree(dir);
  const img = image('ns.img', 8 * MiB);
  await erofsDriver.format(job({ window: { path: img, offset: 0, size: 8 * MiB }, tree: nsTree }));
  for (const p of ['sub', 'sub/f', 'sub/l']) {
    const want = fs.lstatSync(path.join(dir, p), { bigint: true }).mtimeNs % 1_000_000_000n;
    assert.notEqual(want, 0n, `${p}: the fixture has a nanosecond part`);
    const out = spawnSync('dump.erofs', [`--path=/${p}`, img], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } }).stdout;
    const m = /Timestamp: \S+ \d\d:\d\d:\d\d\.(\d{9})/.exec(out);
    assert.ok(m, `${p}: dump.erofs printed no timestamp: ${out}`);
    assert.equal(BigInt(m[1]!), want, `${p}: the stored nanoseconds`);
  }
});
