/**
 * Fuzzing the GPT reader (issue 15): a few thousand seeded random corruptions of valid tables,
 * 512- and 4096-byte sectors. The reader may only return a table that passes an independent
 * check, or throw a RepartError; it never reads outside the disk. A sample also goes through the
 * whole CLI in process: a table the reader refuses is never written to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RepartError } from '../../src/errors.js';
import { encodeGpt, gptGeometry, probeGpt, type GptProbe } from '../../src/gpt/table.js';
import type { GptEntry } from '../../src/gpt/entry.js';
import { parseUuid } from '../../src/gpt/guid.js';
import { run } from '../../src/cli/run.js';
import { HEADER, copies, fixCrcs, sha256 } from '../helpers/gpt-craft.js';

const CASES_PER_SECTOR_SIZE = 2000;
const CLI_EVERY = 40;

/** mulberry32: small, seedable, good enough to spread corruptions */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!, u64: () => (BigInt(int(2 ** 32)) << 32n) | BigInt(int(2 ** 32)) };
}
type Rng = ReturnType<typeof prng>;

const TYPE = parseUuid('0fc63daf-8483-4772-8e79-3d69d8477de4')!;

/** A valid image of `bytes` with 1–4 partitions. */
function validImage(r: Rng, ss: number, bytes: number): Buffer {
  const geo = gptGeometry(BigInt(bytes), ss);
  const entries: (GptEntry | null)[] = [];
  let at = geo.firstUsableLba;
  const count = 1 + r.int(4);
  for (let i = 0; i < count; i++) {
    const len = 1n + BigInt(r.int(Number((geo.lastUsableLba - at) / BigInt(count + 1))));
    if (at + len - 1n > geo.lastUsableLba) break;
    const partGuid = Uint8Array.from({ length: 16 }, () => r.int(256));
    entries[r.int(3) === 0 ? i + 1 + r.int(5) : i] ??= { typeGuid: TYPE, partGuid, firstLba: at, lastLba: at + len - 1n, attributes: 0n, name: `p${i}` };
    at += len + BigInt(r.int(3));
  }
  const b = Buffer.alloc(bytes);
  const g = encodeGpt({ diskGuid: parseUuid('ef7f7ee2-47b3-4251-b1a1-09ea8bf12d5d')!, entries: Array.from(entries, (e) => e ?? null) }, geo);
  b.set(g.head, 0);
  b.set(g.tail, Number(g.tailOffset));
  return b;
}

const FIELDS64 = ['myLba', 'alternateLba', 'firstUsable', 'lastUsable', 'entriesLba'] as const;
const FIELDS32 = ['revision', 'headerSize', 'numEntries', 'entrySize'] as const;

function interesting(r: Rng, N: bigint): bigint {
  return r.pick([0n, 1n, 2n, 33n, 34n, 2048n, N - 34n, N - 33n, N - 2n, N - 1n, N, N + 1n, 0xffffffffn, 1n << 63n, (1n << 64n) - 1n, r.u64(), BigInt(r.int(Number(N)))].map((x) => x < 0n ? 0n : x & ((1n << 64n) - 1n)));
}

/** One to three corruptions; CRCs fixed afterwards in most cases (corrupt but CRC-valid). */
function corrupt(r: Rng, b: Buffer, ss: number): Buffer {
  const N = BigInt(b.length / ss);
  const cs = copies(b, ss);
  for (let k = 1 + r.int(3); k > 0; k--) {
    const c = r.pick(cs);
    switch (r.int(6)) {
      case 0: { // a header field, in one or both copies
        const f = r.pick(FIELDS64), v = interesting(r, N);
        for (const x of r.int(2) ? cs : [c]) b.writeBigUInt64LE(v, x.header + HEADER[f]);
        break;
      }
      case 1: {
        const f = r.pick(FIELDS32), v = r.pick([0, 1, 91, 92, 93, 127, 128, 129, 256, ss, ss + 1, 0x10000, 0xffffffff, r.int(2 ** 32)]);
        for (const x of r.int(2) ? cs : [c]) b.writeUInt32LE(v >>> 0, x.header + HEADER[f]);
        break;
      }
      case 2: { // an entry's range, in both arrays
        const i = r.int(6), first = interesting(r, N), last = r.int(2) ? first + BigInt(r.int(1000)) : interesting(r, N);
        for (const x of cs) if (x.entries >= 0 && x.entries + 128 * 6 <= b.length) {
          b[x.entries + i * 128] ||= 0x42;
          b.writeBigUInt64LE(first & ((1n << 64n) - 1n), x.entries + i * 128 + 32);
          b.writeBigUInt64LE(last & ((1n << 64n) - 1n), x.entries + i * 128 + 40);
        }
        break;
      }
      case 3: { // a random byte of a header or array
        const at = r.int(2) ? c.header + r.int(ss) : (c.entries >= 0 ? c.entries : c.header) + r.int(16384);
        if (at < b.length) b[at] ^= 1 + r.int(255);
        break;
      }
      case 4: b.fill(0, c.header, c.header + ss); break;
      case 5: if (r.int(4) === 0) b.fill(0, 446, 512); break; // the protective MBR record
    }
    if (r.int(5) !== 0) for (const x of cs) fixCrcs(b, x);
  }
  return b;
}

/** What a returned table must satisfy, checked independently of src/gpt/validate.ts. */
function checkReturned(p: GptProbe, bytes: number): void {
  if (p.kind !== 'gpt') return;
  const { header: h, table, sectorSize: ss } = p.gpt;
  const N = BigInt(bytes / ss);
  assert.ok(h.firstUsableLba <= h.lastUsableLba && h.lastUsableLba < N - 1n, 'usable area on the disk');
  assert.ok(h.alternateLba > h.lastUsableLba && h.alternateLba < N, 'backup after the usable area');
  const E = BigInt(Math.ceil((h.numEntries * h.entrySize) / ss));
  assert.ok(h.firstUsableLba >= 2n + E, 'primary array before the usable area');
  const used = table.entries.filter((e): e is GptEntry => e !== null).sort((x, y) => (x.firstLba < y.firstLba ? -1 : 1));
  for (const [i, e] of used.entries()) {
    assert.ok(e.firstLba >= h.firstUsableLba && e.firstLba <= e.lastLba && e.lastLba <= h.lastUsableLba, 'entry inside the usable area');
    if (i > 0) assert.ok(e.firstLba > used[i - 1]!.lastLba, 'no overlap');
  }
}

test('GPT reader fuzz: only valid tables or a RepartError, reads inside the disk, no writes on refusal', { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gpt-fuzz-'));
  try {
    mkdirSync(path.join(dir, 'defs'));
    writeFileSync(path.join(dir, 'defs/50-home.conf'), '[Partition]\nType=home\nSizeMinBytes=64K\nSizeMaxBytes=64K\n');
    const stats = { gpt: 0, invalid: 0, none: 0, corrupt: 0, cli: 0, cliWrote: 0 };
    for (const ss of [512, 4096]) {
      const r = prng(ss * 7919);
      for (let i = 0; i < CASES_PER_SECTOR_SIZE; i++) {
        const bytes = ss === 512 ? 2 << 20 : 8 << 20;
        const b = corrupt(r, validImage(r, ss, bytes), ss);
        const read = async (off: bigint, len: number) => {
          assert.ok(off >= 0n && off + BigInt(len) <= BigInt(b.length), `read ${len} at ${off} stays inside the ${b.length}-byte disk`);
          assert.ok(len <= (1 << 20) + 65536, 'bounded read');
          return b.subarray(Number(off), Number(off) + len);
        };
        let p: GptProbe | null = null;
        try {
          p = await probeGpt(read, BigInt(b.length), 'fuzz: ');
          checkReturned(p, b.length);
          stats[p.kind]++;
        } catch (e) {
          if (!(e instanceof RepartError) || e.code !== 'E_GPT_CORRUPT') throw new Error(`case ${ss}/${i}: ${(e as Error).stack}`);
          stats.corrupt++;
        }
        if (i % CLI_EVERY !== 0) continue;
        const img = path.join(dir, `f${ss}-${i}.img`);
        writeFileSync(img, b);
        const before = sha256(img);
        let err = '';
        const status = await run([`--definitions=${path.join(dir, 'defs')}`, '--empty=refuse', '--dry-run=no', '--json=off', '--quiet', '--no-progress', '--seed=e2a40bf9-73f1-4278-9160-49c031e7aef8', img],
          { stdout: () => {}, stderr: (s) => { err += s; }, isTTY: false, env: {} });
        stats.cli++;
        if (p?.kind !== 'gpt') {
          assert.notEqual(status, 0, `case ${ss}/${i}: a refused table must fail the run`);
          assert.equal(sha256(img), before, `case ${ss}/${i}: a refused table is never written: ${err}`);
        } else if (sha256(img) !== before) {
          stats.cliWrote++;
          const after = readFileSync(img);
          const q = await probeGpt(async (off, len) => after.subarray(Number(off), Number(off) + len), BigInt(after.length));
          assert.equal(q.kind, 'gpt', `case ${ss}/${i}: what was written reads back`);
          if (q.kind === 'gpt') assert.equal(q.gpt.otherProblem, undefined, 'both copies written');
        }
        rmSync(img);
      }
    }
    t.diagnostic(`outcomes: ${JSON.stringify(stats)}`);
    // the corruptions reach every outcome (a fuzzer that only ever hits one path proves little)
    assert.ok(stats.gpt > 100 && stats.invalid > 100 && stats.corrupt > 100 && stats.none > 10 && stats.cliWrote > 5, JSON.stringify(stats));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
