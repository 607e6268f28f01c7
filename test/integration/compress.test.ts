/**
 * src/compress judged by the real tools: what we write, host `zstd -d` / `xz -d` decode to the
 * identical bytes and `-t` accepts; what the host tools write, our decompressor reads. Plus
 * the committed WebAssembly builds (checksums, sources, licenses), levels, thread-count
 * independence of the output, the memory plan, and typed errors that leave nothing behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { COMPRESS_WASM_DIR } from '../../src/compress/codec.js';
import {
  compressFile,
  compressOutputs,
  compressedName,
  decompressFile,
  planCompression,
  type CompressionAlgorithm,
  type CompressOptions,
} from '../../src/compress/index.js';
import { RepartError } from '../../src/errors.js';

const MiB = 1024 * 1024;
const ALGS: CompressionAlgorithm[] = ['zstd', 'xz'];

function hasTool(t: string): boolean {
  return spawnSync(t, ['--version'], { stdio: 'ignore' }).status === 0;
}
const missingTools = ['zstd', 'xz'].filter((t) => !hasTool(t));
const toolSkip = missingTools.length ? `host ${missingTools.join(', ')} missing (apt-get install zstd xz-utils)` : false;

function scratch(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'repart-compress-'));
}

/** Deterministic bytes: compressible (words) or not (random), from a seed. */
function wordsData(n: number, seed = 1): Buffer {
  const words = ['usr', 'lib', 'nix', 'store', 'systemd', 'repart', 'partition', 'ext4', '\n', 'a', '0x1f', 'GPT'];
  let x = seed;
  const parts: string[] = [];
  let len = 0;
  while (len < n) {
    x = (x * 1103515245 + 12345) >>> 0;
    const w = words[x % words.length]! + ((x >>> 8) % 7 === 0 ? String(x % 1000) : ' ');
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}
function randomData(n: number, seed: string): Buffer {
  const out = Buffer.alloc(n);
  const key = crypto.createHash('sha256').update(seed).digest();
  const c = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  c.update(Buffer.alloc(n)).copy(out);
  return out;
}

function sha256File(f: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(f, 'r');
  const buf = Buffer.allocUnsafe(8 * MiB);
  try {
    for (let pos = 0; ; ) {
      const n = fs.readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** sha256 of what a host command writes to stdout (streamed: outputs may be GiBs). */
function sha256Of(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const h = crypto.createHash('sha256');
    let err = '';
    p.stdout.on('data', (d: Buffer) => h.update(d));
    p.stderr.on('data', (d: Buffer) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(h.digest('hex')) : reject(new Error(`${cmd} ${args.join(' ')}: exit ${code}: ${err}`))));
  });
}

function hostTest(tool: string, file: string): void {
  const r = spawnSync(tool, ['-t', '-q', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, `${tool} -t ${file}: ${r.stderr}`);
}

const hostDecoder = (a: CompressionAlgorithm) => (a === 'zstd' ? 'zstd' : 'xz');

/** compress with us; host -t accepts; host -d and our decompressor give the original bytes. */
async function roundTrip(src: string, opts: CompressOptions): Promise<{ size: number; chunks: number }> {
  const dst = compressedName(src, opts.algorithm);
  const r = await compressFile(src, dst, { force: true, ...opts });
  assert.equal(r.bytesOut, fs.statSync(dst).size);
  const want = sha256File(src);
  hostTest(hostDecoder(opts.algorithm), dst);
  assert.equal(await sha256Of(hostDecoder(opts.algorithm), ['-d', '-c', dst]), want, `host ${opts.algorithm} -d gives the original`);
  const back = `${src}.back`;
  const d = await decompressFile(dst, back, { force: true });
  assert.equal(d.algorithm, opts.algorithm);
  assert.equal(fs.statSync(back).size, fs.statSync(src).size);
  assert.equal(sha256File(back), want, 'our decompressor gives the original');
  fs.rmSync(back);
  return { size: r.bytesOut, chunks: r.chunks };
}

function leftovers(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));
}

// ---- committed WebAssembly builds ----

test('wasm/{zstd,xz}/SHA256SUMS match the committed builds; sources and licenses are recorded', () => {
  for (const [dir, files, pkg, ver, licenses] of [
    ['zstd', ['zstd.cjs', 'zstd.wasm'], 'libzstd', /^libzstd: 1\.5\.7\+dfsg-1$/m, ['zstd-LICENSE', 'zstd-COPYING']],
    ['xz', ['xz.cjs', 'xz.wasm'], 'xz-utils', /^xz-utils: 5\.8\.1-1\+deb13u1$/m, ['xz-COPYING', 'xz-COPYING.0BSD']],
  ] as const) {
    const d = path.join(COMPRESS_WASM_DIR, dir);
    const sums = fs.readFileSync(path.join(d, 'SHA256SUMS'), 'utf8').trim().split('\n');
    const seen = new Set<string>();
    for (const line of sums) {
      const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
      assert.ok(m, `bad line in ${dir}/SHA256SUMS: ${line}`);
      seen.add(m[2]!);
      const actual = crypto.createHash('sha256').update(fs.readFileSync(path.join(d, m[2]!))).digest('hex');
      assert.equal(actual, m[1], `${dir}/${m[2]} does not match SHA256SUMS (rebuild: tools/build-compress-wasm.sh)`);
    }
    for (const f of files) assert.ok(seen.has(f), `${dir}/SHA256SUMS lists ${f}`);
    const sources = fs.readFileSync(path.join(d, 'SOURCES'), 'utf8');
    assert.match(sources, ver, `${dir}/SOURCES pins ${pkg}`);
    assert.match(sources, /^debian-suite: trixie$/m);
    assert.match(sources, /^emscripten: 3\.1\.6/m);
    for (const l of licenses) assert.ok(fs.statSync(path.join(d, 'licenses', l)).size > 500, `${dir}/licenses/${l}`);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(COMPRESS_WASM_DIR, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  for (const [name, cmd] of Object.entries(pkg.scripts)) assert.doesNotMatch(cmd, /build-compress-wasm|emcc/, `npm script ${name} never builds`);
});

// ---- round trips through the real tools ----

for (const algorithm of ALGS) {
  test(`${algorithm}: empty, 1 byte, random and compressible data round-trip through host ${algorithm}`, { skip: toolSkip }, async () => {
    const dir = scratch();
    try {
      const files: [string, Buffer][] = [
        ['empty', Buffer.alloc(0)],
        ['one', Buffer.from([0x5a])],
        ['random', randomData(3 * MiB + 12345, algorithm)],
        ['words', wordsData(2 * MiB)],
      ];
      for (const [name, data] of files) {
        const f = path.join(dir, name);
        fs.writeFileSync(f, data);
        await roundTrip(f, { algorithm });
      }
      assert.deepEqual(leftovers(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`${algorithm}: many chunks in parallel (chunk boundaries inside data and zero runs); output independent of threads`, { skip: toolSkip }, async () => {
    const dir = scratch();
    try {
      const f = path.join(dir, 'mixed.img');
      // 9.5 chunks of 1 MiB: words across a boundary, random, an all-zero chunk, a partial last chunk
      const data = Buffer.concat([wordsData(2.5 * MiB), randomData(1.25 * MiB, 'x'), Buffer.alloc(3 * MiB), wordsData(2.75 * MiB, 7)]);
      data[5 * MiB + 17] = 1; // one byte breaking a zero chunk: compressed normally, not as the cached zero chunk
      fs.writeFileSync(f, data);
      const r = await roundTrip(f, { algorithm, chunkSize: MiB, threads: 2, level: 1 });
      assert.equal(r.chunks, 10);
      const one = path.join(dir, 'one-thread');
      const two = compressedName(f, algorithm);
      await compressFile(f, one, { algorithm, chunkSize: MiB, threads: 1, level: 1 });
      assert.ok(fs.readFileSync(one).equals(fs.readFileSync(two)), 'same bytes with 1 and 2 threads');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test(`${algorithm}: a sparse 1 GiB image with some data`, { skip: toolSkip }, async () => {
    const dir = scratch();
    try {
      const f = path.join(dir, 'disk.img');
      const fd = fs.openSync(f, 'w');
      fs.ftruncateSync(fd, 1024 * MiB);
      fs.writeSync(fd, Buffer.from('EFI PART'), 0, 8, 512);
      // across chunk boundaries (zstd: 32 MiB chunks; xz -1: 16 MiB)
      fs.writeSync(fd, randomData(MiB, 'sparse'), 0, MiB, 96 * MiB - 4096);
      fs.writeSync(fd, wordsData(3 * MiB), 0, 3 * MiB, 128 * MiB - MiB);
      fs.writeSync(fd, Buffer.from('END'), 0, 3, 1024 * MiB - 3);
      fs.closeSync(fd);
      const dst = compressedName(f, algorithm);
      const r = await compressFile(f, dst, { algorithm, level: algorithm === 'xz' ? 1 : 3 });
      assert.ok(r.bytesOut < 6 * MiB, `compressed to ${r.bytesOut}`);
      // the slow parts (GiB-sized decodes) run side by side: host processes and our worker
      const back = path.join(dir, 'back.img');
      const tool = hostDecoder(algorithm);
      const [hostT, hostD] = await Promise.all([
        sha256Of(tool, ['-t', dst]),
        sha256Of(tool, ['-d', '-c', dst]),
        decompressFile(dst, back),
      ]);
      const want = sha256File(f);
      assert.equal(hostT, crypto.createHash('sha256').digest('hex'), `${tool} -t accepts it`);
      assert.equal(hostD, want, `host ${tool} -d gives the original`);
      assert.equal(sha256File(back), want, 'our decompressor gives the original');
      assert.ok(fs.statSync(back).blocks * 512 < 64 * MiB, 'our decompressor leaves the zero runs as holes');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('levels are honoured: a higher level is not larger on compressible data', { skip: toolSkip }, async () => {
  const dir = scratch();
  try {
    const f = path.join(dir, 'words');
    fs.writeFileSync(f, Buffer.concat([wordsData(3 * MiB), wordsData(MiB, 3)]));
    for (const [algorithm, levels] of [
      ['zstd', [1, 3, 9, 19]],
      ['xz', [0, 3, 6]],
    ] as const) {
      const sizes: number[] = [];
      for (const level of levels) {
        const out = path.join(dir, `${algorithm}-${level}`);
        const r = await compressFile(f, out, { algorithm, level });
        hostTest(hostDecoder(algorithm), out);
        sizes.push(r.bytesOut);
      }
      for (let i = 1; i < sizes.length; i++) assert.ok(sizes[i]! <= sizes[i - 1]!, `${algorithm} levels ${levels.join(',')}: sizes ${sizes.join(',')}`);
      assert.ok(sizes.at(-1)! < sizes[0]!, `${algorithm}: the level reaches the codec (${sizes.join(',')})`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('our decompressor reads what host zstd and xz write (multi-frame, multi-block, concatenated, other checks)', { skip: toolSkip }, async () => {
  const dir = scratch();
  try {
    const a = path.join(dir, 'a');
    const b = path.join(dir, 'b');
    fs.writeFileSync(a, Buffer.concat([wordsData(3 * MiB), randomData(MiB, 'h'), Buffer.alloc(2 * MiB)]));
    fs.writeFileSync(b, wordsData(MiB + 3, 9));
    const ab = Buffer.concat([fs.readFileSync(a), fs.readFileSync(b)]);
    const cases: { name: string; make: string; want: Buffer }[] = [
      { name: 'zstd -19', make: `zstd -q -19 -c a > out`, want: fs.readFileSync(a) },
      { name: 'zstd -T2 --no-check', make: `zstd -q -T2 --no-check -c a > out`, want: fs.readFileSync(a) },
      { name: 'zstd --long=27 (big window)', make: `zstd -q --long=27 -c a > out`, want: fs.readFileSync(a) },
      { name: 'zstd, two frames concatenated', make: `zstd -q -c a > out && zstd -q -c b >> out`, want: ab },
      { name: 'zstd from a pipe (no content size)', make: `cat a | zstd -q -3 > out`, want: fs.readFileSync(a) },
      { name: 'xz -6', make: `xz -6 -c a > out`, want: fs.readFileSync(a) },
      { name: 'xz -T2 --block-size=1MiB (multi-block)', make: `xz -T2 --block-size=1MiB -c a > out`, want: fs.readFileSync(a) },
      { name: 'xz --check=sha256, two streams', make: `xz --check=sha256 -c a > out && xz -0 -c b >> out`, want: ab },
      { name: 'xz -e -9', make: `xz -e -9 -c b > out`, want: fs.readFileSync(b) },
      { name: 'xz of an empty file', make: `: | xz -c > out`, want: Buffer.alloc(0) },
      { name: 'zstd of an empty file', make: `: | zstd -q -c > out`, want: Buffer.alloc(0) },
    ];
    for (const c of cases) {
      const out = path.join(dir, 'out');
      const r = spawnSync('sh', ['-c', c.make], { cwd: dir, encoding: 'utf8' });
      assert.equal(r.status, 0, `${c.name}: ${r.stderr}`);
      const back = path.join(dir, 'back');
      await decompressFile(out, back, { force: true });
      assert.ok(fs.readFileSync(back).equals(c.want), c.name);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// ---- memory plan ----

test('the thread count is fitted to the memory limit; one thread is always allowed', async () => {
  const big = 1024 * MiB;
  const z = await planCompression({ algorithm: 'zstd', threads: 64 }, big);
  assert.ok(z.threads >= 1 && z.threads <= os.availableParallelism());
  assert.ok(z.memory <= 256 * MiB || z.threads === 1, `zstd plan ${JSON.stringify(z)}`);
  const tight = await planCompression({ algorithm: 'zstd', threads: 2, memoryLimit: 40 * MiB }, big);
  assert.equal(tight.threads, 1);
  const x9 = await planCompression({ algorithm: 'xz', level: 9, threads: 8 }, big);
  assert.equal(x9.threads, 1, 'xz -9 needs ~674 MiB per encoder');
  assert.equal(x9.chunkSize, 64 * MiB);
  const x3 = await planCompression({ algorithm: 'xz', threads: 1 }, 0);
  assert.equal(x3.level, 3);
  assert.equal(x3.chunks, 1);
});

// ---- errors: typed, and nothing left behind ----

async function rejectsWith(p: Promise<unknown>, code: string, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RepartError, `a RepartError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.match(e.message, re);
    return true;
  });
}

test('bad options, unreadable input, missing output directory, existing output: typed errors, no output', async () => {
  const dir = scratch();
  try {
    const f = path.join(dir, 'in');
    fs.writeFileSync(f, wordsData(100000));
    const o = path.join(dir, 'out');
    await rejectsWith(compressFile(f, o, { algorithm: 'lz4' as CompressionAlgorithm }), 'E_CONFIG_VALUE', /unknown compression algorithm "lz4"/);
    await rejectsWith(compressFile(f, o, { algorithm: 'zstd', level: 0 }), 'E_CONFIG_VALUE', /invalid zstd compression level 0 \(expected an integer 1\.\.22\)/);
    await rejectsWith(compressFile(f, o, { algorithm: 'zstd', level: 23 }), 'E_CONFIG_VALUE', /level 23/);
    await rejectsWith(compressFile(f, o, { algorithm: 'xz', level: 10 }), 'E_CONFIG_VALUE', /invalid xz compression level 10 \(expected an integer 0\.\.9\)/);
    await rejectsWith(compressFile(f, o, { algorithm: 'xz', level: 2.5 }), 'E_CONFIG_VALUE', /level 2\.5/);
    await rejectsWith(compressFile(f, o, { algorithm: 'xz', threads: -1 }), 'E_CONFIG_VALUE', /threads/);
    await rejectsWith(compressFile(path.join(dir, 'missing'), o, { algorithm: 'zstd' }), 'E_IMAGE_IO', /missing: cannot read the input: ENOENT/);
    await rejectsWith(compressFile(dir, o, { algorithm: 'zstd' }), 'E_IMAGE_IO', /cannot read the input: not a regular file/);
    await rejectsWith(compressFile(f, path.join(dir, 'nodir', 'out.zst'), { algorithm: 'zstd' }), 'E_IMAGE_IO', /nodir\/out\.zst: cannot create the output: ENOENT/);
    await rejectsWith(compressFile(f, f, { algorithm: 'xz', force: true }), 'E_IMAGE_IO', /same file/);
    fs.writeFileSync(o, 'keep me');
    await rejectsWith(compressFile(f, o, { algorithm: 'zstd' }), 'E_IMAGE_EXISTS', /out: output already exists/);
    assert.equal(fs.readFileSync(o, 'utf8'), 'keep me');
    if (process.getuid?.() !== 0) {
      fs.chmodSync(f, 0);
      await rejectsWith(compressFile(f, path.join(dir, 'x'), { algorithm: 'zstd' }), 'E_IMAGE_IO', /EACCES/);
      fs.chmodSync(f, 0o644);
    }
    assert.deepEqual(fs.readdirSync(dir).sort(), ['in', 'out']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('corrupt or truncated compressed input: typed error, no partial output', async () => {
  const dir = scratch();
  try {
    const f = path.join(dir, 'in');
    fs.writeFileSync(f, Buffer.concat([wordsData(3 * MiB), randomData(MiB, 'c')]));
    for (const algorithm of ALGS) {
      const z = path.join(dir, `z.${algorithm}`);
      await compressFile(f, z, { algorithm, chunkSize: MiB, level: 1 });
      const full = fs.readFileSync(z);
      const trunc = path.join(dir, 'trunc');
      fs.writeFileSync(trunc, full.subarray(0, full.length - 100));
      await rejectsWith(decompressFile(trunc, path.join(dir, 'out')), 'E_IMAGE_IO', /trunc: cannot decompress: .*(truncated|unexpected end)/);
      const bad = Buffer.from(full);
      bad[Math.floor(bad.length / 2)]! ^= 0xff;
      bad[Math.floor(bad.length / 2) + 1]! ^= 0x55;
      fs.writeFileSync(trunc, bad);
      await rejectsWith(decompressFile(trunc, path.join(dir, 'out')), 'E_IMAGE_IO', /cannot decompress: (zstd|xz)/);
      fs.rmSync(z);
    }
    fs.writeFileSync(path.join(dir, 'trunc'), 'plain text, not compressed');
    await rejectsWith(decompressFile(path.join(dir, 'trunc'), path.join(dir, 'out')), 'E_IMAGE_IO', /not a zstd or xz file/);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['in', 'trunc']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the output gets the input mode and mtime; removeSource deletes the input only after success', async () => {
  const dir = scratch();
  try {
    const f = path.join(dir, 'disk.raw');
    fs.writeFileSync(f, wordsData(50000));
    fs.chmodSync(f, 0o640);
    const t = new Date('2001-02-03T04:05:06Z');
    fs.utimesSync(f, t, t);
    const r = await compressFile(f, compressedName(f, 'xz'), { algorithm: 'xz', removeSource: true });
    assert.equal(r.dst, `${f}.xz`);
    assert.ok(!fs.existsSync(f), 'source removed');
    const st = fs.statSync(r.dst);
    assert.equal(st.mode & 0o777, 0o640);
    assert.equal(st.mtime.getTime(), t.getTime());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('compressOutputs: every output file becomes <file>.zst, the originals go (nixpkgs compression.enable)', { skip: toolSkip }, async () => {
  const dir = scratch();
  try {
    const files = ['image.raw', 'image.root.raw', 'image.usr.raw'].map((n, i) => {
      const f = path.join(dir, n);
      fs.writeFileSync(f, wordsData(200000 + i, i));
      return f;
    });
    const want = files.map(sha256File);
    const r = await compressOutputs(files, { algorithm: 'zstd', threads: 2 });
    assert.deepEqual(r.map((x) => path.basename(x.dst)), ['image.raw.zst', 'image.root.raw.zst', 'image.usr.raw.zst']);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['image.raw.zst', 'image.root.raw.zst', 'image.usr.raw.zst']);
    for (let i = 0; i < files.length; i++) assert.equal(await sha256Of('zstd', ['-d', '-c', r[i]!.dst]), want[i]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
