/**
 * Minimize=guess sizes, repart-ts vs systemd-repart (not a test; slow; run as root for the oracle):
 *
 *   npx tsc -p . && node dist/bench/run.js minimize-sizes [--trees a,b] [--format ext4] [--no-reference] [--out f.json]
 *
 * For each tree, a root partition `Format=ext4 Minimize=guess CopyFiles=<tree>:/` built with
 * `--size=auto` by repart-ts (--compat=262 and --compat=257) and by systemd-repart 262
 * (REFERENCE_SUITE=sid) and 257 (trixie); the partition's raw_size each. Ours must be ≤ repart's
 * (ratio = ours 262 / 262), fit on the first formatting pass (REPART_TS_STATS passes = 1, no
 * "Minimize= model was …, retrying"), and pass `e2fsck -fn`.
 *
 * Trees (generated once under $BENCH_DIR/minimize-sizes, deterministic): the bench's
 * minimize-guess closure, a real distribution's /usr (the reference chroot's, read in place), a
 * mixed tree with sparse files, many hard links, many small files, deep directories and 200 000
 * empty files.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from '../test-images/gen-tree.js';

const MiB = 1024 * 1024;
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const REFERENCE = path.resolve(REPO, '../shared/tools/reference-repart');
const SEED = '5e0c3a41-8e0f-4a8b-9d52-3f6a1c2b7e90';
const WORK = path.join(process.env.BENCH_DIR ?? '/var/tmp/repart-ts-bench', 'minimize-sizes');
const REAL_USR = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'repart-reference/trixie/usr');

/** Writes `n` bytes of non-zero pseudo-random data at `offset` of an open file. */
function island(fd: number, offset: number, n: number, seed: number): void {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i += 4) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b.writeUInt32LE((x | 0x01010101) >>> 0, i);
  }
  fs.writeSync(fd, b, 0, n, offset);
}

/** A sparse file of `size` bytes with `islands` runs of data of `each` bytes, evenly spread. */
export function sparseFile(p: string, size: number, islands: number, each: number, seed = 1): void {
  const fd = fs.openSync(p, 'w');
  try {
    fs.ftruncateSync(fd, size);
    for (let i = 0; i < islands; i++) island(fd, Math.floor((i * size) / islands / 4096) * 4096, each, seed + i);
  } finally {
    fs.closeSync(fd);
  }
}

export interface TreeSpec {
  name: string;
  description: string;
  /** creates the tree in dir (empty); or `path` for a tree used in place */
  make?: (dir: string) => void;
  path?: string;
}

export const TREES: TreeSpec[] = [
  { name: 'closure-7k', description: "bench's minimize-guess tree: 224 MB / 7 000-file closure", make: (d) => generate('closure', d, 7, 224 * MiB, 7000) },
  { name: 'debian-usr', description: "Debian trixie's /usr (minbase + repart's tools), in place", path: REAL_USR },
  {
    name: 'sparse', description: 'closure 24 MB / 1 500 files + a 50 MB sparse file (5 × 1 MiB data) + a 64 MB disk image with 300 data runs',
    make: (d) => {
      generate('closure', d, 3, 24 * MiB, 1500);
      sparseFile(path.join(d, 'big.sparse'), 50 * 1000 * 1000, 5, MiB);
      sparseFile(path.join(d, 'disk.img'), 64 * MiB, 300, 8192, 99);
    },
  },
  {
    name: 'hardlinks', description: '400 files (0–16 KiB) with 15 hard links each, in 20 directories',
    make: (d) => {
      for (let i = 0; i < 400; i++) {
        const first = path.join(d, 'l0', `f${i}`);
        fs.mkdirSync(path.dirname(first), { recursive: true });
        const fd = fs.openSync(first, 'w');
        if (i % 16) island(fd, 0, (i % 16) * 1024, i);
        fs.closeSync(fd);
        for (let k = 1; k < 15; k++) {
          const dir = path.join(d, `l${k % 20}`);
          fs.mkdirSync(dir, { recursive: true });
          fs.linkSync(first, path.join(dir, `f${i}-${k}`));
        }
      }
    },
  },
  { name: 'small-1.5k', description: '1 500 tiny files (0–300 bytes)', make: (d) => generate('tiny', d, 3, 0, 1500) },
  { name: 'small-10k', description: '10 000 tiny files (0–300 bytes)', make: (d) => generate('tiny', d, 3, 0, 10000) },
  {
    name: 'deep', description: '400 nested directories, 2 small files each, plus gen-tree deep (60 levels)',
    make: (d) => {
      generate('deep', path.join(d, 'gen'), 5, 0, 0);
      let p = path.join(d, 'n');
      for (let i = 0; i < 400; i++) {
        p = path.join(p, `d${i % 10}`);
        fs.mkdirSync(p, { recursive: true });
        fs.writeFileSync(path.join(p, 'a'), `level ${i}\n`);
        fs.writeFileSync(path.join(p, 'b'), Buffer.alloc(5000, 0x61 + (i % 26)));
      }
    },
  },
  {
    name: 'empty-200k', description: '200 000 empty files in 200 directories',
    make: (d) => {
      for (let k = 0; k < 200; k++) {
        const dir = path.join(d, `d${k}`);
        fs.mkdirSync(dir, { recursive: true });
        for (let i = 0; i < 1000; i++) fs.closeSync(fs.openSync(path.join(dir, `e${i}`), 'w'));
      }
    },
  },
];

export function treeDir(t: TreeSpec): string {
  if (t.path) return t.path;
  const dir = path.join(WORK, 'trees', t.name);
  const stamp = dir + '.done';
  if (!fs.existsSync(stamp)) {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    t.make!(dir);
    fs.writeFileSync(stamp, '');
  }
  return dir;
}

export interface BuildResult {
  /** partition raw_size, or why the build failed */
  size: number | string;
  passes?: number;
  retried?: boolean;
  fsck?: boolean | string;
  seconds: number;
}

function definitions(dir: string, tree: string, format: string): void {
  fs.mkdirSync(path.join(dir, 'defs'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'defs/10-root.conf'), `[Partition]\nType=root\nFormat=${format}\nMinimize=guess\nCopyFiles=${tree}:/\n`);
}

const ARGS = ['--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short', '--dry-run=no', 'out.img'];

function failure(stderr: string, status: number | null): string {
  const lines = stderr.trim().split('\n');
  return (lines.filter((l) => /error|fail|could not|no space/i.test(l)).slice(-1)[0] ?? lines.slice(-1)[0] ?? `exit ${status}`).trim().slice(0, 120);
}

/** e2fsck -fn on the partition [offset, offset+size) of an image. */
export function fsckPartition(image: string, offset: number, size: number): boolean | string {
  const part = image + '.part';
  try {
    const r1 = spawnSync('dd', [`if=${image}`, `of=${part}`, 'bs=1M', 'iflag=skip_bytes,count_bytes', `skip=${offset}`, `count=${size}`, 'conv=sparse'], { encoding: 'utf8' });
    if (r1.status !== 0) return `dd: ${r1.stderr.trim()}`;
    const r = spawnSync('e2fsck', ['-fn', part], { encoding: 'utf8' });
    return r.status === 0 ? true : `e2fsck exit ${r.status}: ${r.stdout.trim().split('\n').slice(-2).join(' / ')}`;
  } finally {
    fs.rmSync(part, { force: true });
  }
}

export function buildOurs(tree: string, compat: 262 | 257, format = 'ext4', check = true): BuildResult {
  const dir = fs.mkdtempSync(path.join(WORK, 'ours-'));
  try {
    definitions(dir, tree, format);
    const stats = path.join(dir, 'stats.json');
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [CLI, `--compat=${compat}`, ...ARGS], {
      cwd: dir, encoding: 'utf8', maxBuffer: 64 * MiB, timeout: 60 * 60 * 1000,
      env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000', REPART_TS_STATS: stats },
    });
    const seconds = (Date.now() - t0) / 1000;
    if (r.status !== 0) return { size: `failed: ${failure(r.stderr, r.status)}`, seconds };
    const row = (JSON.parse(r.stdout) as { raw_size: number; offset: number }[])[0]!;
    const passes = (JSON.parse(fs.readFileSync(stats, 'utf8')) as { passes: number }).passes;
    const retried = /Minimize= model was .*retrying/.test(r.stderr);
    const fsck = check && format.startsWith('ext') ? fsckPartition(path.join(dir, 'out.img'), row.offset, row.raw_size) : undefined;
    return { size: row.raw_size, passes, retried, fsck, seconds };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function buildReference(tree: string, suite: 'sid' | 'trixie', format = 'ext4'): BuildResult {
  const dir = fs.mkdtempSync(path.join(WORK, `ref-${suite}-`));
  try {
    definitions(dir, tree, format);
    const t0 = Date.now();
    const r = spawnSync(REFERENCE, ARGS, {
      cwd: dir, encoding: 'utf8', maxBuffer: 64 * MiB, timeout: 60 * 60 * 1000,
      env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000', REFERENCE_SUITE: suite, REFERENCE_BIND: tree },
    });
    const seconds = (Date.now() - t0) / 1000;
    if (r.status !== 0) return { size: `failed: ${failure(r.stderr, r.status)}`, seconds };
    return { size: (JSON.parse(r.stdout) as { raw_size: number }[])[0]!.raw_size, seconds };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const mib = (v: number | string): string => (typeof v === 'number' ? (v / MiB).toFixed(1) : 'fails');

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const opt = (n: string): string | undefined => {
    const i = argv.findIndex((a) => a === `--${n}` || a.startsWith(`--${n}=`));
    if (i < 0) return undefined;
    return argv[i]!.includes('=') ? argv[i]!.slice(n.length + 3) : argv[i + 1];
  };
  const only = opt('trees')?.split(',');
  const format = opt('format') ?? 'ext4';
  const useRef = !argv.includes('--no-reference') && fs.existsSync(REFERENCE) && process.getuid?.() === 0;
  fs.mkdirSync(WORK, { recursive: true });
  const rows: Record<string, unknown>[] = [];
  const lines = ['| tree | ours 262 | 262 | ours 257 | 257 | ratio (ours/262) | fits first pass | e2fsck clean |', '|---|---|---|---|---|---|---|---|'];
  for (const t of TREES) {
    if (only && !only.includes(t.name)) continue;
    if (t.path && !fs.existsSync(t.path)) {
      process.stderr.write(`${t.name}: ${t.path} missing, skipped\n`);
      continue;
    }
    process.stderr.write(`== ${t.name}: ${t.description}\n`);
    const tree = treeDir(t);
    const o262 = buildOurs(tree, 262, format);
    const o257 = buildOurs(tree, 257, format);
    const r262 = useRef ? buildReference(tree, 'sid', format) : { size: 'skipped', seconds: 0 };
    const r257 = useRef ? buildReference(tree, 'trixie', format) : { size: 'skipped', seconds: 0 };
    const ratio = typeof o262.size === 'number' && typeof r262.size === 'number' ? (o262.size / r262.size).toFixed(2) : '–';
    const first = [o262, o257].every((o) => o.passes === 1 && !o.retried);
    const clean = [o262, o257].every((o) => o.fsck === true);
    const row = { tree: t.name, description: t.description, ours262: o262, ref262: r262, ours257: o257, ref257: r257, ratio, firstPass: first, fsckClean: clean };
    rows.push(row);
    const line = `| ${t.name} | ${mib(o262.size)} | ${mib(r262.size)} | ${mib(o257.size)} | ${mib(r257.size)} | ${ratio} | ${first ? 'yes' : 'no'} | ${clean ? 'yes' : 'no'} |`;
    lines.push(line);
    process.stderr.write(`${line}\n   ours ${o262.seconds.toFixed(1)} s / ${o257.seconds.toFixed(1)} s, repart ${r262.seconds.toFixed(1)} s / ${r257.seconds.toFixed(1)} s\n`);
    for (const [k, v] of Object.entries({ ours262: o262, ours257: o257, ref262: r262, ref257: r257 })) {
      if (typeof v.size === 'string' && v.size !== 'skipped') process.stderr.write(`   ${k}: ${v.size}\n`);
      if ('fsck' in v && typeof v.fsck === 'string') process.stderr.write(`   ${k}: ${v.fsck}\n`);
    }
  }
  process.stdout.write(`Minimize=guess, Format=${format}, --size=auto: partition sizes in MiB ("fails": the build failed)\n\n${lines.join('\n')}\n`);
  const out = opt('out');
  if (out) fs.writeFileSync(out, JSON.stringify(rows, null, 2) + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
