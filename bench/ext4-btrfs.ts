/**
 * Benchmarks for the WebAssembly ext4/btrfs drivers (not tests; run by hand, as root):
 *
 *   npx tsc -p . && node dist/bench/ext4-btrfs.js [runs=3]
 *
 * 1. ext4 and btrfs from a ~230 MB / ~7,200-entry tree (a copy of the reference tree's /usr)
 *    into a 1 GiB partition: wasm driver through the worker pool (what the CLI runs) vs native
 *    mkfs.ext4 -d / mkfs.btrfs --rootdir of the same versions (reference-repart --exec, whose
 *    fixed chroot cost is measured and reported separately), same arguments. Median of N.
 * 2. Two partitions in parallel (pool) vs one after the other.
 * 3. Peak RSS of the whole process formatting a 2 GB tree (child process, maxRSS).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FormatJob } from '../src/fs/driver.js';
import { mke2fsArgs, mke2fsEnv } from '../src/fs/ext4/index.js';
import { mkfsBtrfsArgs } from '../src/fs/btrfs/index.js';
import { closeWorkerPool, formatInWorkers } from '../src/fs/pool.js';
import { hostTree } from '../test-images/host-tree.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const W = process.env.BENCH_DIR ?? '/var/tmp/repart-ts-bench';
const REF = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/tools/reference-repart');
const REF_USR = path.join(process.env.HOME ?? '/root', '.cache/repart-reference/trixie/usr');
const EPOCH = 1700000000;

function job(format: string, img: string, offset: number, size: number, tree: FormatJob['tree']): FormatJob {
  return {
    format, window: { path: img, offset, size }, label: format, fsUuid: '3f1d2c4b-5a69-4788-9a0b-1c2d3e4f5a6b', sectorSize: 4096,
    tree, sourceDateEpoch: EPOCH, extraOptions: [], discard: true, subvolumes: [], definitionFile: 'bench.conf', windowZeroed: true,
  };
}

function freshImage(p: string, size: number): void {
  fs.rmSync(p, { force: true });
  fs.writeFileSync(p, '');
  fs.truncateSync(p, size);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

async function timed(f: () => Promise<unknown> | unknown): Promise<number> {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
}

function native(tool: string, args: string[], env: Record<string, string>): void {
  const r = spawnSync(REF, ['--exec', tool, ...args], { env: { ...process.env, ...env, REFERENCE_BIND: W }, cwd: W, stdio: 'pipe' });
  if (r.status !== 0) throw new Error(`${tool}: ${r.stderr}`);
}

async function speed(runs: number, treeDir: string): Promise<void> {
  const tree = hostTree(treeDir);
  const img = path.join(W, 'bench.img');
  const out: string[] = [];
  const chroot: number[] = [];
  for (let i = 0; i < runs; i++) chroot.push(await timed(() => native('true', [], {})));
  out.push(`reference-repart --exec overhead: ${median(chroot).toFixed(2)} s (subtracted below)`);
  for (const format of ['ext4', 'btrfs']) {
    const j = job(format, img, 0, GiB, tree);
    const nat: number[] = [];
    const wasm: number[] = [];
    for (let i = 0; i < runs; i++) {
      freshImage(img, GiB);
      if (format === 'ext4') {
        const env = mke2fsEnv(j);
        delete (env as Record<string, string | undefined>).MKE2FS_CONFIG;
        const args = mke2fsArgs(j).map((a) => (a === '/repart-root' ? treeDir : a === '/dev/repart-partition' ? img : a));
        nat.push((await timed(() => native('mkfs.ext4', args, env))) - median(chroot));
      } else {
        const args = mkfsBtrfsArgs(j).map((a) => (a === '/repart-root' ? treeDir : a === '/dev/repart-partition' ? img : a));
        nat.push((await timed(() => native('mkfs.btrfs', args, { SOURCE_DATE_EPOCH: String(EPOCH) }))) - median(chroot));
      }
      freshImage(img, GiB);
      wasm.push(await timed(() => formatInWorkers([j])));
    }
    const n = median(nat);
    const w = median(wasm);
    out.push(`${format}: native ${n.toFixed(2)} s, wasm (worker pool) ${w.toFixed(2)} s, ratio ${(w / n).toFixed(2)}x` +
      `   [native ${nat.map((x) => x.toFixed(2)).join(' ')}; wasm ${wasm.map((x) => x.toFixed(2)).join(' ')}]`);
  }
  // two partitions: one after the other vs in parallel
  const two = path.join(W, 'two.img');
  const jobs = [job('ext4', two, MiB, GiB, tree), job('btrfs', two, MiB + GiB, GiB, tree)];
  const seq: number[] = [];
  const par: number[] = [];
  for (let i = 0; i < runs; i++) {
    freshImage(two, 2 * GiB + 2 * MiB);
    seq.push(await timed(async () => {
      for (const jj of jobs) await formatInWorkers([jj]);
    }));
    freshImage(two, 2 * GiB + 2 * MiB);
    par.push(await timed(() => formatInWorkers(jobs)));
  }
  out.push(`ext4 + btrfs: one after the other ${median(seq).toFixed(2)} s, in parallel ${median(par).toFixed(2)} s`);
  await closeWorkerPool();
  console.log(out.join('\n'));
}

/** Child mode: format `format` from `treeDir` into a fresh image, print maxRSS. */
async function rssChild(format: string, treeDir: string): Promise<void> {
  const img = path.join(W, `rss-${format}.img`);
  freshImage(img, 4 * GiB);
  const t = await timed(() => formatInWorkers([job(format, img, 0, 4 * GiB, hostTree(treeDir))]));
  await closeWorkerPool();
  console.log(JSON.stringify({ format, seconds: t, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
  fs.rmSync(img, { force: true });
}

function makeBigTree(dir: string, usr: string): void {
  if (fs.existsSync(path.join(dir, '.done'))) return;
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('cp', ['-a', usr, path.join(dir, 'usr')]);
  // plus ~1.8 GB of incompressible data in 64 files
  const chunk = Buffer.alloc(16 * MiB);
  for (let i = 0; i < 112; i++) {
    const fd = fs.openSync(path.join(dir, `blob-${i % 64}-${i}`), 'w');
    for (let k = 0; k < chunk.length; k += 4) chunk.writeUInt32LE((i * 2654435761 + k * 40503) >>> 0, k);
    fs.writeSync(fd, chunk);
    fs.closeSync(fd);
  }
  fs.writeFileSync(path.join(dir, '.done'), '');
}

async function main(): Promise<void> {
  const [mode, a, b] = process.argv.slice(2);
  if (mode === 'rss-child') return rssChild(a!, b!);
  const runs = Number(mode ?? 3) || 3;
  if (process.getuid?.() !== 0 || !fs.existsSync(REF)) throw new Error('run as root with the reference-repart oracle available');
  fs.mkdirSync(W, { recursive: true });
  const usr = path.join(W, 'usr-tree');
  if (!fs.existsSync(usr)) execFileSync('cp', ['-a', REF_USR, usr]);
  execFileSync('sh', ['-c', `cat $(find "${usr}" -type f) > /dev/null`]); // warm cache, settle atimes
  const du = execFileSync('du', ['-sb', usr], { encoding: 'utf8' }).split('\t')[0];
  const n = execFileSync('sh', ['-c', `find "${usr}" | wc -l`], { encoding: 'utf8' }).trim();
  console.log(`tree: ${usr}: ${(Number(du) / 1e6).toFixed(0)} MB, ${n} entries; ${runs} runs each`);
  await speed(runs, usr);
  const big = path.join(W, 'big-tree');
  makeBigTree(big, usr);
  const bdu = execFileSync('du', ['-sb', big], { encoding: 'utf8' }).split('\t')[0];
  console.log(`peak RSS, ${(Number(bdu) / 1e9).toFixed(2)} GB tree into a 4 GiB partition:`);
  for (const format of ['ext4', 'btrfs']) {
    const r = spawnSync(process.execPath, [process.argv[1]!, 'rss-child', format, big], { encoding: 'utf8' });
    console.log('  ' + (r.stdout.trim() || r.stderr.trim()));
  }
}

await main();
