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
import type { FormatJob } from '../src/fs/driver.js';
import type { DirNode } from '../src/tree/model.js';
import { erofsDriver, mkfsErofsArgs } from '../src/fs/erofs/index.js';
import { closeWorkerPool, formatInWorkers } from '../src/fs/pool.js';
import { FsError } from '../src/errors.js';
import { copyWindow, diffDescriptions } from './wasm-helpers.js';
import { checkArtifacts, describeDir, describeTree, EPOCH, fixture, hostXattrView, MiB, native, nativeSkipReason, UUID, xattrView } from './erofs-helpers.js';

const same = (a: string[], b: string[]): boolean => JSON.stringify(a) === JSON.stringify(b);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'erofs-test-'));
after(async () => {
  await closeWorkerPool();
  fs.rmSync(work, { recursive: true, force: true });
});

function job(over: Partial<FormatJob> & Pick<FormatJob, 'window'>): FormatJob {
  return {
    format: 'erofs', label: 'usr-x86-64', fsUuid: UUID, sectorSize: 4096, tree: null, sourceDateEpoch: EPOCH,
    // trixie's build, compared with trixie's native tool (sid's: test/oracle/sid-tools.test.ts)
    systemdVersion: 257,
    extraOptions: [], discard: true, subvolumes: [], definitionFile: '/etc/repart.d/20-usr.conf', windowZeroed: true, ...over,
  };
}

function image(name: string, size: number, marks: number[] = []): string {
  const p = path.join(work, name);
  fs.rmSync(p, { force: true });
  fs.writeFileSync(p, '');
  fs.truncateSync(p, size);
  const fd = fs.openSync(p, 'r+');
  for (const o of marks) fs.writeSync(fd, Buffer.alloc(MiB, 0x5a), 0, MiB, o);
  fs.closeSync(fd);
  return p;
}
const marked = (img: string, o: number): boolean => {
  const b = Buffer.alloc(MiB);
  const fd = fs.openSync(img, 'r');
  fs.readSync(fd, b, 0, MiB, o);
  fs.closeSync(fd);
  return b.every((x) => x === 0x5a);
};

test('mkfs.erofs argv is systemd-repart\'s', () => {
  const w = { path: '/x', offset: 0, size: MiB };
  assert.deepEqual(mkfsErofsArgs(job({ window: w })), ['-U', UUID, '--quiet', '/dev/repart-partition', '/repart-root']);
  assert.deepEqual(mkfsErofsArgs(job({ window: w, compression: 'lz4hc', compressionLevel: '12', extraOptions: ['-Eztailpacking'] })),
    ['-U', UUID, '--quiet', '-zlz4hc,level=12', '/dev/repart-partition', '/repart-root', '-Eztailpacking']);
  assert.deepEqual(mkfsErofsArgs(job({ window: w, compression: 'zstd' })).slice(3, 4), ['-zzstd']);
});

test('wasm/erofs: checksums, sources, licenses', () => {
  checkArtifacts('erofs', ['mkfs.erofs.cjs', 'mkfs.erofs.wasm'],
    [/^erofs-utils: 1\.8\.6-1$/m, /^lz4: 1\.10\.0-4$/m, /^libzstd: 1\.5\.7\+dfsg-1$/m, /^emscripten: 3\.1\.6/m],
    ['erofs-utils-COPYING', 'lz4-lib-LICENSE', 'zstd-LICENSE', 'xz-COPYING.0BSD', 'zlib-LICENSE']);
});

const src = path.join(work, 'tree');
const { tree, hostXattrs } = fixture(src);
const why = nativeSkipReason();

for (const variant of [{}, { compression: 'lz4hc', compressionLevel: '12' }, { compression: 'zstd', compressionLevel: '15' }] as const) {
  const name = 'compression' in variant ? `-z${variant.compression},level=${variant.compressionLevel}` : 'uncompressed';
  test(`erofs ${name}: in a worker, into a window; fsck.erofs extracts the tree; native mkfs.erofs writes the same bytes`, { skip: why ?? false }, async () => {
    const img = image(`e-${name}.img`, 64 * MiB, [0, 40 * MiB]);
    const j = job({ window: { path: img, offset: MiB, size: 32 * MiB }, tree, ...variant });
    const [out] = await formatInWorkers([j]);
    const used = out!.usedBytes!;
    assert.ok(used > 0 && used % 4096 === 0 && used < 32 * MiB, `usedBytes ${used}`);
    assert.ok(marked(img, 0) && marked(img, 40 * MiB), 'bytes outside the window are untouched');
    const ours = path.join(work, `ours-${name}.erofs`);
    copyWindow(img, MiB, used, ours);

    const ex = path.join(work, `ex-${name}`);
    fs.rmSync(ex, { recursive: true, force: true });
    const r = native('fsck.erofs', [`--extract=${ex}`, '--xattrs', ours], [work]);
    assert.equal(r.status, 0, r.out);
    const want = describeTree(tree, EPOCH);
    assert.deepEqual(diffDescriptions(want, describeDir(ex)), []);
    // fsck.erofs sets xattrs before it chowns, and the kernel drops security.capability on
    // chown: that one is checked by the byte comparison with native mkfs.erofs below.
    const noCap = (v: string[]) => v.filter((x) => !x.startsWith('security.capability='));
    const hostname = (tree.root.entries.get('etc') as DirNode).entries.get('hostname')!;
    assert.ok(same(noCap(hostXattrView(path.join(ex, 'etc/hostname'))), noCap(xattrView(hostname.meta.xattrs))), 'xattrs of /etc/hostname');
    assert.ok(same(hostXattrView(ex), xattrView(tree.root.meta.xattrs)), 'xattrs of the root directory');

    if (!hostXattrs) return;
    const theirs = path.join(work, `native-${name}.erofs`);
    fs.rmSync(theirs, { force: true });
    const n = native('mkfs.erofs', [...mkfsErofsArgs(j).slice(0, -2), theirs, src], [work], { SOURCE_DATE_EPOCH: String(EPOCH) });
    assert.equal(n.status, 0, n.out);
    assert.equal(fs.statSync(theirs).size, used, 'same image size');
    assert.ok(fs.readFileSync(theirs).equals(fs.readFileSync(ours)), 'byte-identical to native mkfs.erofs');
  });
}

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
