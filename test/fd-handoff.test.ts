/**
 * Source files handed from the read-ahead to the formatting worker (src/fs/wasm/fd-handoff.ts,
 * src/build/readahead.ts): a descriptor is taken once or closed once, the number waiting is
 * bounded, and the worker's reader keeps every check that follows the open (size, growth), while
 * a file changed before the read-ahead opened it is never handed over.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildTree } from '../src/tree/build.js';
import { packTree } from '../src/tree/packed.js';
import { handoffFor, ReadAhead } from '../src/build/readahead.js';
import { HandoffGiver, HandoffTaker, heldOf, newHandoffTable, PASSED } from '../src/fs/wasm/fd-handoff.js';
import { VirtualTree } from '../src/fs/wasm/vtree.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'fd-handoff-test-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const isOpen = (fd: number): boolean => {
  try {
    fs.fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

async function tree(files: Record<string, string>) {
  const src = fs.mkdtempSync(path.join(work, 'src-'));
  for (const [name, data] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(src, name)), { recursive: true });
    fs.writeFileSync(path.join(src, name), data);
  }
  const t = await buildTree({ copySource: '/', copyFiles: [{ source: src, target: '/' }], excludeFiles: [], excludeFilesTarget: [], makeDirectories: [], makeSymlinks: [], subvolumes: [], owner: { uid: 0, gid: 0 }, now: { sec: 0, nsec: 0 } });
  return { src, packed: packTree(t, { shared: true }) };
}

test('a descriptor is taken once, handed back and closed once, or closed by the giver: never left open', () => {
  const sab = newHandoffTable(8, 4);
  const closed: number[] = [];
  const file = __filenameOf();
  const size = fs.statSync(file).size;
  const giver = new HandoffGiver(sab, (fd) => closed.push(fd), () => size);
  const taker = new HandoffTaker(sab, () => size);
  const fds = [0, 1, 2].map(() => fs.openSync(file, 'r'));
  giver.offer(1, fds[0]!);
  giver.offer(2, fds[1]!);
  assert.equal(heldOf(sab), 2);
  assert.equal(taker.take(1), fds[0], 'the offered descriptor');
  assert.equal(taker.take(1), -1, 'taken once');
  taker.giveBack(1, fds[0]!);
  assert.equal(heldOf(sab), 2, 'handed back, not closed yet');
  giver.sweep();
  assert.equal(isOpen(fds[0]!), false, 'checked and closed by the giver');
  assert.equal(heldOf(sab), 1);
  assert.equal(taker.finish(), null, 'its size was the planned one');
  assert.equal(taker.take(3), -1, 'nothing offered: the worker opens it itself ...');
  assert.ok(giver.passed(3), '... and the read-ahead then skips it');
  giver.offer(3, fds[2]!);
  assert.deepEqual(closed, [fds[2]], 'offered after the worker passed it: closed by the giver at once');
  giver.closeRest();
  assert.deepEqual(closed, [fds[2], fds[1]], 'the one never taken is closed at the end');
  assert.equal(heldOf(sab), 0);
  assert.equal(taker.take(2), -1, 'and cannot be taken after that');
  for (const fd of closed) fs.closeSync(fd);
});

test('a file handed back with another size than planned is the run\'s failure; after the giver stops the worker checks itself', () => {
  const f = path.join(work, 'grows');
  fs.writeFileSync(f, 'short');
  const sab = newHandoffTable(8, 4);
  const giver = new HandoffGiver(sab, fs.closeSync, () => 5);
  const taker = new HandoffTaker(sab, () => 5);
  const a = fs.openSync(f, 'r');
  const b = fs.openSync(f, 'r');
  giver.offer(0, a);
  giver.offer(1, b);
  const fa = taker.take(0);
  fs.appendFileSync(f, ' and longer');
  taker.giveBack(0, fa);
  giver.sweep();
  assert.deepEqual(taker.finish(), { rec: 0, size: 16 });
  giver.closeRest();
  // b was offered and closed by closeRest; a new one taken after the stop is checked by the worker
  assert.equal(isOpen(b), false);
  const c = fs.openSync(f, 'r');
  const sab2 = newHandoffTable(8, 4);
  const giver2 = new HandoffGiver(sab2, fs.closeSync, () => 16);
  const taker2 = new HandoffTaker(sab2, () => 16);
  giver2.offer(5, c);
  const fc = taker2.take(5);
  giver2.closeRest();
  taker2.giveBack(5, fc);
  assert.equal(isOpen(c), false, 'closed on the worker once the giver has stopped');
  assert.equal(taker2.finish(), null);
});

test('at the bound the giver waits until half of it is handed back (and closed)', async () => {
  const file = __filenameOf();
  const size = fs.statSync(file).size;
  const sab = newHandoffTable(16, 4);
  const giver = new HandoffGiver(sab, fs.closeSync, () => size);
  const taker = new HandoffTaker(sab, () => size);
  for (let i = 0; i < 4; i++) giver.offer(i, fs.openSync(file, 'r'));
  let waited = false;
  const room = giver.room(() => false).then(() => (waited = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(waited, false, 'four held: no room');
  taker.giveBack(0, taker.take(0));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(waited, false, 'three still held: not yet');
  taker.giveBack(1, taker.take(1));
  await room;
  assert.equal(heldOf(sab), 2);
  let stopped = false;
  const gone = giver.room(() => stopped, 10).then(() => 'returned');
  for (let i = 4; i < 7; i++) giver.offer(i, fs.openSync(file, 'r'));
  stopped = true;
  assert.equal(await gone, 'returned', 'a stopped read-ahead does not wait for room');
  giver.closeRest();
  assert.equal(heldOf(sab), 0);
});

function __filenameOf(): string {
  return new URL(import.meta.url).pathname;
}

test('the read-ahead hands over what it read; the tree reader takes it and reads the same bytes', { timeout: 30_000 }, async () => {
  const { src, packed } = await tree({ 'a/one': 'first file', 'a/two': 'second', 'b/changed': 'scanned bytes', 'c/grows': 'short' });
  // changed before the read-ahead opens it: not handed over, the reader opens it and fails as before
  fs.renameSync(path.join(src, 'b/changed'), path.join(src, 'b/old'));
  fs.writeFileSync(path.join(src, 'b/changed'), 'other bytes!!');
  const table = handoffFor(packed, 'ext4')!;
  assert.ok(table, 'ext4 over a packed tree');
  assert.equal(handoffFor(packed, 'btrfs'), undefined, 'only for a tool that opens every file once');
  const ra = new ReadAhead(packed, { handoff: table });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(heldOf(table), 3, 'a/one, a/two and c/grows wait for the worker');

  const vt = new VirtualTree(packed, '/m', (e) => new Error(e), undefined, false, table);
  const read = (p: string) => {
    const { handler, nfd } = vt.openFile(vt.resolve(p, false));
    const buf = new Uint8Array(64);
    const n = handler.read(undefined as never, buf, 0, 64, 0);
    return { text: Buffer.from(buf.subarray(0, n)).toString(), handler, nfd };
  };
  const one = read('/m/a/one');
  assert.equal(one.text, 'first file');
  one.handler.close(undefined as never);
  assert.equal(isOpen(one.nfd!), false, 'closed by the reader');
  assert.equal(heldOf(table), 2);

  assert.throws(() => read('/m/b/changed'), /EIO/);
  assert.match(vt.sourceFailure!.message, /b\/changed: changed since it was scanned \(a different file is at this path now\)/);

  // grown after the handover: the reader's check at close still sees it
  const grows = read('/m/c/grows');
  fs.appendFileSync(path.join(src, 'c/grows'), ' and longer');
  grows.handler.close(undefined as never);
  const vt2 = vt.sourceFailure!;
  assert.match(vt2.message, /b\/changed/, 'the first failure stays the one reported');

  // a/two never taken: closed once the job is over
  ra.stop();
  await ra.done;
  assert.equal(heldOf(table), 0);
});

test('a file grown after the handover fails at close with its path', { timeout: 30_000 }, async () => {
  const { src, packed } = await tree({ grows: 'short' });
  const table = handoffFor(packed, 'ext4')!;
  const ra = new ReadAhead(packed, { handoff: table });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(heldOf(table), 1);
  const vt = new VirtualTree(packed, '/m', (e) => new Error(e), undefined, false, table);
  const { handler } = vt.openFile(vt.resolve('/m/grows', false));
  assert.equal(heldOf(table), 0, 'taken');
  fs.appendFileSync(path.join(src, 'grows'), ' and longer');
  handler.close(undefined as never);
  assert.match(vt.sourceFailure!.message, /grows: changed size while it was read \(5 → 16 bytes\)/);
  ra.stop();
  await ra.done;
});

test('a source swapped for a symlink after the handover: only the scanned inode is read', { timeout: 30_000 }, async () => {
  const { src, packed } = await tree({ 'd/f': 'scanned', 'secret': 'SECRET!' });
  const table = handoffFor(packed, 'ext4')!;
  const ra = new ReadAhead(packed, { handoff: table });
  await new Promise((r) => setTimeout(r, 200));
  fs.rmSync(path.join(src, 'd'), { recursive: true });
  fs.symlinkSync(src, path.join(src, 'd'));
  fs.symlinkSync(path.join(src, 'secret'), path.join(src, 'f'));
  const vt = new VirtualTree(packed, '/m', (e) => new Error(e), undefined, false, table);
  const { handler } = vt.openFile(vt.resolve('/m/d/f', false));
  const buf = new Uint8Array(16);
  const n = handler.read(undefined as never, buf, 0, 16, 0);
  assert.equal(Buffer.from(buf.subarray(0, n)).toString(), 'scanned');
  handler.close(undefined as never);
  ra.stop();
  await ra.done;
  assert.equal(PASSED, -1);
});

test('on a worker thread: descriptors go back to the read-ahead, and a file grown while read fails the run as at close', { timeout: 30_000 }, async () => {
  const { src, packed } = await tree({ 'a-same': 'unchanged', 'b-grows': 'short' });
  const table = handoffFor(packed, 'ext4')!;
  const ra = new ReadAhead(packed, { handoff: table });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(heldOf(table), 2);
  const { Worker } = await import('node:worker_threads');
  const w = new Worker(new URL('./fd-handoff-worker.js', import.meta.url), {
    workerData: { tree: packed, table, grow: { 'a-same': '', 'b-grows': path.join(src, 'b-grows') } },
  });
  const r = await new Promise<{ failure: { message: string; errno: string } | null; fds: number[]; texts: string[] }>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await w.terminate();
  assert.deepEqual(r.texts, ['unchanged', 'short'], 'the bytes the read-ahead carried in its arena');
  assert.match(r.failure!.message, /b-grows: changed size while it was read \(5 → 16 bytes\)/);
  assert.equal(r.failure!.errno, 'EIO');
  assert.equal(heldOf(table), 0, 'both checked and closed by the read-ahead');
  for (const fd of r.fds) assert.equal(isOpen(fd), false);
  ra.stop();
  await ra.done;
});

test('the arena: a region per file, reused once the worker hands the file back; never more than the arena ahead', async () => {
  const sab = newHandoffTable(8, 8, 64);
  const sizes = [16, 16, 16, 16, 16];
  const giver = new HandoffGiver(sab, fs.closeSync, (rec) => sizes[rec]!);
  const taker = new HandoffTaker(sab, (rec) => sizes[rec]!);
  assert.equal(giver.fitsArena(16), true);
  assert.equal(giver.fitsArena(17), false, 'at most a quarter of the arena');
  assert.equal(giver.fitsArena(0), false, 'nothing to carry');
  const file = __filenameOf();
  const at: number[] = [];
  for (let i = 0; i < 4; i++) {
    at.push(await giver.reserve(16, () => false));
    giver.arena.fill(i + 1, at[i]!, at[i]! + 16);
    giver.offer(i, fs.openSync(file, 'r'), at[i]!);
  }
  assert.deepEqual(at, [0, 16, 32, 48]);
  let fifth = -2;
  const waiting = giver.reserve(16, () => false, 5).then((p) => (fifth = p));
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(fifth, -2, 'the arena is full: the read-ahead waits');
  // the worker takes record 1 first: its region comes back, but the ring's oldest (record 0) is still in use
  const fd1 = taker.take(1);
  assert.deepEqual([...taker.bytes(1)!], new Array(16).fill(2), "record 1's bytes");
  taker.giveBack(1, fd1);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(fifth, -2, 'only the oldest region frees room');
  const fd0 = taker.take(0);
  assert.deepEqual([...taker.bytes(0)!], new Array(16).fill(1));
  taker.giveBack(0, fd0);
  assert.equal(await waiting, 0, 'the first region, reused');
  assert.equal(taker.bytes(4), null, 'nothing published for a record not offered');
  let stopped = false;
  const gone = giver.reserve(48, () => stopped, 5);
  stopped = true;
  assert.equal(await gone, -1, 'a stopped read-ahead does not wait for room');
  giver.closeRest();
  assert.equal(heldOf(sab), 0);
});

test("the arena: a hard link's second offer (same record) keeps the first one's bytes and frees its own region", async () => {
  const sab = newHandoffTable(4, 8, 64);
  const giver = new HandoffGiver(sab, fs.closeSync, () => 8);
  const taker = new HandoffTaker(sab, () => 8);
  const file = __filenameOf();
  const a = await giver.reserve(8, () => false);
  giver.arena.fill(7, a, a + 8);
  giver.offer(2, fs.openSync(file, 'r'), a);
  assert.equal(giver.settled(2), true, 'offered: the read-ahead skips its other names');
  const b = await giver.reserve(8, () => false);
  giver.arena.fill(9, b, b + 8);
  const second = fs.openSync(file, 'r');
  giver.offer(2, second, b);
  assert.equal(isOpen(second), false, 'the second descriptor is closed at once');
  const fd = taker.take(2);
  assert.deepEqual([...taker.bytes(2)!], new Array(8).fill(7), 'the bytes read with the descriptor taken');
  taker.giveBack(2, fd);
  giver.sweep();
  // both regions are free again: a region of the whole remaining ring fits
  assert.equal(await giver.reserve(16, () => false), 16);
  giver.closeRest();
});
