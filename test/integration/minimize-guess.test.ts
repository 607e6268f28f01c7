/**
 * Minimize=guess for ext4 formats on the first pass: for trees with sparse files, hard links,
 * many small files, deep directories and many empty files, our WebAssembly mke2fs at exactly the
 * guessed size (with the model's -N, if any) fills the file system and e2fsck -fn is clean.
 * Plus: holes and zero blocks are not counted, -N is used only where the default inode ratio
 * cannot hold the tree, and the ext geometry with -N equals what mke2fs makes.
 * (The comparison with systemd-repart itself is test/oracle/minimize-guess.test.ts.)
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ext4Driver } from '../../src/fs/ext4/index.js';
import { extGeometry, guessSize, minimizedMkfsOptions, modelMkfsOptionsAt } from '../../src/plan/minimize/index.js';
import { probeJob } from '../../src/plan/minimize/probe.js';
import { emptyMeta, newTree, type FileNode, type SourceTree } from '../../src/tree/model.js';
import { hostTree } from '../wasm-helpers.js';
import { guessTrees } from '../helpers/minimize-trees.js';

const MiB = 1024 * 1024;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'minimize-guess-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const missing = ['e2fsck', 'dumpe2fs', 'debugfs'].filter((t) => !has(t));
const skip = missing.length ? `host tools missing: ${missing.join(', ')} (Debian: e2fsprogs)` : false;

/** Format `tree` at exactly `size` with our mke2fs and `extra` options; e2fsck -fn must be clean. */
async function formatAndCheck(tree: SourceTree, size: number, extra: string[]): Promise<string> {
  const img = path.join(work, 'guess.img');
  fs.rmSync(img, { force: true });
  fs.writeFileSync(img, '');
  fs.truncateSync(img, size);
  await ext4Driver.format({ ...probeJob('ext4', tree, { path: img, offset: 0, size }), extraOptions: extra });
  const r = spawnSync('e2fsck', ['-fn', img], { encoding: 'utf8' });
  assert.equal(r.status, 0, `e2fsck -fn:\n${r.stdout}\n${r.stderr}`);
  return img;
}

const dumpe2fs = (img: string): ((k: string) => number) => {
  const out = execFileSync('dumpe2fs', ['-h', img], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  return (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(out)![1]);
};

for (const t of guessTrees) {
  test(`ext4 Minimize=guess, ${t.name}: fits on the first pass at exactly the guessed size (and at the model's minimum), e2fsck clean`, { skip, timeout: 10 * 60 * 1000 }, async () => {
    const dir = path.join(work, t.name);
    fs.mkdirSync(dir, { recursive: true });
    t.make(dir);
    const tree = hostTree(dir);
    const g = guessSize('ext4', tree);
    assert.equal(g.bytes % 65536, 0);
    assert.ok(g.bytes >= g.minimal);
    // -N only where the default inode ratio cannot hold the tree under repart's size
    assert.equal(g.mkfsOptions !== undefined, t.needsInodes, `mkfsOptions ${JSON.stringify(g.mkfsOptions)}`);
    if (!t.needsInodes) assert.ok(g.bytes <= g.repartLowerBound, `guess ${g.bytes} above repart's lower bound ${g.repartLowerBound}`);
    if (t.needsInodes) {
      // a floor that makes the file system large enough for the default ratio drops -N again
      assert.deepEqual(modelMkfsOptionsAt(g, g.bytes), g.mkfsOptions);
      assert.equal(modelMkfsOptionsAt(g, 4096 * MiB), undefined);
    }
    const img = await formatAndCheck(tree, g.bytes, g.mkfsOptions ?? []);
    const get = dumpe2fs(img);
    const usedInodes = get('Inode count') - get('Free inodes');
    assert.ok(usedInodes >= t.minInodes, `only ${usedInodes} inodes used: the tree was not copied`);
    // the guess has headroom; the model's minimum (same options) must hold the content too —
    // this is where a short count (holes, extent trees, xattr blocks, -N geometry) would show
    await formatAndCheck(tree, g.minimal, g.mkfsOptions ?? []);
  });
}

test('holes and zero blocks are not counted: a 64 MiB sparse file with 1 MiB of data needs no 64 MiB', { skip }, async () => {
  const dir = path.join(work, 'holes');
  fs.mkdirSync(dir, { recursive: true });
  const fd = fs.openSync(path.join(dir, 'sparse'), 'w');
  fs.ftruncateSync(fd, 64 * MiB);
  fs.writeSync(fd, Buffer.alloc(MiB, 0x5a), 0, MiB, 40 * MiB);
  fs.closeSync(fd);
  const tree = hostTree(dir);
  // an in-memory file that is mostly zeros (mke2fs skips zero blocks whatever their source)
  const data = new Uint8Array(8 * MiB);
  data.fill(7, 3 * MiB, 3 * MiB + 4096);
  const f: FileNode = { kind: 'file', ino: tree.nextIno++, meta: emptyMeta(0o644), size: data.length, source: { kind: 'bytes', data } };
  tree.root.entries.set('zeros', f);
  const g = guessSize('ext4', tree);
  const content = g.detail.content as { detail: { data: number } };
  assert.equal(content.detail.data, 256 + 1, 'data blocks: 1 MiB of the sparse file + one block of the in-memory file');
  assert.ok(g.bytes < 64 * MiB, `guess ${g.bytes}`);
  const img = await formatAndCheck(tree, g.bytes, g.mkfsOptions ?? []);
  // the file is whole again and its holes stayed holes
  const stat = execFileSync('debugfs', ['-R', 'stat /sparse', img], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  assert.match(stat, /Size: 67108864/);
  assert.match(stat, /\(10240-10495\)/);
  const back = execFileSync('debugfs', ['-R', 'cat /sparse', img], { stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 128 * MiB });
  assert.ok(back.equals(fs.readFileSync(path.join(dir, 'sparse'))));
});

test('extGeometry with -N equals what mke2fs makes (smaller groups when a group cannot hold the inodes)', { skip }, async () => {
  const cases: [number, number][] = [[64 * MiB, 230000], [80 * MiB, 60000], [33 * MiB, 40000], [200 * MiB, 5000], [20 * MiB, 1000]];
  for (const [size, n] of cases) {
    const img = path.join(work, 'geo-n.img');
    fs.rmSync(img, { force: true });
    fs.writeFileSync(img, '');
    fs.truncateSync(img, size);
    const g = extGeometry(size, 'ext4', 65536, n);
    assert.ok(g, `model refuses ${size}/${n}`);
    await ext4Driver.format({ ...probeJob('ext4', newTree(), { path: img, offset: 0, size }), tree: null, extraOptions: ['-N', String(n)] });
    const get = dumpe2fs(img);
    assert.deepEqual(
      { blocks: g.blocks, free: g.freeBlocks, inodes: g.inodes, freeInodes: g.freeInodes, bpg: g.blocksPerGroup },
      { blocks: get('Block count'), free: get('Free blocks'), inodes: get('Inode count'), freeInodes: get('Free inodes'), bpg: get('Blocks per group') },
      `-N ${n} at ${size} bytes`,
    );
  }
  // mke2fs refuses more inode table than blocks; so does the model
  assert.equal(extGeometry(40 * MiB, 'ext4', 65536, 200000), null);
});

test('the model\'s -N goes before SYSTEMD_REPART_MKFS_OPTIONS_EXT4, and yields to the user\'s own inode sizing', () => {
  assert.deepEqual(minimizedMkfsOptions(undefined, ['-O', '^orphan_file']), ['-O', '^orphan_file']);
  assert.deepEqual(minimizedMkfsOptions(['-N', '100'], ['-O', '^orphan_file']), ['-N', '100', '-O', '^orphan_file']);
  assert.deepEqual(minimizedMkfsOptions(['-N', '100'], ['-i', '4096']), ['-i', '4096']);
  assert.deepEqual(minimizedMkfsOptions(['-N', '100'], ['-N', '9']), ['-N', '9']);
});

