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
import { squashfsDriver, mksquashfsArgs } from '../src/fs/squashfs/index.js';
import { closeWorkerPool } from '../src/fs/pool.js';
import { FsError } from '../src/errors.js';
import { checkArtifacts, fixture, marked, markedImage, MiB, rofsJob } from './erofs-helpers.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'squashfs-test-'));
const job = (over: Partial<FormatJob> & Pick<FormatJob, 'window'>) => rofsJob('squashfs', over);
const image = (name: string, size: number, marks: number[] = []) => markedImage(work, name, size, marks);
after(async () => {
  await closeWorkerPool();
  fs.rmSync(work, { recursive: true, force: true });
});


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
const { tree } = fixture(src, { noSparse: true });

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
