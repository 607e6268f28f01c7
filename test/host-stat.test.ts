import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { hostLstat, hostStat, HostStat, timespecOfNs } from '../src/io/host-stat.js';
import { inodeKey } from '../src/tree/identity.js';
import { paxTime } from '../src/tree/tar.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'repart-ts-host-stat-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

test('timespecOfNs: a nanosecond part in [0, 1e9), before 1970 too', () => {
  assert.deepEqual(timespecOfNs(1_683_356_889_123_456_789n), { sec: 1_683_356_889, nsec: 123_456_789 });
  assert.deepEqual(timespecOfNs(0n), { sec: 0, nsec: 0 });
  assert.deepEqual(timespecOfNs(-1n), { sec: -1, nsec: 999_999_999 });
  assert.deepEqual(timespecOfNs(-1_500_000_000n), { sec: -2, nsec: 500_000_000 });
  assert.deepEqual(timespecOfNs(-2_000_000_000n), { sec: -2, nsec: 0 });
});

test('hostLstat keeps the times to the nanosecond (number Stats are ~100 ns off) and the entry itself', () => {
  const f = path.join(work, 'f');
  fs.writeFileSync(f, 'x');
  // 2023-05-06T07:08:09.123456789Z: its float milliseconds round the nanoseconds
  const t = 1_683_356_889.123456789;
  fs.utimesSync(f, t, t);
  const big = fs.lstatSync(f, { bigint: true });
  const st = hostLstat(f)!;
  assert.deepEqual(st.mtime, timespecOfNs(big.mtimeNs));
  assert.equal(st.atime, st.mtime, 'equal times share one object');
  const num = fs.lstatSync(f);
  assert.notEqual(Math.round((num.mtimeMs % 1000) * 1e6), st.mtime.nsec, 'the float milliseconds would not have given them');
  assert.equal(st.size, 1);
  assert.ok(st.isFile() && !st.isDirectory() && !st.isSymbolicLink());
  const l = path.join(work, 'l');
  fs.symlinkSync('f', l);
  assert.ok(hostLstat(l)!.isSymbolicLink(), 'lstat: the link itself');
  assert.ok(hostStat(l).isFile(), 'stat: its target');
  assert.equal(hostLstat(path.join(work, 'gone')), undefined);
  assert.throws(() => hostStat(path.join(work, 'gone')), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
});

test('inodeKey: (dev, ino) exact beyond 2^53, where doubles would make two inodes one', () => {
  const big = fs.lstatSync(path.join(work, 'f'), { bigint: true });
  const a = new HostStat({ ...big, ino: 2n ** 60n, mtimeNs: big.mtimeNs, atimeNs: big.atimeNs } as fs.BigIntStats);
  const b = new HostStat({ ...big, ino: 2n ** 60n + 1n, mtimeNs: big.mtimeNs, atimeNs: big.atimeNs } as fs.BigIntStats);
  assert.equal(Number(a.ino), Number(b.ino), 'the same double');
  assert.notEqual(inodeKey(a), inodeKey(b));
  assert.equal(inodeKey(hostLstat(path.join(work, 'f'))!), `${big.dev}:${big.ino}`);
});

test('pax times (CopyArchive=): exact to the nanosecond, and before 1970 the second below', () => {
  assert.deepEqual(paxTime('1600000001.123456789'), { sec: 1600000001, nsec: 123456789 });
  assert.deepEqual(paxTime('1600000001.5'), { sec: 1600000001, nsec: 500000000 });
  assert.deepEqual(paxTime('1600000001.1234567891'), { sec: 1600000001, nsec: 123456789 });
  assert.deepEqual(paxTime('1600000001'), { sec: 1600000001, nsec: 0 });
  assert.deepEqual(paxTime('-1.25'), { sec: -2, nsec: 750000000 });
  assert.deepEqual(paxTime('-2'), { sec: -2, nsec: 0 });
  assert.throws(() => paxTime('1.2.3'), RangeError);
});
