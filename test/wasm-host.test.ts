/**
 * The JS host's own pieces: the partition window device and the virtual tree, without a tool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WindowDevice } from '../src/fs/wasm/device.js';
import { toolRunFailure } from '../src/fs/wasm/common.js';
import { wrapPositionedIo } from '../src/fs/wasm/host.js';
import { VirtualTree, byteOrder } from '../src/fs/wasm/vtree.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE } from '../src/fs/wasm/emscripten.js';
import { emptyMeta, newTree, type DirNode, type FileNode } from '../src/tree/model.js';

class Errno extends Error {}
const fail = (name: string) => new Errno(name);
const MiB = 1024 * 1024;

function image(size: number, fill: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-host-'));
  const p = path.join(dir, 'img');
  fs.writeFileSync(p, Buffer.alloc(size, fill));
  return p;
}

test('window device: I/O is translated, clipped, and never leaves the window', () => {
  const img = image(4 * MiB, 0xaa);
  const dev = new WindowDevice({ path: img, offset: MiB, size: 2 * MiB }, fail, false);
  const h = dev.open();
  const s = {} as never;
  assert.equal(h.write(s, Buffer.alloc(4096, 1), 0, 4096, 0), 4096);
  // a write running past the end is cut at the window's end; one starting there is ENOSPC
  assert.equal(h.write(s, Buffer.alloc(8192, 2), 0, 8192, 2 * MiB - 4096), 4096);
  assert.throws(() => h.write(s, Buffer.alloc(1, 3), 0, 1, 2 * MiB), /ENOSPC/);
  const r = Buffer.alloc(8192);
  assert.equal(h.read(s, r, 0, 8192, 2 * MiB - 4096), 4096, 'reads stop at the window end');
  assert.throws(() => h.truncate!(s, 2 * MiB + 1), /ENOSPC/);
  h.truncate!(s, MiB); // shrinking a window is a no-op
  h.allocate!(s, MiB, 4096, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
  h.close(s);
  const b = fs.readFileSync(img);
  assert.ok(b.subarray(0, MiB).every((x) => x === 0xaa), 'bytes before the window untouched');
  assert.ok(b.subarray(3 * MiB).every((x) => x === 0xaa), 'bytes after the window untouched');
  assert.ok(b.subarray(MiB, MiB + 4096).every((x) => x === 1));
  assert.ok(b.subarray(2 * MiB, 2 * MiB + 4096).every((x) => x === 0), 'punched range reads zero');
  assert.ok(b.subarray(3 * MiB - 4096, 3 * MiB).every((x) => x === 2));
  assert.equal(b.length, 4 * MiB);
});

test('a write the window refused fails the job even when the tool exits 0 (a tool that ignores ENOSPC)', () => {
  const img = image(4 * MiB, 0);
  const window = { path: img, offset: MiB, size: MiB };
  const dev = new WindowDevice(window, fail, false);
  const h = dev.open();
  const s = {} as never;
  h.write(s, Buffer.alloc(4096, 1), 0, 4096, 0);
  // as mkfs.erofs does when its tail-block write fails: it goes on and exits 0
  assert.throws(() => h.write(s, Buffer.alloc(4096, 2), 0, 4096, MiB), /ENOSPC/);
  h.close(s);
  const job = { window, definitionFile: '/etc/repart.d/10-root.conf' };
  const clean = { status: 0, stdout: '', stderr: '' };
  const e = toolRunFailure({ ...clean, device: dev.stats }, job, 'mkfs.erofs');
  assert.equal(e?.code, 'E_FS_NO_SPACE');
  assert.match(e!.message, /mkfs\.erofs exited 0, but a write past the end of the partition was refused \(the content needs at least 1052672 bytes, the partition has 1048576\)/);
  assert.equal(toolRunFailure({ ...clean, device: { overflow: 0 } }, job, 'mkfs.erofs'), null, 'nothing refused, exit 0: the job stands');
  assert.equal(toolRunFailure({ ...clean, status: 1, stderr: 'mkfs.erofs: bad' }, job, 'mkfs.erofs')?.code, 'E_FS');
  assert.doesNotMatch(toolRunFailure({ ...clean, status: 1, stderr: 'mkfs.erofs: bad' }, job, 'mkfs.erofs')!.message, /out of memory/);
  // 262's mkfs.erofs on a 2.2 GiB file of random bytes with Compression=lz4: said why, and what to do
  const oom = toolRunFailure({ ...clean, status: -1, crash: 'RuntimeError: memory access out of bounds', stderr: '<E> erofs: \tCould not format the device : [Error 48] Out of memory\n' }, job, 'mkfs.erofs')!;
  assert.equal(oom.code, 'E_FS');
  assert.match(oom.message, /mkfs\.erofs crashed .*out of memory: the WebAssembly mkfs\.erofs has 2 GiB.*Compression=.*\n<E> erofs: .*Out of memory/s);
  // other tools: the limit, without erofs' culprit
  assert.match(toolRunFailure({ ...clean, status: 1, stderr: 'mke2fs: Cannot allocate memory' }, job, 'mke2fs')!.message, /out of memory: the WebAssembly mke2fs has 2 GiB\)/);
  assert.equal(toolRunFailure({ ...clean, sourceFailure: { path: '/s/f', errno: 'EIO', message: '/s/f: short', namesErrno: false } }, job, 'mkfs.erofs')?.code, 'E_SOURCE');
});

test('window device on a zeroed window: zero writes are dropped, later zeroing stays exact', () => {
  const img = image(0, 0);
  fs.truncateSync(img, 8 * MiB);
  const dev = new WindowDevice({ path: img, offset: 2 * MiB, size: 4 * MiB }, fail, true);
  const h = dev.open();
  const s = {} as never;
  h.write(s, Buffer.alloc(MiB), 0, MiB, 0); // zeros over never-written space: skipped
  assert.equal(dev.stats.zeroWritesSkipped, 1);
  assert.equal(dev.stats.writes, 0);
  h.write(s, Buffer.alloc(4096, 7), 0, 4096, 65536 + 100);
  h.allocate!(s, 65536, 3 * 65536, FALLOC_FL_ZERO_RANGE); // must really zero the written chunk
  const r = Buffer.alloc(4096);
  h.read(s, r, 0, 4096, 65536 + 100);
  assert.ok(r.every((x) => x === 0));
  h.close(s);
  assert.ok(fs.readFileSync(img).every((x) => x === 0));
});

test('window device on a zeroed window: never-written blocks read as zeros without a read, written ones as written', () => {
  const img = image(0, 0);
  fs.truncateSync(img, 4 * MiB);
  // the file holds garbage where nothing was written: a read that reached it would show it
  const fd = fs.openSync(img, 'r+');
  fs.writeSync(fd, Buffer.alloc(MiB, 0x5a), 0, MiB, MiB);
  fs.closeSync(fd);
  const dev = new WindowDevice({ path: img, offset: MiB, size: MiB }, fail, true);
  const h = dev.open();
  const s = {} as never;
  h.write(s, Buffer.alloc(4096, 7), 0, 4096, 8192); // block 2 of the first 64 KiB chunk
  h.write(s, Buffer.alloc(100, 9), 0, 100, 3 * 4096 + 50); // part of block 3
  h.sync!(s);
  const r = Buffer.alloc(4096);
  const reads = dev.stats.reads;
  for (const b of [0, 1, 4, 15, 16, 255]) {
    assert.equal(h.read(s, r, 0, 4096, b * 4096), 4096);
    assert.ok(r.every((x) => x === 0), `block ${b} reads as zeros`);
  }
  assert.equal(dev.stats.reads, reads, 'never-written blocks are not read from the file');
  h.read(s, r, 0, 4096, 8192);
  assert.ok(r.every((x) => x === 7), 'a written block reads back');
  h.read(s, r, 0, 4096, 3 * 4096);
  assert.ok(r.subarray(50, 150).every((x) => x === 9) && r.subarray(0, 50).every((x) => x === 0x5a), 'a partly written block is read from the file');
  const big = Buffer.alloc(5 * 4096);
  h.read(s, big, 0, big.length, 0); // a read over written and unwritten blocks goes to the file
  assert.ok(big.subarray(0, 8192).every((x) => x === 0x5a) && big.subarray(8192, 12288).every((x) => x === 7));
  // zeroing a written block makes it clean again: zeros, without a read
  h.allocate!(s, 0, 65536, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
  const after = dev.stats.reads;
  h.read(s, r, 0, 4096, 8192);
  assert.ok(r.every((x) => x === 0));
  assert.equal(dev.stats.reads, after);
  h.close(s);
});

test('window device as an empty file (mkfs.btrfs --shrink): grows with writes, reads end at its size, truncate discards the tail', () => {
  const img = image(0, 0);
  fs.truncateSync(img, 8 * MiB);
  const dev = new WindowDevice({ path: img, offset: MiB, size: 4 * MiB }, fail, true, true);
  const h = dev.open();
  const s = {} as never;
  assert.equal(dev.stat().size, 0, 'a new file is empty');
  assert.equal(h.read(s, Buffer.alloc(16), 0, 16, 0), 0, 'nothing to read yet');
  h.write(s, Buffer.alloc(1), 0, 1, 3 * MiB - 1); // how mkfs.btrfs enlarges its output file
  assert.equal(dev.stat().size, 3 * MiB);
  h.write(s, Buffer.alloc(4096, 9), 0, 4096, 2 * MiB);
  h.write(s, Buffer.alloc(4096, 8), 0, 4096, 4096);
  h.truncate!(s, MiB); // the shrink: everything from 1 MiB on is gone
  assert.equal(dev.stat().size, MiB);
  assert.equal(dev.stats.end, MiB);
  assert.equal(h.read(s, Buffer.alloc(8192), 0, 8192, MiB - 4096), 4096, 'reads stop at the file size');
  h.allocate!(s, 0, 2 * MiB, 0); // plain fallocate grows a file
  assert.equal(dev.stat().size, 2 * MiB);
  assert.throws(() => h.write(s, Buffer.alloc(1), 0, 1, 4 * MiB), /ENOSPC/, 'never past the window');
  h.close(s);
  const b = fs.readFileSync(img);
  assert.ok(b.subarray(MiB + 4096, MiB + 8192).every((x) => x === 8));
  assert.ok(b.subarray(2 * MiB).every((x) => x === 0), 'the truncated tail reads as zeros');
});

test('virtual tree: lookups, symlinks, link counts and byte-order listing', () => {
  const t = newTree();
  const file: FileNode = { kind: 'file', ino: 2, meta: emptyMeta(0o4755), size: 3, source: { kind: 'bytes', data: Buffer.from('abc') } };
  const sub: DirNode = { kind: 'dir', ino: 3, meta: emptyMeta(0o1777), entries: new Map() };
  t.root.entries.set('b', sub);
  t.root.entries.set('a', file);
  sub.entries.set('hard', file);
  sub.entries.set('up', { kind: 'symlink', ino: 4, meta: emptyMeta(0o777), target: '../a' });
  sub.entries.set('abs', { kind: 'symlink', ino: 5, meta: emptyMeta(0o777), target: '/b/up' });
  sub.entries.set('loop', { kind: 'symlink', ino: 6, meta: emptyMeta(0o777), target: 'loop' });
  t.nextIno = 7;
  const v = new VirtualTree(t, '/m', fail);
  assert.ok(v.contains('/m') && v.contains('/m/b') && !v.contains('/mx'));
  const at = (p: string, follow = false) => v.resolve(p, follow);
  assert.equal(at('/m/b/up', true).i, at('/m/a').i);
  assert.equal(at('/m/b/abs', true).i, at('/m/a').i, 'absolute targets resolve inside the tree');
  assert.equal(at('/m/b/up', false).kind, 'symlink');
  assert.equal(at('/m/b/../a', false).i, at('/m/a').i);
  assert.throws(() => v.resolve('/m/b/loop', true), /ELOOP/);
  assert.throws(() => v.resolve('/m/a/x', false), /ENOTDIR/);
  assert.throws(() => v.resolve('/m/nope', false), /ENOENT/);
  const st = v.stat(at('/m/a'));
  assert.equal(st.nlink, 2, 'a hard link is the same node twice');
  assert.equal(st.mode, 0o104755);
  assert.equal(st.ino, file.ino);
  assert.deepEqual(v.stat(at('/m/b/hard')), st, 'both names of a hard link stat the same');
  assert.equal(v.stat(at('/m')).nlink, 3);
  assert.equal(v.stat(at('/m/b')).mode, 0o41777);
  assert.deepEqual(v.readdir(at('/m/b')), ['.', '..', 'abs', 'hard', 'loop', 'up']);
  assert.deepEqual(byteOrder(['\u00e9', 'z', '\u{1F600}', 'A', '\uFFFD']), ['A', 'z', '\u00e9', '\uFFFD', '\u{1F600}']);
  const h = v.openFile(at('/m/b/hard')).handler;
  const buf = Buffer.alloc(8);
  assert.equal(h.read({} as never, buf, 1, 8, 1), 2);
  assert.equal(buf.subarray(1, 3).toString(), 'bc');
});

test('virtual tree: a name looked up in its directory\'s record is what its path resolves to (mke2fs -d names entries so)', () => {
  const t = newTree();
  const file: FileNode = { kind: 'file', ino: 2, meta: emptyMeta(0o644), size: 0, source: { kind: 'bytes', data: Buffer.alloc(0) } };
  const sub: DirNode = { kind: 'dir', ino: 3, meta: emptyMeta(0o755), entries: new Map() };
  t.root.entries.set('a', file);
  t.root.entries.set('b', sub);
  sub.entries.set('f', file);
  sub.entries.set('up', { kind: 'symlink', ino: 4, meta: emptyMeta(0o777), target: '../a' });
  sub.entries.set('\u00e9t\u00e9', { kind: 'dir', ino: 5, meta: emptyMeta(0o700), entries: new Map() });
  t.nextIno = 6;
  const v = new VirtualTree(t, '/m', fail);
  const root = v.resolve('/m', true).i;
  const b = v.resolve('/m/b', true).i;
  for (const [dir, base, name] of [[root, '/m', 'a'], [root, '/m', 'b'], [b, '/m/b', 'f'], [b, '/m/b', 'up'], [b, '/m/b', '\u00e9t\u00e9']] as const) {
    const byName = v.resolveIn(dir, name, false)!;
    const byPath = v.resolve(`${base}/${name}`, false);
    assert.deepEqual(byName, byPath, name);
    const st = v.stat(byPath);
    assert.deepEqual(v.inoMode(byName), { ino: st.ino, mode: st.mode }, `${name}: d_ino and d_type as stat says`);
  }
  // a symlink to follow is left to the path walk; a missing name is ENOENT either way
  assert.equal(v.resolveIn(b, 'up', true), null);
  assert.deepEqual(v.resolveIn(b, 'f', true), v.resolve('/m/b/f', true));
  assert.throws(() => v.resolveIn(b, 'nope', false), /ENOENT/);
  assert.throws(() => v.resolve('/m/b/nope', false), /ENOENT/);
});

test('window device: writes it still holds are written at close, and a failure to write them is not lost', () => {
  const img = image(0, 0);
  fs.truncateSync(img, 4 * MiB);
  const dev = new WindowDevice({ path: img, offset: MiB, size: 2 * MiB }, fail, true);
  const h = dev.open();
  const s = {} as never;
  // interleaved as mke2fs writes: data blocks with a metadata block rewritten between them
  for (let i = 0; i < 64; i++) {
    h.write(s, Buffer.alloc(4096, i + 1), 0, 4096, 65536 + i * 4096);
    h.write(s, Buffer.alloc(4096, 200 + (i % 8)), 0, 4096, 8192);
  }
  const r = Buffer.alloc(4096);
  h.read(s, r, 0, 4096, 8192);
  assert.ok(r.every((x) => x === 207), 'a held block reads back as last written');
  assert.equal(dev.stats.reads, 0, '... without reading the file');
  assert.ok(fs.readFileSync(img).every((x) => x === 0), 'nothing written to the file yet');
  h.close(s);
  const b = fs.readFileSync(img);
  assert.ok(b.subarray(MiB + 8192, MiB + 12288).every((x) => x === 207));
  for (let i = 0; i < 64; i++) assert.equal(b[MiB + 65536 + i * 4096 + 17], i + 1);
  assert.ok(dev.stats.writes <= 2, `the 65 blocks went out in ${dev.stats.writes} writes`);

  // a write larger than the buffer goes straight to the file, at most 1 MiB a write
  const big = new WindowDevice({ path: img, offset: 0, size: 4 * MiB }, fail, false);
  const g = big.open();
  const data = Buffer.alloc(3 * MiB + 4096);
  for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 0xff;
  assert.equal(g.write(s, data, 0, data.length, 4096), data.length);
  assert.equal(big.stats.writes, 4);
  g.close(s);
  assert.ok(fs.readFileSync(img).subarray(4096, 4096 + data.length).equals(data));

  // /dev/full takes no byte: the held writes fail when they are written, at close
  const full = new WindowDevice({ path: '/dev/full', offset: 0, size: MiB }, fail, false);
  const f = full.open();
  assert.equal(f.write(s, Buffer.alloc(4096, 1), 0, 4096, 0), 4096);
  assert.throws(() => f.close(s), /ENOSPC/);
});

/**
 * emscripten 3.1.6's fd_pwrite/fd_pread as linked into every tool (wasm/glue/lib64.js with its
 * doWritev/doReadv): each buffer at the same offset. Modelled over a file in memory.
 */
function glueLikePositionedIo(mem: WebAssembly.Memory, file: Buffer, log: number[]) {
  const io = (write: boolean) => (_fd: number, iov: number, iovcnt: number, lo: number, hi: number, pnum: number): number => {
    const pos = hi * 4294967296 + (lo >>> 0) - 2 ** 32; // the model's file starts at 4 GiB (64-bit offsets)
    let ret = 0;
    for (let i = 0; i < iovcnt; i++) {
      const h = new Uint32Array(mem.buffer);
      const ptr = h[(iov + i * 8) >> 2]!;
      const len = h[(iov + i * 8 + 4) >> 2]!;
      const heap = new Uint8Array(mem.buffer);
      const n = Math.max(0, Math.min(len, file.length - pos));
      log.push(pos);
      if (write) file.set(heap.subarray(ptr, ptr + n), pos);
      else heap.set(file.subarray(pos, pos + n), ptr);
      ret += n;
      if (!write && n < len) break;
    }
    new Int32Array(mem.buffer)[pnum >> 2] = ret;
    return 0;
  };
  return { fd_pwrite: io(true), fd_pread: io(false) } as Record<string, unknown>;
}

test('pwritev/preadv with several buffers: each at its own offset (emscripten 3.1.6 gave all one offset)', () => {
  const mem = new WebAssembly.Memory({ initial: 1 });
  const heap = new Uint8Array(mem.buffer);
  const iov = (at: number, bufs: [number, number][]) => bufs.forEach(([ptr, len], i) => new Uint32Array(mem.buffer).set([ptr, len], (at + i * 8) >> 2));
  heap.set(Buffer.from('inode'), 1000);
  heap.set(Buffer.from('xattrs!'), 2000);
  iov(100, [[1000, 5], [3000, 0], [2000, 7]]);
  const lo = 2 ** 32 + 10;
  const call = (env: Record<string, unknown>, name: string, cnt: number) =>
    (env[name] as (...a: number[]) => number)(3, 100, cnt, lo % 2 ** 32, Math.floor(lo / 2 ** 32), 200);

  // as linked: both buffers land at offset 10, the second over the first
  const broken = Buffer.alloc(32);
  assert.equal(call(glueLikePositionedIo(mem, broken, []), 'fd_pwrite', 3), 0);
  assert.equal(broken.subarray(10, 22).toString(), 'xattrs!\0\0\0\0\0');

  // wrapped: one after the other, and the count of all of them
  const file = Buffer.alloc(32);
  const log: number[] = [];
  const env = glueLikePositionedIo(mem, file, log);
  wrapPositionedIo(env, () => mem);
  assert.equal(call(env, 'fd_pwrite', 3), 0);
  assert.equal(new Int32Array(mem.buffer)[200 >> 2], 12);
  assert.equal(file.subarray(10, 22).toString(), 'inodexattrs!');
  assert.deepEqual(log, [10, 15, 15]);

  // reads come back the same way, and stop at the end of the file (a short transfer)
  heap.fill(0, 1000, 1005);
  heap.fill(0, 2000, 2007);
  assert.equal(call(env, 'fd_pread', 3), 0);
  assert.equal(Buffer.from(heap.subarray(1000, 1005)).toString(), 'inode');
  assert.equal(Buffer.from(heap.subarray(2000, 2007)).toString(), 'xattrs!');
  const short = Buffer.from('0123456789abcdef');
  const env2 = glueLikePositionedIo(mem, short, []);
  wrapPositionedIo(env2, () => mem);
  iov(100, [[1000, 4], [2000, 8], [3000, 8]]);
  const lo2 = 2 ** 32 + 6;
  assert.equal((env2.fd_pread as (...a: number[]) => number)(3, 100, 3, lo2 % 2 ** 32, 1, 200), 0);
  assert.equal(new Int32Array(mem.buffer)[200 >> 2], 10, 'bytes 6..15: 4 + 6, then the short read ends it');
  assert.equal(Buffer.from(heap.subarray(2000, 2006)).toString(), 'abcdef');

  // one buffer: passed through as it is
  let seen = -1;
  const env3: Record<string, unknown> = { fd_pwrite: (_f: number, _i: number, cnt: number) => { seen = cnt; return 0; } };
  wrapPositionedIo(env3, () => mem);
  (env3.fd_pwrite as (...a: number[]) => number)(3, 100, 1, 0, 0, 200);
  assert.equal(seen, 1);
});
