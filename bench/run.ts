/**
 * Side-by-side image-build benchmark: repart-ts vs the real systemd-repart (reference-repart)
 * and optional other builders, alternating A B A B after a warm-up, each run measured by
 * /usr/bin/time (wall, CPU, peak RSS of the whole process tree's largest member), after a `sync`
 * that writes back what the run before it left dirty.
 *
 * Where repart-ts's time goes (REPART_TS_STATS: start-up, pipeline stages, worker phases) and
 * issue 18's goals with this run's figures are printed after the table.
 *
 * Heavy scenarios run only when named, --heavy-runs times each (default 1) without warm-up:
 *   npm run bench -- --scenario gpt-only,debian-usr,distro-usr-lib,empty-200k,empty-1m
 * distro-usr-lib is a hard-linked copy (cp -al) of the host's /usr/lib (a Debian 12 /usr/lib,
 * ~3.9 GB, ~72k entries) under the bench directory: no data is copied, and the reference's chroot
 * sees it (the host's own /usr/lib would cover the chroot's). debian-usr is the reference tree's
 * trixie /usr, read in place (exposed to the chroot with REFERENCE_BIND).
 *
 *   npm run bench -- [--quick] [--runs N] [--scenario a,b] [--other NAME=COMMAND] [--out DIR] [--no-reference]
 *   npm run bench -- minimize-sizes [--trees a,b] [--no-reference] [--out f.json]   (Minimize=guess sizes vs 262/257)
 *
 * COMMAND for --other gets the repart command line appended (like systemd-repart's).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIOS, type Scenario } from './scenarios.js';
import { renderReportHtml, renderReportMarkdown } from './report.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const REFERENCE = path.resolve(REPO, '../shared/tools/reference-repart');
const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';

/** Where repart-ts's time went in one run (REPART_TS_STATS): start-up, pipeline stages, worker phases. */
export interface Breakdown { startupMs?: number; stages?: { stage: string; ms: number; runs: number }[]; partitions?: { label: string; format?: string; phases?: Record<string, number> }[] }
export interface RunSample { wall: number; user: number; sys: number; maxRssKiB: number; /** minor page faults (absent in reports before 2026-12-05) */ minorFaults?: number; imageBytes: number; allocatedBytes: number; status: number; passes?: number; stderrTail?: string; breakdown?: Breakdown[] }
export interface BuilderResult { builder: string; samples: RunSample[]; error?: string }
export interface ScenarioResult { scenario: string; description: string; sourceBytes: number; builders: BuilderResult[]; floor?: { readSeconds: number; writeSeconds: number } }
export interface BenchReport { date: string; machine: Record<string, string | number>; quick: boolean; runs: number; scenarios: ScenarioResult[] }

interface Builder { name: string; cmd: (args: string[]) => { argv: string[]; env?: NodeJS.ProcessEnv } }

function timed(argv: string[], cwd: string, env: NodeJS.ProcessEnv = {}): { sample: Omit<RunSample, 'imageBytes' | 'allocatedBytes'>; stdout: string; stderr: string } {
  const tf = path.join(os.tmpdir(), `repart-bench-time-${process.pid}`);
  // %R: minor page faults, a cost of its own where a fault is dear (a virtual machine's ~15 µs)
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M %R', '-o', tf, ...argv], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  const [e, u, s, m, f] = readFileSync(tf, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  rmSync(tf, { force: true });
  return { sample: { wall: e!, user: u!, sys: s!, maxRssKiB: m!, minorFaults: f, status: r.status ?? -1 }, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * Before each timed run (untimed): the dirty pages the previous builder left are written back,
 * so that no builder pays for another's image. Without it a run after the reference's 5.9 GB
 * image (distro-usr-lib) found the disk still busy with it: repart-ts's image writes took 8.3 s
 * instead of ~1 s, and the next reference run paid for repart-ts's image the same way
 * (bench/results/issue-18.md, ninth session).
 */
function settle(): void {
  spawnSync('sync', [], { stdio: 'ignore' });
}

/** minor page faults in thousands (k) */
export const faults = (n: number | undefined): string => (n === undefined ? '' : `${(n / 1000).toFixed(1)}k`);

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
}

export function summarize(b: BuilderResult) {
  const ok = b.samples.filter((s) => s.status === 0);
  const walls = ok.map((s) => s.wall);
  return {
    runs: ok.length,
    wallMedian: median(walls), wallMin: Math.min(...walls), wallMax: Math.max(...walls),
    cpuMedian: median(ok.map((s) => s.user + s.sys)),
    maxRssMiB: Math.max(...ok.map((s) => s.maxRssKiB)) / 1024,
    faultsMedian: ok.every((s) => s.minorFaults !== undefined) ? median(ok.map((s) => s.minorFaults!)) : undefined,
    imageBytes: ok[0]?.imageBytes ?? 0, allocatedBytes: ok[0]?.allocatedBytes ?? 0,
    coreUtilisation: median(ok.map((s) => (s.user + s.sys) / Math.max(s.wall, 1e-3) / os.cpus().length)),
    passes: ok[0]?.passes,
  };
}

/**
 * The median of the per-run ratios `base` wall / `other` wall, run i against run i: the builders
 * alternate, so run i of each is measured at about the same time, and a machine whose speed
 * drifts between runs (the bench machine's did, by up to 40 % within minutes) moves both sides
 * of a pair alike. Undefined without a pair where both succeeded.
 */
export function pairedRatio(base: BuilderResult, other: BuilderResult): number | undefined {
  const r: number[] = [];
  for (let i = 0; i < Math.min(base.samples.length, other.samples.length); i++) {
    const a = base.samples[i]!, b = other.samples[i]!;
    if (a.status === 0 && b.status === 0 && b.wall > 0) r.push(a.wall / b.wall);
  }
  return r.length ? median(r) : undefined;
}

function machine(): Record<string, string | number> {
  const ref = existsSync(REFERENCE) && process.getuid?.() === 0
    ? spawnSync(REFERENCE, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? '' : 'unavailable';
  return { cpu: os.cpus()[0]?.model ?? '?', cores: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version, kernel: os.release(), host: os.hostname(), reference: ref };
}

export async function main(): Promise<void> {
  const a = process.argv.slice(2);
  const flag = (n: string) => a.includes(`--${n}`);
  if (flag('help') || a.includes('-h')) {
    process.stdout.write(`usage: repart-ts bench [--quick] [--runs N] [--warmup N] [--heavy-runs N] [--scenario a,b] [--other NAME=COMMAND] [--out DIR] [--no-reference]\n\nscenarios: ${SCENARIOS.map((s) => s.name + (s.onlyWhenNamed ? " (only when named)" : "")).join(', ')}\nresults go to DIR (default ./bench-results); as root, the real systemd-repart (../shared/tools/reference-repart) runs beside repart-ts.\n`);
    return;
  }
  const opt = (n: string) => { const i = a.findIndex((x) => x === `--${n}` || x.startsWith(`--${n}=`)); if (i < 0) return undefined; return a[i]!.includes('=') ? a[i]!.slice(n.length + 3) : a[i + 1]; };
  const quick = flag('quick');
  const runs = Number(opt('runs') ?? (quick ? 1 : 3));
  const warmup = Number(opt('warmup') ?? 1);
  const heavyRuns = Number(opt('heavy-runs') ?? 1);
  const outDir = path.resolve(opt('out') ?? 'bench-results');
  const names = opt('scenario')?.split(',') ?? (quick ? ['gpt-only', 'appliance', 'store-partition', 'minimize-guess', 'tiny-files'] : SCENARIOS.filter((s) => !s.onlyWhenNamed).map((s) => s.name));
  const work = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'repart-ts-bench');

  // repart-ts behaves like the systemd-repart it is compared with (--compat=257 against trixie's)
  const compat = (sc: Scenario) => ((sc.suite ?? 'trixie') === 'trixie' ? ['--compat=257'] : []);
  let current: Scenario | undefined;
  const builders: Builder[] = [{ name: 'repart-ts', cmd: (args) => ({ argv: [process.execPath, CLI, '--quiet', ...(current ? compat(current) : []), ...args] }) }];
  const useRef = !flag('no-reference') && existsSync(REFERENCE) && process.getuid?.() === 0;
  const others = a.filter((x, i) => a[i - 1] === '--other' || x.startsWith('--other=')).map((x) => x.replace(/^--other=/, ''));
  for (const o of others) {
    const eq = o.indexOf('=');
    const name = o.slice(0, eq), cmd = o.slice(eq + 1).split(' ').filter(Boolean);
    builders.push({ name, cmd: (args) => ({ argv: [...cmd, ...args] }) });
  }
  const report: BenchReport = { date: new Date().toISOString(), machine: machine(), quick, runs, scenarios: [] };
  mkdirSync(outDir, { recursive: true });

  for (const sc of names.map((n) => SCENARIOS.find((s) => s.name === n) ?? (() => { throw new Error(`unknown scenario ${n}`); })())) {
    current = sc;
    const dir = path.join(work, sc.name + (quick ? '-quick' : ''));
    rmSync(path.join(dir, 'repart.d'), { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    process.stderr.write(`\n== ${sc.name}: preparing…\n`);
    const prep = sc.prepare(dir, quick);
    const all: Builder[] = [...builders];
    // repart-ts at its default --compat (262's tools), when the scenario asks and the first builder pins another
    if (sc.bothToolSets && compat(sc).length) all.push({ name: 'repart-ts (262 tools)', cmd: (args) => ({ argv: [process.execPath, CLI, '--quiet', ...args] }) });
    if (useRef && !sc.noReference) all.splice(1, 0, { name: `systemd-repart (${sc.suite ?? 'trixie'})`, cmd: (args) => ({ argv: [REFERENCE, ...args], env: { REFERENCE_BIND: [dir, ...(prep.bind ?? [])].join(':'), REFERENCE_SUITE: sc.suite ?? 'trixie' } }) });
    const res: ScenarioResult = { scenario: sc.name, description: sc.description, sourceBytes: prep.sourceBytes, builders: all.map((b) => ({ builder: b.name, samples: [] })) };
    const once = (bi: number, record: boolean) => {
      const b = all[bi]!;
      const img = path.join(dir, `out-${bi}.raw`);
      rmSync(img, { force: true });
      settle();
      const statsFile = path.join(dir, `stats-${bi}.json`);
      rmSync(statsFile, { force: true });
      // one run, or several on the same image timed together (the first creates it)
      const steps = prep.steps ?? [[]];
      let t: ReturnType<typeof timed> | undefined;
      let passes: number | undefined;
      const breakdown: Breakdown[] = [];
      for (const [k, extra] of steps.entries()) {
        const { argv, env } = b.cmd(['--offline=yes', '--definitions=repart.d', ...(k === 0 ? ['--empty=create'] : []), `--seed=${SEED}`, '--json=off', '--dry-run=no', ...prep.args, ...extra, img]);
        const step = timed(argv, dir, { ...env, SOURCE_DATE_EPOCH: '1700000000', REPART_TS_STATS: statsFile });
        t = !t ? step : {
          sample: { wall: t.sample.wall + step.sample.wall, user: t.sample.user + step.sample.user, sys: t.sample.sys + step.sample.sys, maxRssKiB: Math.max(t.sample.maxRssKiB, step.sample.maxRssKiB), status: step.sample.status },
          stdout: step.stdout, stderr: step.stderr,
        };
        if (existsSync(statsFile)) {
          const st = JSON.parse(readFileSync(statsFile, 'utf8')) as { passes: number } & Breakdown;
          passes = (passes ?? 0) + st.passes;
          breakdown.push({ startupMs: st.startupMs, stages: st.stages, partitions: st.partitions?.map((p) => ({ label: p.label, format: p.format, phases: p.phases })) });
          rmSync(statsFile, { force: true });
        }
        if (step.sample.status !== 0) break;
        if (k < steps.length - 1) prep.between?.(k, step.stdout);
      }
      t = t!;
      let imageBytes = 0, allocatedBytes = 0;
      if (existsSync(img)) { const st = statSync(img); imageBytes = st.size; allocatedBytes = st.blocks * 512; }
      const s: RunSample = { ...t.sample, imageBytes, allocatedBytes, passes, breakdown: breakdown.length ? breakdown : undefined, stderrTail: t.sample.status ? t.stderr.trim().split('\n').slice(-3).join(' | ') : undefined };
      process.stderr.write(`   ${b.name.padEnd(26)} ${record ? '' : '(warm-up) '}${s.status === 0 ? `${s.wall.toFixed(2)} s, ${(s.maxRssKiB / 1024).toFixed(0)} MiB` : `FAILED: ${s.stderrTail}`}\n`);
      if (record) res.builders[bi]!.samples.push(s);
      return img;
    };
    // heavy scenarios (named only): --heavy-runs each (default 1), no warm-up run; their sources
    // are read once first, so that the first builder does not pay a cold page cache the others
    // do not (issue 18 compares on a warm cache)
    const nRuns = sc.onlyWhenNamed ? heavyRuns : runs;
    if (sc.onlyWhenNamed && prep.sourceBytes > 0) timed(['sh', '-c', `tar -C '${prep.sourceDir}' -cf - --exclude='out-*.raw' . | cat > /dev/null`], dir);
    for (let w = 0; w < (sc.onlyWhenNamed ? 0 : warmup); w++) all.forEach((_, i) => once(i, false));
    let lastOurs = '';
    for (let r = 0; r < nRuns; r++) all.forEach((_, i) => { const img = once(i, true); if (i === 0) lastOurs = img; });
    // The floor: read every source byte once, write the image's allocated bytes once.
    settle();
    const src = prep.sourceBytes > 0 ? timed(['sh', '-c', `tar -C '${prep.sourceDir}' -cf - --exclude='out-*.raw' . | cat > /dev/null`], dir) : null;
    const wr = existsSync(lastOurs) ? timed(['cp', '--sparse=always', lastOurs, path.join(dir, 'floor-copy.raw')], dir) : null;
    rmSync(path.join(dir, 'floor-copy.raw'), { force: true });
    res.floor = { readSeconds: src?.sample.wall ?? 0, writeSeconds: wr?.sample.wall ?? 0 };
    for (const f of readdirSync(dir)) if (/^out-\d+\.raw$/.test(f)) rmSync(path.join(dir, f), { force: true });
    report.scenarios.push(res);
  }

  writeFileSync(path.join(outDir, 'bench.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(path.join(outDir, 'bench.html'), renderReportHtml(report));
  writeFileSync(path.join(outDir, 'bench.md'), renderReportMarkdown(report) + '\n```\n' + renderGoals(report) + renderReportText(report).split('\n').filter((l) => l.includes(': start-up')).join('\n') + '\n```\n');
  process.stdout.write(renderReportText(report) + '\n' + renderGoals(report));
  process.stdout.write(`\nwrote ${path.join(outDir, 'bench.json')} , bench.html and bench.md\n`);
}

export function renderReportText(r: BenchReport): string {
  const lines: string[] = [`machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB, node ${r.machine.node}; ${r.runs} run(s) per builder${r.quick ? ' (quick)' : ''}`];
  const head = ['scenario', 'builder', 'wall med', 'min', 'max', 'CPU s', 'cores', 'RSS MiB', 'faults', 'image', 'allocated', 'ratio', 'paired', 'vs floor'];
  const rows: string[][] = [head];
  const failures: string[] = [];
  for (const s of r.scenarios) {
    const base = s.builders[0] ? summarize(s.builders[0]) : undefined;
    const floor = (s.floor?.readSeconds ?? 0) + (s.floor?.writeSeconds ?? 0);
    for (const b of s.builders) {
      if (b.samples.every((x) => x.status !== 0)) { rows.push([s.scenario, b.builder, 'FAILED']); failures.push(`${s.scenario} / ${b.builder}: ${b.samples[0]?.stderrTail ?? ''}`); continue; }
      const m = summarize(b);
      const ratio = base && b !== s.builders[0] && base.runs ? (base.wallMedian / m.wallMedian).toFixed(2) + 'x' : '';
      const paired = base && b !== s.builders[0] ? pairedRatio(s.builders[0]!, b) : undefined;
      rows.push([s.scenario, b.builder, m.wallMedian.toFixed(2), m.wallMin.toFixed(2), m.wallMax.toFixed(2), m.cpuMedian.toFixed(2), `${(m.coreUtilisation * 100).toFixed(0)}%`, m.maxRssMiB.toFixed(0), faults(m.faultsMedian),
        (m.imageBytes / 2 ** 20).toFixed(0) + 'M', (m.allocatedBytes / 2 ** 20).toFixed(0) + 'M', ratio, paired === undefined ? '' : paired.toFixed(2) + 'x', floor > 0 ? (m.wallMedian / floor).toFixed(1) + 'x' : '']);
    }
    if (floor > 0) rows.push([s.scenario, 'floor (read src + write image)', floor.toFixed(2)]);
  }
  const w = head.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  lines.push(...rows.map((row) => row.map((x, c) => (x ?? '').padEnd(w[c]!)).join('  ').trimEnd()));
  lines.push('ratio = repart-ts median wall / this builder\'s (below 1 means repart-ts is faster); paired = the median of run i\'s ratios (steadier on a drifting machine); vs floor = median wall / floor; cores = CPU / wall / cores');
  lines.push(...failures.map((f) => `failed: ${f}`));
  lines.push('', 'where repart-ts\'s time goes (last run; ms): start-up = process start to build start (Node + imports); stages of src/build/pipeline.ts;', 'per formatted partition, worker phases: driverLoad, compile + instantiate (WebAssembly), run = the tool (fileData = host reads of file data, imageWrite = writes to the image, metadata = the rest of run)');
  for (const s of r.scenarios) {
    const last = s.builders[0]?.samples.filter((x) => x.status === 0).at(-1);
    for (const [k, b] of (last?.breakdown ?? []).entries()) lines.push(`${s.scenario}${last!.breakdown!.length > 1 ? ` step ${k + 1}` : ''}: ${renderBreakdown(b)}`);
  }
  return lines.join('\n') + '\n';
}

/** Issue 18's goals, each with this run's figure (repart-ts median wall; floor = warm `tar c | cat` of the sources). */
export function renderGoals(r: BenchReport): string {
  const sc = (n: string) => r.scenarios.find((s) => s.scenario === n);
  const ours = (s?: ScenarioResult) => (s?.builders[0] && s.builders[0].samples.some((x) => x.status === 0) ? summarize(s.builders[0]) : undefined);
  const ref = (s?: ScenarioResult) => { const b = s?.builders.find((x) => x.builder.startsWith('systemd-repart')); return b && b.samples.some((x) => x.status === 0) ? summarize(b) : undefined; };
  const fmt = (v: number | undefined, d = 2) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(d));
  const ratio = (n: string) => { const o = ours(sc(n)), f = ref(sc(n)); return o && f ? o.wallMedian / f.wallMedian : undefined; };
  // the same, run against run (pairedRatio), shown beside it
  const paired = (n: string) => {
    const s = sc(n), b = s?.builders.find((x) => x.builder.startsWith('systemd-repart'));
    const p = s?.builders[0] && b ? pairedRatio(s.builders[0], b) : undefined;
    return p === undefined ? '' : ` (paired: ${fmt(p)}×)`;
  };
  const xfloor = (n: string) => { const s = sc(n), o = ours(s); return o && s?.floor?.readSeconds ? o.wallMedian / s.floor.readSeconds : undefined; };
  // the same scenario with 262's tools (bothToolSets), shown beside the figure
  const with262 = (s: ScenarioResult | undefined, show: (m: ReturnType<typeof summarize>) => string) => {
    const b = s?.builders.find((x) => x.builder === 'repart-ts (262 tools)');
    return b && b.samples.some((x) => x.status === 0) ? ` (262 tools: ${show(summarize(b))})` : '';
  };
  const rss = Math.max(...r.scenarios.map((s) => ours(s)?.maxRssMiB ?? 0));
  const rssAt = r.scenarios.reduce((a, s) => ((ours(s)?.maxRssMiB ?? 0) >= rss ? s.scenario : a), '');
  const rows: [string, string, string][] = [
    ['small real tree (debian-usr) vs systemd-repart', '≤ 0.25×', fmt(ratio('debian-usr')) + '×' + paired('debian-usr')],
    ['large real tree (distro-usr-lib) vs systemd-repart', '≤ 0.15×', fmt(ratio('distro-usr-lib')) + '×' + paired('distro-usr-lib')],
    ['200,000 empty files (empty-200k)', '≤ 5 s', fmt(ours(sc('empty-200k'))?.wallMedian) + ' s' + with262(sc('empty-200k'), (m) => fmt(m.wallMedian) + ' s')],
    ['large real tree × warm read floor', '≤ 2.5×', fmt(xfloor('distro-usr-lib'), 1) + '×'],
    ['small real tree × warm read floor', '≤ 3×', fmt(xfloor('debian-usr'), 1) + '×'],
    ['peak RSS, any scenario (1M files: empty-1m)', '≤ 256 MiB', `${rss.toFixed(0)} MiB (${rssAt})` + with262(sc('empty-1m'), (m) => `${m.maxRssMiB.toFixed(0)} MiB at 1M`)],
    ['GPT only vs systemd-repart', '≤ 2×', fmt(ratio('gpt-only')) + '×' + paired('gpt-only')],
    ['cores busy (CPU / wall / cores), large real tree', 'both', `${fmt((ours(sc('distro-usr-lib'))?.coreUtilisation ?? NaN) * 100, 0)}%`],
  ];
  const w = [0, 1].map((c) => Math.max(...rows.map((x) => x[c]!.length)));
  return ['goals (issue 18): goal | this run', ...rows.map(([a, b, c]) => `${a.padEnd(w[0]!)}  ${b.padEnd(w[1]!)}  ${c}`)].join('\n') + '\n';
}

/** One run's breakdown on one line: start-up, stages over 1 ms, then each partition's worker phases. */
export function renderBreakdown(b: Breakdown): string {
  const f = (ms: number) => ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
  const parts = [`start-up ${f(b.startupMs ?? 0)}`, ...(b.stages ?? []).filter((s) => s.ms >= 1).map((s) => `${s.stage} ${f(s.ms)}${s.runs > 1 ? ` (×${s.runs})` : ''}`)];
  for (const p of b.partitions ?? []) {
    const ph = p.phases;
    if (!ph) continue;
    const meta = (ph.run ?? 0) - (ph.fileData ?? 0) - (ph.imageWrite ?? 0);
    const wasm = ph.run !== undefined ? ` compile ${f(ph.compile ?? 0)} instantiate ${f(ph.instantiate ?? 0)} metadata ${f(meta)} fileData ${f(ph.fileData ?? 0)} imageWrite ${f(ph.imageWrite ?? 0)}` : ` imageWrite ${f(ph.imageWrite ?? 0)}`;
    parts.push(`[${p.label} ${p.format}: total ${f(ph.total ?? 0)} driverLoad ${f(ph.driverLoad ?? 0)}${wasm}]`);
  }
  return parts.join(' | ');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // `run.js minimize-sizes …`: the Minimize=guess size table (bench/minimize-sizes.ts)
  if (process.argv[2] === 'minimize-sizes') await (await import('./minimize-sizes.js')).main(process.argv.slice(3));
  else await main();
}
