/**
 * Format=squashfs through the WebAssembly mksquashfs: read back by trixie's unsquashfs -d (the
 * oracle's chroot), and compared byte for byte with trixie's native mksquashfs 4.6.1 on the
 * same tree, arguments and SOURCE_DATE_EPOCH.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FormatJob } from '../src/fs/driver.js';
import type { DirNode } from '../src/tree/model.js';
import { squashfsDriver, mksquashfsArgs } from '../src/fs/squashfs/index.js';
import { closeWorkerPool, formatInWorkers } from '../src/fs/pool.js';
import { FsError } from '../src/errors.js';
import { copyWindow, diffDescriptions } from './wasm-helpers.js';
import { checkArtifacts, describeDir, describeTree, EPOCH, fixture, hostXattrView, MiB, native, nativeSkipReason, UUID, xattrView } from './erofs-helpers.js';

const same = (a: string[], b: string[]): boolean => JSON.stringify(a) === JSON.stringify(b);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'squashfs-test-'));
after(async () => {
  await closeWorkerPool();
  fs.rmSync(work, { recursive: true, force: true });
});

function job(over: Partial<FormatJob> & Pick<FormatJob, 'window'>): FormatJob {
  return {
    format: 'squashfs', label: 'usr-x86-64', fsUuid: UUID, sectorSize: 4096, tree: null, sourceDateEpoch: EPOCH,
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

test('mksquashfs argv is systemd-repart\'s', () => {
  const w = { path: '/x', offset: 0, size: MiB };
  assert.deepEqual(mksquashfsArgs(job({ window: w })), ['/repart-root', '/dev/repart-partition', '-noappend']);
  assert.deepEqual(mksquashfsArgs(job({ window: w, compression: 'zstd', compressionLevel: '19', extraOptions: ['-b', '1M'] })),
    ['/repart-root', '/dev/repart-partition', '-noappend', '-comp', 'zstd', '-Xcompression-level', '19', '-b', '1M']);
  assert.deepEqual(mksquashfsArgs(job({ window: w, compression: 'lz4' })).slice(3), ['-comp', 'lz4']);
});

test('wasm/squashfs: checksums, sources, licenses', () => {
  checkArtifacts('squashfs', ['mksquashfs.cjs', 'mksquashfs.wasm'],
    [/^squashfs-tools: 1:4\.6\.1-1$/m, /^lzo2: 2\.10-3$/m, /^lz4: 1\.10\.0-4$/m, /^emscripten: 3\.1\.6/m],
    ['squashfs-tools-COPYING', 'lzo2-COPYING', 'lz4-lib-LICENSE', 'zstd-LICENSE', 'xz-COPYING.0BSD', 'zlib-LICENSE']);
});

const src = path.join(work, 'tree');
const { tree, hostXattrs } = fixture(src, { noSparse: true });
const why = nativeSkipReason();

for (const variant of [{}, { compression: 'xz' }, { compression: 'zstd', compressionLevel: '19' }, { compression: 'lzo' }, { compression: 'lz4' }] as const) {
  const name = 'compression' in variant ? `-comp ${variant.compression}${'compressionLevel' in variant ? ' ' + variant.compressionLevel : ''}` : 'default (gzip)';
  test(`squashfs ${name}: in a worker, into a window; unsquashfs extracts the tree; native mksquashfs writes the same bytes`, { skip: why ?? false }, async () => {
    const img = image(`s-${name.replace(/ /g, '_')}.img`, 64 * MiB, [0, 40 * MiB]);
    const j = job({ window: { path: img, offset: MiB, size: 32 * MiB }, tree, ...variant });
    const [out] = await formatInWorkers([j]);
    const used = out!.usedBytes!;
    assert.ok(used > 0 && used % 4096 === 0 && used < 32 * MiB, `usedBytes ${used}`);
    assert.ok(marked(img, 0) && marked(img, 40 * MiB), 'bytes outside the window are untouched');
    const ours = path.join(work, `ours-${name.replace(/ /g, '_')}.sqfs`);
    copyWindow(img, MiB, used, ours);

    const ex = path.join(work, `ex-${name.replace(/ /g, '_')}`);
    fs.rmSync(ex, { recursive: true, force: true });
    const r = native('unsquashfs', ['-no-progress', '-d', ex, ours], [work]);
    assert.equal(r.status, 0, r.out);
    const want = describeTree(tree, EPOCH);
    assert.deepEqual(diffDescriptions(want, describeDir(ex)), []);
    // unsquashfs sets xattrs before it chowns, and the kernel drops security.capability on
    // chown: that one is checked by the byte comparison with native mksquashfs below.
    const noCap = (v: string[]) => v.filter((x) => !x.startsWith('security.capability='));
    const hostname = (tree.root.entries.get('etc') as DirNode).entries.get('hostname')!;
    assert.ok(same(noCap(hostXattrView(path.join(ex, 'etc/hostname'))), noCap(xattrView(hostname.meta.xattrs))), 'xattrs of /etc/hostname');
    assert.ok(same(hostXattrView(ex), xattrView(tree.root.meta.xattrs)), 'xattrs of the root directory');

    if (!hostXattrs) return;
    const theirs = path.join(work, `native-${name.replace(/ /g, '_')}.sqfs`);
    fs.rmSync(theirs, { force: true });
    const n = native('mksquashfs', [src, theirs, ...mksquashfsArgs(j).slice(2)], [work], { SOURCE_DATE_EPOCH: String(EPOCH) });
    assert.equal(n.status, 0, n.out);
    assert.equal(fs.statSync(theirs).size, used, 'same image size');
    assert.ok(fs.readFileSync(theirs).equals(fs.readFileSync(ours)), 'byte-identical to native mksquashfs');
  });
}

test('squashfs: a window too small fails with E_FS_NO_SPACE and stays inside it', async () => {
  const img = image('small.img', 4 * MiB, [MiB]);
  const j = job({ window: { path: img, offset: 0, size: 256 * 1024 }, tree });
  await assert.rejects(squashfsDriver.format(j), (e: unknown) => e instanceof FsError && e.code === 'E_FS_NO_SPACE');
  assert.ok(marked(img, MiB));
});

test('squashfs: an unknown Compression= is a clear error', async () => {
  const j = job({ window: { path: '/nonexistent', offset: 0, size: MiB }, tree, compression: 'lz4hc' });
  await assert.rejects(squashfsDriver.format(j), /Compression=lz4hc is not a squashfs compressor/);
});
