/**
 * Compression benchmark (not a test): repart-ts's WebAssembly zstd/xz (src/compress) against
 * the host tools as nixpkgs runs them (`zstd -T0 -<level>`, `xz -T0 -<level>`), on a 1 GiB
 * image-like file, each run under /usr/bin/time (wall, CPU, peak RSS). Reports time and size
 * ratios (ours / host) and checks that every output decodes to the input with the host tool.
 *
 *   node dist/bench/compress.js [--input FILE] [--size 1G] [--runs N] [--algorithms zstd,xz]
 *                               [--level N] [--threads N] [--out DIR] [--json FILE]
 *
 * Without --input, the image is built once in --out (default bench-results/compress): a sparse
 * file of --size holding, from 1 MiB on, a tar of /usr/bin, /usr/include, /usr/share/doc and
 * /usr/lib/python3* (binaries, headers, text) up to 55% of the size; the rest stays a hole, as
 * the free space of a real image does.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { compressFile, type CompressionAlgorithm } from '../src/compress/index.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SELF = fileURLToPath(import.meta.url);

interface Sample {
  wall: number;
  cpu: number;
  maxRssMiB: number;
  bytes: number;
}

interface Row {
  algorithm: string;
  level: number;
  oursWall: number;
  hostWall: number;
  timeRatio: number;
  oursCpu: number;
  hostCpu: number;
  oursBytes: number;
  hostBytes: number;
  sizeRatio: number;
  oursMaxRssMiB: number;
  hostMaxRssMiB: number;
  decodesOk: boolean;
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}

function parseSize(s: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase());
}

function timed(argv: string[], stdoutTo?: string): Sample & { status: number; stderr: string } {
  const tf = path.join(os.tmpdir(), `repart-bench-compress-time-${process.pid}`);
  const cmd = ['/usr/bin/time', '-f', '%e %U %S %M', '-o', tf, ...argv];
  const r = stdoutTo
    ? spawnSync('sh', ['-c', `"$@" > '${stdoutTo.replace(/'/g, `'\\''`)}'`, 'sh', ...cmd], { encoding: 'utf8' })
    : spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
  const [e, u, s, m] = fs.readFileSync(tf, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  fs.rmSync(tf, { force: true });
  return { wall: e!, cpu: u! + s!, maxRssMiB: m! / 1024, bytes: 0, status: r.status ?? -1, stderr: r.stderr ?? '' };
}

function makeImage(file: string, size: number): void {
  if (fs.existsSync(file) && fs.statSync(file).size === size) return;
  console.error(`building image-like input ${file} (${size} bytes)…`);
  fs.rmSync(file, { force: true });
  const fd = fs.openSync(file, 'w');
  fs.ftruncateSync(fd, size);
  fs.closeSync(fd);
  const dirs = ['/usr/bin', '/usr/include', '/usr/share/doc', ...fs.readdirSync('/usr/lib').filter((n) => n.startsWith('python3')).map((n) => `/usr/lib/${n}`)];
  const fill = Math.floor((size * 0.55) / (1 << 20));
  const r = spawnSync(
    'sh',
    ['-c', `tar --sort=name --ignore-failed-read -cf - "$@" 2>/dev/null | head -c ${fill}M | dd of='${file}' bs=1M seek=1 conv=notrunc iflag=fullblock status=none`, 'sh', ...dirs],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) throw new Error('building the input failed');
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function child(): Promise<void> {
  // --child ALG LEVEL THREADS IN OUT: one compression in this process, for /usr/bin/time
  const [alg, level, threads, input, output] = process.argv.slice(process.argv.indexOf('--child') + 1);
  const r = await compressFile(input!, output!, { algorithm: alg as CompressionAlgorithm, level: Number(level), threads: Number(threads), force: true });
  process.stderr.write(`threads=${r.threads} chunks=${r.chunks} chunkSize=${r.chunkSize}\n`);
}

async function main(): Promise<void> {
  const out = path.resolve(arg('out', path.join(REPO, 'bench-results', 'compress')));
  fs.mkdirSync(out, { recursive: true });
  const size = parseSize(arg('size', '1G'));
  const input = arg('input', '') ? path.resolve(arg('input', '')) : path.join(out, 'image.raw');
  if (!arg('input', '')) makeImage(input, size);
  const runs = Number(arg('runs', '1'));
  const algorithms = arg('algorithms', 'zstd,xz').split(',') as CompressionAlgorithm[];
  const level = Number(arg('level', '3'));
  const threads = Number(arg('threads', '0'));
  const st = fs.statSync(input);
  console.log(`input ${input}: ${st.size} bytes, ${st.blocks * 512} allocated; ${os.availableParallelism()} CPUs; level ${level}; threads ${threads || 'all'}`);
  const rows: Row[] = [];
  for (const alg of algorithms) {
    const ext = alg === 'zstd' ? 'zst' : 'xz';
    const ours = path.join(out, `ours.${ext}`);
    const host = path.join(out, `host.${ext}`);
    const hostArgv = alg === 'zstd' ? ['zstd', '-q', `-T${threads}`, `-${level}`, '-c', input] : ['xz', `-T${threads}`, `-${level}`, '-c', input];
    const res: { ours: Sample[]; host: Sample[] } = { ours: [], host: [] };
    for (let i = 0; i < runs; i++) {
      // alternate, so drift (page cache, other load) hits both sides
      const a = timed([process.execPath, SELF, '--child', alg, String(level), String(threads), input, ours]);
      if (a.status !== 0) throw new Error(`ours failed: ${a.stderr}`);
      res.ours.push({ ...a, bytes: fs.statSync(ours).size });
      const b = timed(hostArgv, host);
      if (b.status !== 0) throw new Error(`host failed: ${b.stderr}`);
      res.host.push({ ...b, bytes: fs.statSync(host).size });
      console.error(`  ${alg} run ${i + 1}: ours ${a.wall}s ${a.stderr.trim()}, host ${b.wall}s`);
    }
    // both outputs decode to the input with the host tool
    const sum = (argv: string) => spawnSync('sh', ['-c', `${argv} | sha256sum`], { encoding: 'utf8' }).stdout.split(' ')[0];
    const want = sum(`cat '${input}'`);
    const okOurs = sum(`${alg === 'zstd' ? 'zstd' : 'xz'} -dc '${ours}'`) === want;
    const okHost = sum(`${alg === 'zstd' ? 'zstd' : 'xz'} -dc '${host}'`) === want;
    const m = (s: Sample[], k: keyof Sample) => median(s.map((x) => x[k]));
    const row: Row = {
      algorithm: alg,
      level,
      oursWall: m(res.ours, 'wall'),
      hostWall: m(res.host, 'wall'),
      timeRatio: m(res.ours, 'wall') / m(res.host, 'wall'),
      oursCpu: m(res.ours, 'cpu'),
      hostCpu: m(res.host, 'cpu'),
      oursBytes: res.ours[0]!.bytes,
      hostBytes: res.host[0]!.bytes,
      sizeRatio: res.ours[0]!.bytes / res.host[0]!.bytes,
      oursMaxRssMiB: m(res.ours, 'maxRssMiB'),
      hostMaxRssMiB: m(res.host, 'maxRssMiB'),
      decodesOk: okOurs && okHost,
    };
    rows.push(row);
  }
  console.log('\nalgorithm  ours wall  host wall  time ratio  ours CPU  host CPU  ours bytes    host bytes    size ratio  ours RSS  host RSS  decodes');
  for (const r of rows) {
    console.log(
      `${(r.algorithm + ' -' + r.level).padEnd(10)} ${r.oursWall.toFixed(2).padStart(8)}s ${r.hostWall.toFixed(2).padStart(8)}s ${r.timeRatio.toFixed(2).padStart(10)}x ` +
        `${r.oursCpu.toFixed(1).padStart(7)}s ${r.hostCpu.toFixed(1).padStart(7)}s ${String(r.oursBytes).padStart(12)} ${String(r.hostBytes).padStart(12)} ${r.sizeRatio.toFixed(4).padStart(10)} ` +
        `${r.oursMaxRssMiB.toFixed(0).padStart(6)}M ${r.hostMaxRssMiB.toFixed(0).padStart(7)}M  ${r.decodesOk ? 'ok' : 'MISMATCH'}`,
    );
  }
  const json = arg('json', '');
  if (json) fs.writeFileSync(json, JSON.stringify({ date: new Date().toISOString(), input, size: st.size, cpus: os.availableParallelism(), rows }, null, 2));
}

if (process.argv.includes('--child')) await child();
else await main();
