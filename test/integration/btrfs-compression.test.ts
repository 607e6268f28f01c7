/**
 * btrfs Compression=zstd and lzo (libzstd 1.5.7 and liblzo2 2.10 linked into mkfs.btrfs.wasm
 * beside zlib): through the CLI, with mkfs.btrfs's own summary on stderr as systemd-repart 262
 * shows it. Judged by btrfs check, by the extents' compression type in the fs tree, and by
 * reading the files back with btrfs restore.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { copyWindow } from '../wasm-helpers.js';
import { runOurs } from '../helpers/reference.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'btrfs-comp-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const SEED = '6a1e9c3d-2f4b-4d8a-9c7e-0b1d2e3f4a5b';
/** btrfs_compression_type: 1 zlib, 2 lzo, 3 zstd */
const TYPE: Record<string, number> = { zlib: 1, lzo: 2, zstd: 3 };

function source(): string {
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'doc'), { recursive: true });
  fs.writeFileSync(path.join(src, 'doc/text'), Array.from({ length: 40000 }, (_, i) => `line ${i}: compressible\n`).join(''));
  fs.writeFileSync(path.join(src, 'zeros'), Buffer.alloc(1 << 20));
  fs.writeFileSync(path.join(src, 'small'), 'tiny\n');
  return src;
}

for (const alg of ['zstd', 'lzo', 'zlib']) {
  test(`btrfs Compression=${alg}: compressed extents, btrfs check clean, files read back; mkfs.btrfs's summary shown`, { timeout: 300_000 }, () => {
    const src = source();
    const defs = path.join(work, `defs-${alg}`);
    fs.mkdirSync(defs, { recursive: true });
    const level = alg === 'zstd' ? 'CompressionLevel=9\n' : '';
    fs.writeFileSync(path.join(defs, '10-root.conf'),
      `[Partition]\nType=root\nFormat=btrfs\nCopyFiles=${src}:/\nCompression=${alg}\n${level}SizeMinBytes=256M\n`);
    const image = path.join(work, `${alg}.img`);
    const r = runOurs(['--offline=yes', `--definitions=${defs}`, '--empty=create', '--size=auto', `--seed=${SEED}`,
      '--dry-run=no', '--json=short', image], work, { SOURCE_DATE_EPOCH: '1735689600' });
    assert.equal(r.status, 0, r.stderr);
    // mkfs.btrfs's summary, as 262 shows its mkfs child's output
    assert.match(r.stderr, new RegExp(`^\\s*Compress:\\s+${alg}`, 'm'));
    assert.match(r.stderr, /^Label:\s+root-x86-64$/m);
    const [p] = JSON.parse(r.stdout) as { offset: number; raw_size: number }[];
    const dev = path.join(work, `${alg}.btrfs`);
    copyWindow(image, p!.offset, p!.raw_size, dev);
    execFileSync('btrfs', ['check', '--readonly', dev], { stdio: 'pipe' });
    const fsTree = execFileSync('btrfs', ['inspect-internal', 'dump-tree', '-t', 'fs', dev], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const types = [...fsTree.matchAll(/compression (\d+)/g)].map((m) => +m[1]!);
    assert.ok(types.includes(TYPE[alg]!), `some extents are ${alg}-compressed (types seen: ${[...new Set(types)].join(',')})`);
    const out = path.join(work, `restore-${alg}`);
    fs.rmSync(out, { recursive: true, force: true });
    fs.mkdirSync(out);
    execFileSync('btrfs', ['restore', dev, out], { stdio: 'pipe' });
    for (const f of ['doc/text', 'zeros', 'small']) {
      const h = (q: string) => crypto.createHash('sha256').update(fs.readFileSync(q)).digest('hex');
      assert.equal(h(path.join(out, f)), h(path.join(src, f)), `${f} read back`);
    }
  });
}

test('btrfs: an unknown Compression= is a clear error naming the key', () => {
  const defs = path.join(work, 'defs-bad');
  fs.mkdirSync(defs, { recursive: true });
  fs.writeFileSync(path.join(defs, '10-root.conf'), `[Partition]\nType=root\nFormat=btrfs\nCopyFiles=${source()}:/\nCompression=brotli\nSizeMinBytes=256M\n`);
  const r = runOurs(['--offline=yes', `--definitions=${defs}`, '--empty=create', '--size=auto', `--seed=${SEED}`, '--dry-run=no', path.join(work, 'bad.img')], work);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Compression/);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
  assert.ok(!fs.existsSync(path.join(work, 'bad.img')), 'no half-written image');
});
