/**
 * Minimize= size models against the real tools: for trees of different shapes, the model's size
 * must format (our drivers run the real mke2fs / mkfs.btrfs / our FAT writer), pass fsck, and be
 * within max(2%, 1 MiB) of the true minimum — shown by the tool *failing* at model − tolerance
 * (monotone in size, so that and "fits at the model" bracket the true minimum; bench/minimize.ts
 * bisects it exactly). Plus: the ext geometry equals what mke2fs makes, formatMinimized's retries.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RepartError } from '../../src/errors.js';
import { ext4Driver } from '../../src/fs/ext4/index.js';
import { extGeometry, formatMinimized, guessSize, minimalSize } from '../../src/plan/minimize/index.js';
import { fitsWithTool, probeJob } from '../../src/plan/minimize/probe.js';
import { emptyMeta, newTree, type DirNode, type FileNode, type SourceTree } from '../../src/tree/model.js';
import { generate } from '../../test-images/gen-tree.js';
import { hostTree } from '../wasm-helpers.js';

const MiB = 1024 * 1024;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'minimize-test-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const missing = ['e2fsck', 'dumpe2fs', 'btrfs', 'fsck.fat'].filter((t) => !has(t));
const skip = missing.length ? `host tools missing: ${missing.join(', ')} (Debian: e2fsprogs btrfs-progs dosfstools)` : false;

function fsck(format: string, image: string): void {
  const [cmd, args] = format === 'btrfs' ? ['btrfs', ['check', '--readonly', image]]
    : format === 'vfat' ? ['fsck.fat', ['-n', image]] : ['e2fsck', ['-fn', image]];
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
}

/** Non-zero pseudo-random bytes (mke2fs skips all-zero blocks, which would hide a short model). */
function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = (x & 0xff) | 1;
  }
  return b;
}

/** In memory: slow symlinks (targets ≥ 60 bytes), many hard links, special files, a 3000-entry
 * directory (several blocks, its own extent tree), and a file just over 4 extents' worth. */
function mixedTree(): SourceTree {
  const t = newTree();
  const meta = emptyMeta(0o644, { sec: 1700000000, nsec: 0 });
  const dir = (parent: DirNode, name: string): DirNode => {
    const d: DirNode = { kind: 'dir', ino: t.nextIno++, meta: emptyMeta(0o755), entries: new Map() };
    parent.entries.set(name, d);
    return d;
  };
  const file = (parent: DirNode, name: string, size: number): FileNode => {
    const f: FileNode = { kind: 'file', ino: t.nextIno++, meta, size, source: { kind: 'bytes', data: bytes(size, t.nextIno) } };
    parent.entries.set(name, f);
    return f;
  };
  const big = dir(t.root, 'big-directory-with-many-entries');
  const targets: FileNode[] = [];
  for (let i = 0; i < 3000; i++) targets.push(file(big, `entry-${String(i).padStart(5, '0')}-${'x'.repeat(i % 40)}`, (i * 37) % 9000));
  const links = dir(t.root, 'links');
  for (let i = 0; i < 400; i++) links.entries.set(`hard-${i}`, targets[i * 7]!);
  for (let i = 0; i < 300; i++) links.entries.set(`slow-${i}`, { kind: 'symlink', ino: t.nextIno++, meta, target: `../big-directory-with-many-entries/${'y'.repeat(40 + (i % 60))}` });
  for (let i = 0; i < 20; i++) links.entries.set(`fifo-${i}`, { kind: 'fifo', ino: t.nextIno++, meta, rdev: 0 });
  file(t.root, 'blob', 5 * MiB + 12345);
  return t;
}

function onDisk(shape: string, opts: { bytes?: number; files?: number } = {}): SourceTree {
  const dir = path.join(work, shape);
  generate(shape, dir, 7, opts.bytes ?? 16 * MiB, opts.files ?? 2000);
  return hostTree(dir);
}

const trees: [string, () => SourceTree][] = [
  ['tiny (6000 small files)', () => onDisk('tiny', { files: 6000 })],
  ['large (4 big files)', () => onDisk('large', { bytes: 48 * MiB })],
  ['deep directories', () => onDisk('deep')],
  ['links (symlinks, hard links)', () => onDisk('links', { files: 1500 })],
  ['long names', () => onDisk('longnames')],
  ['store closure', () => onDisk('closure', { files: 2500, bytes: 24 * MiB })],
  ['mixed in-memory', mixedTree],
];

const cases: { format: string; trees: string[]; sectorSize?: number }[] = [
  { format: 'ext4', trees: trees.map(([n]) => n) },
  { format: 'btrfs', trees: trees.map(([n]) => n) },
  { format: 'vfat', trees: trees.map(([n]) => n) },
  { format: 'ext2', trees: ['store closure'] },
  { format: 'ext3', trees: ['large (4 big files)', 'mixed in-memory'] },
  { format: 'vfat', trees: ['store closure', 'long names'], sectorSize: 4096 },
];

const built = new Map<string, SourceTree>();
const treeFor = (name: string): SourceTree => {
  let t = built.get(name);
  if (!t) {
    t = trees.find(([n]) => n === name)![1]();
    built.set(name, t);
  }
  return t;
};

for (const c of cases) {
  for (const name of c.trees) {
    const ss = c.sectorSize ?? 512;
    test(`${c.format}${c.sectorSize ? ` (${ss}-byte sectors)` : ''}, ${name}: the model's size formats, fsck is clean, the tool refuses model − max(2%, 1 MiB)`, { skip }, async () => {
      const tree = treeFor(name);
      const label = c.format === 'vfat' ? 'ROOT' : undefined;
      const m = minimalSize(c.format, tree, { sectorSize: ss, label });
      assert.equal(m.bytes % 4096, 0);
      const opts = { scratchDir: work, label: 'root', sectorSize: ss };
      assert.ok(await fitsWithTool(c.format, tree, m.bytes, { ...opts, check: (img) => fsck(c.format, img) }), `${c.format} refused the model's ${m.bytes} bytes`);
      const tol = Math.max(Math.ceil(m.bytes * 0.02), MiB);
      const below = Math.floor((m.bytes - tol) / 4096) * 4096;
      assert.equal(await fitsWithTool(c.format, tree, below, opts), false, `${c.format} also fits in ${below} bytes: the model (${m.bytes}) is more than ${tol} bytes too large`);
      const g = guessSize(c.format, tree, { sectorSize: ss, label });
      // with -N (inodes sized apart from blocks, ext-guess.ts) the guess's floor is its own minimum
      assert.ok(g.bytes >= (g.mkfsOptions ? g.minimal : m.bytes), `guess ${g.bytes} below the minimum`);
      if (g.repartLowerBound >= m.bytes) assert.ok(g.bytes <= g.repartLowerBound, `guess ${g.bytes} above repart's lower bound ${g.repartLowerBound}`);
    });
  }
}

test('extGeometry equals the empty file system the wasm mke2fs makes (blocks, free blocks, inodes)', { skip }, async () => {
  const sizes = [400 * 1024, 2 * MiB, 8 * MiB - 4096, 8 * MiB + 12 * 4096, 33 * MiB + 4096 * 3, 128 * MiB + 1024 * 1024, 129 * MiB, 700 * MiB + 20480, 2 * 1024 * MiB + 5 * 4096];
  for (const format of ['ext4', 'ext2', 'ext3']) {
    for (const size of sizes) {
      const img = path.join(work, 'geo.img');
      fs.rmSync(img, { force: true });
      fs.writeFileSync(img, '');
      fs.truncateSync(img, size);
      const g = extGeometry(size, format as 'ext4');
      let made = true;
      try {
        await ext4Driver.format({ ...probeJob(format, newTree(), { path: img, offset: 0, size }), tree: null });
      } catch (e) {
        if (!(e instanceof RepartError)) throw e;
        made = false;
      }
      assert.equal(made, g !== null, `${format} ${size}: mke2fs ${made ? 'made' : 'refused'} it, the model says ${g ? 'fine' : 'too small'}`);
      if (!g) continue;
      const out = execFileSync('dumpe2fs', ['-h', img], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
      const get = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(out)![1]);
      assert.deepEqual(
        { blocks: g.blocks, free: g.freeBlocks, inodes: g.inodes, freeInodes: g.freeInodes },
        { blocks: get('Block count'), free: get('Free blocks'), inodes: get('Inode count'), freeInodes: get('Free inodes') },
        `${format} at ${size} bytes`,
      );
    }
  }
});

test('formatMinimized: a short model is grown in small steps until mke2fs fits, every pass counted; bounded', { skip }, async () => {
  const tree = treeFor('store closure');
  const m = minimalSize('ext4', tree);
  const img = path.join(work, 'best.img');
  const fresh = () => {
    fs.rmSync(img, { force: true });
    fs.writeFileSync(img, '');
    fs.truncateSync(img, m.bytes + 64 * MiB);
  };
  fresh();
  const job = probeJob('ext4', tree, { path: img, offset: 0, size: m.bytes + 64 * MiB });
  const logs: string[] = [];
  const short = m.bytes - 2 * MiB;
  const out = await formatMinimized(job, short, { log: (s) => logs.push(s) });
  assert.ok(out.passes >= 2 && out.passes <= 5, `passes ${out.passes}`);
  assert.equal(out.tried.length, out.passes);
  assert.equal(logs.length, out.passes - 1);
  assert.ok(out.bytes >= m.bytes - 65536 && out.bytes <= m.bytes + 2 * MiB, `final ${out.bytes} vs model ${m.bytes}`);
  fsck('ext4', img);
  const fsBlocks = Number(/^Block count:\s+(\d+)/m.exec(execFileSync('dumpe2fs', ['-h', img], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] }))![1]);
  assert.ok(fsBlocks * 4096 <= out.bytes, 'the file system stays inside the minimized size');

  // exact model: one pass
  fresh();
  const once = await formatMinimized(job, m);
  assert.equal(once.passes, 1);
  assert.equal(once.bytes, m.bytes);

  // no retries allowed: a clear E_FS_NO_SPACE
  fresh();
  await assert.rejects(formatMinimized(job, short, { maxRetries: 0 }), (e: unknown) => e instanceof RepartError && e.code === 'E_FS_NO_SPACE' && /did not fit after 1 passes/.test(e.message));
  // a model larger than the window is refused before formatting
  await assert.rejects(formatMinimized({ ...job, window: { ...job.window, size: 4 * MiB } }, m), (e: unknown) => e instanceof RepartError && e.code === 'E_FS_NO_SPACE');
});

test('minimalSize: swap is SizeMin, unknown formats are a clear error, an empty tree has the tool minimum', () => {
  assert.equal(minimalSize('swap', null, { sizeMin: 64 * MiB + 1 }).bytes, 64 * MiB + 4096);
  assert.throws(() => minimalSize('xfs', null), (e: unknown) => e instanceof RepartError && e.code === 'E_FS' && /xfs/.test(e.message));
  assert.equal(minimalSize('btrfs', null).bytes, 109 * MiB);
  const e = minimalSize('ext4', null);
  assert.ok(e.bytes > 0 && e.bytes < MiB, `empty ext4 minimum ${e.bytes}`);
});

test('btrfs with Subvolumes= (--subvol): the model still is the floor, check is clean', { skip }, async () => {
  const tree = treeFor('store closure');
  const m = minimalSize('btrfs', tree);
  const subvolumes = [{ path: '/nix', readOnly: false, nodatacow: false }, { path: '/nix/store', readOnly: true, nodatacow: false }];
  const opts = { scratchDir: work, subvolumes };
  assert.ok(await fitsWithTool('btrfs', tree, m.bytes, { ...opts, check: (img) => fsck('btrfs', img) }));
  assert.equal(await fitsWithTool('btrfs', tree, m.bytes - 4096, opts), false);
});
