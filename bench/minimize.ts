/**
 * Minimize= models vs the real tools (not a test; slow; run by hand, as root for the oracle):
 *
 *   npx tsc -p . && node dist/bench/minimize.js [--formats ext4,btrfs,vfat] [--shapes a,b] [--sector-size 4096]
 *       [--no-reference] [--out f.json]
 *
 * For 10 tree shapes (test-images/gen-tree.ts, cached under $BENCH_DIR/minimize-trees) and each
 * file system: the model's minimal size; the true minimum by bisection with the real tool (our
 * drivers: the real mke2fs/mkfs.btrfs in WebAssembly, our FAT writer); passes formatMinimized
 * needs at the model's size; our Minimize=guess; and, when reference-repart runs (root), the
 * image systemd-repart 257 makes for the same content with `Format=… Minimize=guess --size=auto`
 * (its partition's raw_size) — goal: ours ≤ 0.8 × repart's.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatMinimized, guessSize, minimalSize } from '../src/plan/minimize/index.js';
import { bisectWithTool, fitsWithTool, probeJob } from '../src/plan/minimize/probe.js';
import type { SourceTree } from '../src/tree/model.js';
import { generate } from '../test-images/gen-tree.js';
import { hostTree } from '../test-images/host-tree.js';

const MiB = 1024 * 1024;
const W = process.env.BENCH_DIR ?? '/var/tmp/repart-ts-bench';
const TREES = path.join(W, 'minimize-trees');
const REF = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/tools/reference-repart');

const SHAPES: { name: string; shape: string; bytes: number; files: number }[] = [
  { name: 'tiny-10k', shape: 'tiny', bytes: 0, files: 10000 },
  { name: 'tiny-50k', shape: 'tiny', bytes: 0, files: 50000 },
  { name: 'large-256M', shape: 'large', bytes: 256 * MiB, files: 0 },
  { name: 'large-1G', shape: 'large', bytes: 1024 * MiB, files: 0 },
  { name: 'deep', shape: 'deep', bytes: 0, files: 0 },
  { name: 'links', shape: 'links', bytes: 0, files: 2000 },
  { name: 'longnames', shape: 'longnames', bytes: 0, files: 0 },
  { name: 'closure-1.5k', shape: 'closure', bytes: 24 * MiB, files: 1500 },
  { name: 'closure-7k', shape: 'closure', bytes: 128 * MiB, files: 7000 },
  { name: 'closure-20k', shape: 'closure', bytes: 400 * MiB, files: 20000 },
];

const args = process.argv.slice(2);
const opt = (n: string): string | undefined => {
  const i = args.indexOf(`--${n}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const formats = (opt('formats') ?? 'ext4,btrfs,vfat').split(',');
const only = opt('shapes')?.split(',');
/** repart 257 formats image files with 4096-byte file system sectors (formatting.md §2.3). */
const sectorSize = Number(opt('sector-size') ?? 4096);
const useRef = !args.includes('--no-reference') && process.getuid?.() === 0 && fs.existsSync(REF);

function treeDir(s: (typeof SHAPES)[number]): string {
  const dir = path.join(TREES, s.name);
  const stamp = path.join(TREES, `${s.name}.done`);
  if (!fs.existsSync(stamp)) {
    fs.mkdirSync(TREES, { recursive: true });
    generate(s.shape, dir, 1, s.bytes || 64 * MiB, s.files || 7000);
    fs.writeFileSync(stamp, '');
  }
  return dir;
}

/** systemd-repart 257, Minimize=guess, --size=auto: the root partition's size. */
function reference(dir: string, format: string): number | string {
  const d = fs.mkdtempSync(path.join(W, 'minimize-ref-'));
  try {
    fs.mkdirSync(path.join(d, 'defs'));
    fs.writeFileSync(path.join(d, 'defs/10-root.conf'), `[Partition]\nType=root\nFormat=${format}\nCopyFiles=${dir}:/\nMinimize=guess\n`);
    const r = spawnSync(REF, ['--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', '--seed=5e0c3a41-8e0f-4a8b-9d52-3f6a1c2b7e90', '--json=short', '--dry-run=no', 'out.img'], {
      cwd: d, encoding: 'utf8', env: { ...process.env, REFERENCE_BIND: TREES }, timeout: 30 * 60 * 1000,
    });
    if (r.status !== 0) return `repart failed: ${(r.stderr || '').trim().split('\n').filter((l) => /error|fail|Could not/i.test(l)).slice(-1)[0] ?? r.status}`;
    return (JSON.parse(r.stdout) as { raw_size: number }[])[0]!.raw_size;
  } finally {
    fs.rmSync(d, { recursive: true, force: true });
  }
}

const mib = (b: number): string => (b / MiB).toFixed(1);

async function trueMinimum(format: string, tree: SourceTree, model: number, dir: string): Promise<{ bytes: number; runs: number }> {
  const probe = { scratchDir: dir, sectorSize };
  let runs = 1;
  if (await fitsWithTool(format, tree, model, probe)) {
    const lo = Math.max(0, Math.floor(model * 0.9 / 4096) * 4096 - MiB);
    runs++;
    if (await fitsWithTool(format, tree, lo, probe)) {
      const r = await bisectWithTool(format, tree, 0, lo, 4096, probe);
      return { bytes: r.bytes, runs: runs + r.runs };
    }
    const r = await bisectWithTool(format, tree, lo, model, 4096, probe);
    return { bytes: r.bytes, runs: runs + r.runs };
  }
  let hi = Math.ceil(model * 1.1) + MiB;
  while (!(await fitsWithTool(format, tree, hi, probe))) {
    runs++;
    hi *= 2;
  }
  const r = await bisectWithTool(format, tree, model, hi, 4096, probe);
  return { bytes: r.bytes, runs: runs + r.runs };
}

const rows: Record<string, unknown>[] = [];
fs.mkdirSync(W, { recursive: true });
for (const s of SHAPES) {
  if (only && !only.includes(s.name)) continue;
  const dir = treeDir(s);
  const tree = hostTree(dir);
  for (const format of formats) {
    const t0 = Date.now();
    const model = minimalSize(format, tree, { sectorSize });
    const modelMs = Date.now() - t0;
    const truth = await trueMinimum(format, tree, model.bytes, W);
    const img = path.join(W, 'minimize-best.img');
    fs.rmSync(img, { force: true });
    fs.writeFileSync(img, '');
    fs.truncateSync(img, model.bytes + 64 * MiB);
    const best = await formatMinimized(probeJob(format, tree, { path: img, offset: 0, size: model.bytes + 64 * MiB }, { sectorSize }), model);
    fs.rmSync(img, { force: true });
    const guess = guessSize(format, tree, { sectorSize });
    const ref = useRef ? reference(dir, format) : 'skipped (needs root and reference-repart)';
    const diff = model.bytes - truth.bytes;
    const row = {
      shape: s.name, format, model: model.bytes, modelMs, trueMin: truth.bytes, toolRuns: truth.runs,
      diffBytes: diff, withinTolerance: Math.abs(diff) <= Math.max(0.02 * truth.bytes, MiB), passes: best.passes,
      guess: guess.bytes, repartGuess: ref, ratio: typeof ref === 'number' ? +(guess.bytes / ref).toFixed(3) : null,
    };
    rows.push(row);
    console.log(`${s.name.padEnd(13)} ${format.padEnd(5)} model ${mib(model.bytes).padStart(8)} MiB (${modelMs} ms)  true ${mib(truth.bytes).padStart(8)} MiB  diff ${(diff / 1024).toFixed(0).padStart(6)} KiB  passes ${best.passes}  guess ${mib(guess.bytes).padStart(8)} MiB  repart-257 guess ${typeof ref === 'number' ? mib(ref) + ' MiB  ratio ' + row.ratio : ref}`);
  }
}
const out = opt('out');
if (out) fs.writeFileSync(out, JSON.stringify(rows, null, 2) + '\n');
