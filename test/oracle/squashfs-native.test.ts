/**
 * Oracle tier: Format=squashfs through the WebAssembly tool, in a worker, into a window; read back by
 * trixie's tools (the oracle's chroot) and compared byte for byte with trixie's native tool on the
 * same tree, arguments and SOURCE_DATE_EPOCH.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FormatJob } from '../../src/fs/driver.js';
import type { DirNode } from '../../src/tree/model.js';
import { mksquashfsArgs } from '../../src/fs/squashfs/index.js';
import { closeWorkerPool, formatInWorkers } from '../../src/fs/pool.js';
import { copyWindow, diffDescriptions } from '../wasm-helpers.js';
import { describeDir, describeTree, EPOCH, fixture, hostXattrView, marked, markedImage, MiB, native, nativeSkipReason, rofsJob, same, xattrView } from '../erofs-helpers.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'squashfs-native-'));
after(async () => {
  await closeWorkerPool();
  fs.rmSync(work, { recursive: true, force: true });
});
const job = (over: Partial<FormatJob> & Pick<FormatJob, 'window'>) => rofsJob('squashfs', over);
const image = (name: string, size: number, marks: number[] = []) => markedImage(work, name, size, marks);

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
