/**
 * Benchmark for the WebAssembly erofs/squashfs drivers (not a test; run by hand, as root):
 *
 *   npx tsc -p . && node dist/bench/rofs.js [runs=3] [tree-dir]
 *
 * A ~230 MB / ~7,200-entry tree (default: a copy of the oracle's trixie /usr under
 * $BENCH_DIR) made into erofs and squashfs images with a few Compression= settings: the wasm
 * driver through the worker pool (what the CLI runs) vs the native tool of the same version
 * (reference-repart --exec, its fixed chroot cost measured and subtracted), same arguments and
 * SOURCE_DATE_EPOCH. Median of N; each pair of outputs is also compared byte for byte.
 */
import { spawnSync, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FormatJob } from '../src/fs/driver.js';
import { mkfsErofsArgs } from '../src/fs/erofs/index.js';
import { mksquashfsArgs } from '../src/fs/squashfs/index.js';
import { closeWorkerPool, formatInWorkers } from '../src/fs/pool.js';
import { hostTree } from '../test-images/host-tree.js';

const MiB = 1024 * 1024;
const W = process.env.BENCH_DIR ?? '/var/tmp/repart-ts-bench';
const REF = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/tools/reference-repart');
const REF_USR = path.join(process.env.HOME ?? '/root', '.cache/repart-reference/trixie/usr');
const EPOCH = 1700000000;
const SIZE = 1024 * MiB;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
async function timed(f: () => unknown): Promise<number> {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
}
function native(tool: string, args: string[]): void {
  const r = spawnSync(REF, ['--exec', tool, ...args], {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH), REFERENCE_BIND: W }, cwd: W, stdio: 'pipe',
  });
  if (r.status !== 0) throw new Error(`${tool}: ${r.stderr}`);
}

async function main(): Promise<void> {
  const runs = Number(process.argv[2] ?? 3);
  fs.mkdirSync(W, { recursive: true });
  let treeDir = process.argv[3];
  if (!treeDir) {
    treeDir = path.join(W, 'usr');
    if (!fs.existsSync(treeDir)) execFileSync('cp', ['-a', REF_USR, treeDir]);
  }
  const tree = hostTree(treeDir);
  const img = path.join(W, 'rofs.img');
  const out = path.join(W, 'rofs-native.img');
  const chroot: number[] = [];
  for (let i = 0; i < runs; i++) chroot.push(await timed(() => native('true', [])));
  const over = median(chroot);
  console.log(`tree ${treeDir}; reference-repart --exec overhead ${over.toFixed(2)} s (subtracted)`);
  const cases: { format: 'erofs' | 'squashfs'; compression?: string; level?: string }[] = [
    { format: 'erofs' }, { format: 'erofs', compression: 'lz4hc' }, { format: 'erofs', compression: 'zstd' },
    { format: 'squashfs' }, { format: 'squashfs', compression: 'zstd' }, { format: 'squashfs', compression: 'xz' },
  ];
  for (const c of cases) {
    const j: FormatJob = {
      format: c.format, window: { path: img, offset: 0, size: SIZE }, label: c.format, fsUuid: '3f1d2c4b-5a69-4788-9a0b-1c2d3e4f5a6b',
      sectorSize: 4096, tree, sourceDateEpoch: EPOCH, extraOptions: [], discard: true, subvolumes: [], definitionFile: 'bench.conf',
      windowZeroed: true, compression: c.compression, compressionLevel: c.level,
    };
    const nat: number[] = [];
    const wasm: number[] = [];
    let used = 0;
    for (let i = 0; i < runs; i++) {
      fs.rmSync(out, { force: true });
      const args = c.format === 'erofs'
        ? [...mkfsErofsArgs(j).slice(0, -2), out, treeDir]
        : [treeDir, out, ...mksquashfsArgs(j).slice(2)];
      nat.push((await timed(() => native(c.format === 'erofs' ? 'mkfs.erofs' : 'mksquashfs', args))) - over);
      fs.rmSync(img, { force: true });
      fs.writeFileSync(img, '');
      fs.truncateSync(img, SIZE);
      wasm.push(await timed(async () => {
        used = (await formatInWorkers([j]))[0]!.usedBytes!;
      }));
    }
    const a = fs.readFileSync(out);
    const fd = fs.openSync(img, 'r');
    const b = Buffer.alloc(used);
    fs.readSync(fd, b, 0, used, 0);
    fs.closeSync(fd);
    const n = median(nat);
    const w = median(wasm);
    console.log(`${c.format}${c.compression ? ' ' + c.compression : ''}: ${(used / MiB).toFixed(1)} MiB, native ${n.toFixed(2)} s, ` +
      `wasm ${w.toFixed(2)} s, ratio ${(w / n).toFixed(2)}x, bytes ${a.equals(b) ? 'identical' : 'DIFFER'}` +
      `   [native ${nat.map((x) => x.toFixed(2)).join(' ')}; wasm ${wasm.map((x) => x.toFixed(2)).join(' ')}]`);
  }
  await closeWorkerPool();
}

await main();
