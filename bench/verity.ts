/**
 * dm-verity hashing throughput: formatVerityHash() over a data file vs the node:crypto floors
 * (one sha256 over the whole buffer, and one sha256 per block as the tree needs) and vs
 * `veritysetup format` when installed.
 *
 *   node dist/bench/verity.js [--mib N] [--bs 4096|512] [--runs N]
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatVerityHash, verityHashBytes } from '../src/verity/index.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const mib = arg('mib', 512);
const bs = arg('bs', 4096);
const runs = arg('runs', 3);
const salt = randomBytes(32);
const uuid = '12345678-1234-4234-8234-123456789abc';
const bytes = mib << 20;

const secs = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;
const rate = (s: number) => `${(mib / s).toFixed(0)} MiB/s`;
const best = (f: () => number | Promise<number>) => async () => { let b = Infinity; for (let i = 0; i < runs; i++) b = Math.min(b, await f()); return b; };

const dir = mkdtempSync(join(tmpdir(), 'verity-bench-'));
try {
  const data = join(dir, 'data');
  const fd = openSync(data, 'w');
  const chunk = randomBytes(4 << 20);
  for (let o = 0; o < bytes; o += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - o));
  closeSync(fd);
  const hashLen = verityHashBytes(bytes, bs, bs);
  const hash = join(dir, 'hash');
  writeFileSync(hash, Buffer.alloc(hashLen));

  let rss = 0;
  const ours = await best(async () => {
    const t = process.hrtime.bigint();
    await formatVerityHash({ path: data, offset: 0, length: bytes }, { path: hash, offset: 0, length: hashLen }, { dataBlockSize: bs, hashBlockSize: bs, salt, uuid, zeroRest: false });
    const s = secs(t);
    rss = Math.max(rss, process.memoryUsage().rss);
    return s;
  })();
  const buf = readFileSync(data).subarray(0, Math.min(bytes, 256 << 20)); // in-memory floors on up to 256 MiB
  const scale = bytes / buf.length;
  const bulk = await best(() => { const t = process.hrtime.bigint(); createHash('sha256').update(buf).digest(); return secs(t) * scale; })();
  const base = createHash('sha256').update(salt);
  const perBlock = await best(() => {
    const t = process.hrtime.bigint();
    for (let o = 0; o < buf.length; o += bs) base.copy().update(buf.subarray(o, o + bs)).digest();
    return secs(t) * scale;
  })();
  console.log(`data ${mib} MiB, block ${bs}, best of ${runs} (page-cached file)`);
  console.log(`  node:crypto sha256, one stream     ${rate(bulk)}`);
  console.log(`  node:crypto sha256 per block+salt  ${rate(perBlock)}   (the floor for a hash tree in JS)`);
  console.log(`  formatVerityHash                   ${rate(ours)}   (${((perBlock / ours) * 100).toFixed(0)}% of per-block floor; process RSS ${(rss / 2 ** 20).toFixed(0)} MiB, measured before the floors load the data into memory)`);
  const vs = spawnSync('veritysetup', ['--version']);
  if (vs.status === 0) {
    const v = await best(() => {
      writeFileSync(hash, '');
      const t = process.hrtime.bigint();
      const r = spawnSync('veritysetup', ['format', '--hash=sha256', `--data-block-size=${bs}`, `--hash-block-size=${bs}`, `--salt=${salt.toString('hex')}`, `--uuid=${uuid}`, data, hash]);
      if (r.status !== 0) throw new Error(String(r.stderr));
      return secs(t);
    })();
    console.log(`  veritysetup format                 ${rate(v)}`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
