/**
 * Deterministic source trees for tests and benchmarks: the same seed gives the same bytes on
 * every machine. Shapes:
 *   closure  — a synthetic Nix closure: store paths with bin/lib/share, many small files, some
 *              large binaries, symlinks, hardlinks, executables, mtime 1 (as in /nix/store);
 *              also writes <out>/store-paths (one absolute store path per line, like closureInfo)
 *   tiny     — N tiny files spread over directories
 *   deep     — deeply nested directories
 *   links    — many symlinks and hardlinks
 *   longnames — long and Unicode names
 *   large    — a few large files
 *
 *   node dist/test-images/gen-tree.js --shape closure --out DIR [--seed 1] [--bytes 2G] [--files 60000]
 */
import { closeSync, openSync, mkdirSync, writeFileSync, symlinkSync, linkSync, utimesSync, chmodSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** splitmix64-based PRNG: portable and fast enough for generating gigabytes. */
export class Rng {
  private s: bigint;
  constructor(seed: number) { this.s = BigInt(seed) & 0xffffffffffffffffn; }
  next(): number {
    this.s = (this.s + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
    let z = this.s;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
    z = z ^ (z >> 31n);
    return Number(z >> 11n) / 2 ** 53;
  }
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo + 1)); }
  pick<T>(a: readonly T[]): T { return a[Math.floor(this.next() * a.length)]!; }
  /** log-normal with the given median */
  logNormal(median: number, sigma: number): number {
    const u1 = Math.max(this.next(), 1e-12), u2 = this.next();
    const n = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    return Math.round(median * Math.exp(sigma * n));
  }
}

/** Fills `size` bytes: text-like (compressible) or random-looking (binaries). */
function content(rng: Rng, size: number, binary: boolean): Buffer {
  const b = Buffer.allocUnsafe(size);
  if (binary) {
    let x = (rng.next() * 0xffffffff) >>> 0;
    for (let i = 0; i + 4 <= size; i += 4) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      b.writeUInt32LE(x, i);
    }
    for (let i = size & ~3; i < size; i++) b[i] = i & 0xff;
  } else {
    const words = ['lib', 'nix', 'store', 'the', 'config', 'value', 'export', 'function', 'return', '=', '{', '}', '\n', 'path', 'bin'];
    let i = 0;
    while (i < size) {
      const w = rng.pick(words) + ' ';
      i += b.write(w, i, Math.min(w.length, size - i), 'latin1');
    }
  }
  return b;
}

const NIX_BASE32 = '0123456789abcdfghijklmnpqrsvwxyz';
const NAMES = ['glibc', 'bash', 'coreutils', 'systemd', 'openssl', 'python3', 'perl', 'util-linux', 'zlib', 'ncurses', 'gcc-lib', 'linux', 'dbus', 'kmod', 'libxml2', 'curl', 'nix', 'shadow', 'iproute2', 'xz', 'zstd', 'bzip2', 'gnugrep', 'gnused', 'findutils', 'attr', 'acl', 'libcap', 'pam', 'e2fsprogs'];

export interface GenResult { files: number; dirs: number; symlinks: number; hardlinks: number; bytes: number; storePaths: string[] }

export function generate(shape: string, out: string, seed = 1, bytes = 256 * 1024 * 1024, files = 7000): GenResult {
  const rng = new Rng(seed);
  const r: GenResult = { files: 0, dirs: 0, symlinks: 0, hardlinks: 0, bytes: 0, storePaths: [] };
  if (existsSync(out)) rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const mkdir = (p: string) => { mkdirSync(p, { recursive: true }); r.dirs++; };
  const file = (p: string, size: number, binary: boolean, mode = 0o644) => {
    writeFileSync(p, content(rng, size, binary));
    chmodSync(p, mode);
    r.files++; r.bytes += size;
  };
  const regular: string[] = [];

  if (shape === 'closure') {
    const store = path.join(out, 'nix/store');
    mkdir(store);
    const perPath = Math.max(5, Math.round(files / Math.max(1, Math.round(files / 75))));
    const nPaths = Math.max(1, Math.round(files / perPath));
    const bigBudget = bytes * 0.5;
    let big = 0;
    for (let p = 0; p < nPaths; p++) {
      const hash = Array.from({ length: 32 }, () => rng.pick([...NIX_BASE32])).join('');
      const sp = path.join(store, `${hash}-${rng.pick(NAMES)}-${rng.int(1, 30)}.${rng.int(0, 20)}`);
      r.storePaths.push(sp);
      for (const d of ['bin', 'lib', 'share/doc', 'share/man/man1', 'lib/pkgconfig']) mkdir(path.join(sp, d));
      for (let f = 0; f < perPath && r.files < files; f++) {
        // once the byte budget is spent only small text files follow, so --bytes is honoured
        const kind = r.bytes > bytes * 0.97 ? 1 : rng.next();
        if (kind < 0.08) {
          const size = big < bigBudget ? Math.min(rng.logNormal(3 << 20, 1.0), 48 << 20) : rng.logNormal(64 << 10, 1);
          big += size;
          const fp = path.join(sp, 'bin', `prog${f}`);
          file(fp, size, true, 0o555); regular.push(fp);
        } else if (kind < 0.3) {
          const fp = path.join(sp, 'lib', `lib${f}.so.${rng.int(0, 9)}`);
          file(fp, rng.logNormal(48 << 10, 1.2), true, 0o444); regular.push(fp);
        } else {
          const fp = path.join(sp, rng.pick(['share/doc', 'share/man/man1', 'lib/pkgconfig']), `f${f}.${rng.pick(['txt', 'gz', 'pc', 'h', 'py'])}`);
          file(fp, rng.logNormal(3 << 10, 1.3), false, 0o444); regular.push(fp);
        }
      }
      // symlinks inside the path and to other store paths, hardlinks as after `nix-store --optimise`
      for (let s = 0; s < Math.max(1, perPath / 10); s++) {
        const target = regular.length ? rng.pick(regular) : '/nonexistent';
        symlinkSync(path.relative(path.join(sp, 'lib'), target), path.join(sp, 'lib', `link${s}`)); r.symlinks++;
      }
      if (regular.length > 10 && rng.next() < 0.5) {
        linkSync(rng.pick(regular), path.join(sp, 'share/doc', `hardlink${p}`)); r.hardlinks++;
      }
    }
    // Nix store metadata: mtime 1, read-only directories are left writable so the tree can be removed
    const stamp = (p: string) => { try { utimesSync(p, 1, 1); } catch { /* dangling */ } };
    for (const f of regular) stamp(f);
    writeFileSync(path.join(out, 'store-paths'), r.storePaths.map((p) => p + '\n').join(''));
  } else if (shape === 'tiny') {
    for (let i = 0; i < files; i++) {
      const d = path.join(out, `d${Math.floor(i / 1000)}`);
      if (i % 1000 === 0) mkdir(d);
      file(path.join(d, `t${i}`), rng.int(0, 300), false);
    }
  } else if (shape === 'deep') {
    let d = out;
    for (let i = 0; i < 60; i++) {
      d = path.join(d, `level${i}`);
      mkdir(d);
      for (let f = 0; f < 5; f++) file(path.join(d, `f${f}`), rng.int(0, 20000), rng.next() < 0.5);
    }
  } else if (shape === 'links') {
    mkdir(path.join(out, 'data'));
    for (let i = 0; i < Math.min(files, 2000); i++) {
      const fp = path.join(out, 'data', `f${i}`);
      file(fp, rng.int(0, 8000), false); regular.push(fp);
      symlinkSync(`f${i}`, path.join(out, 'data', `s${i}`)); r.symlinks++;
      if (i % 3 === 0) { linkSync(fp, path.join(out, 'data', `h${i}`)); r.hardlinks++; }
    }
  } else if (shape === 'longnames') {
    for (let i = 0; i < 500; i++) {
      const name = `${'long-name-'.repeat(rng.int(1, 20))}${i}-Grüße-日本語-ñ`.slice(0, 200);
      file(path.join(out, name), rng.int(0, 4000), false);
    }
  } else if (shape === 'empty') {
    // many empty files, 1,000 a directory: the per-file cost alone (bench/: 200k and 1M files)
    for (let i = 0; i < files; i++) {
      const d = path.join(out, `d${Math.floor(i / 1000)}`);
      if (i % 1000 === 0) mkdir(d);
      closeSync(openSync(path.join(d, `e${i}`), 'w'));
      r.files++;
    }
  } else if (shape === 'large') {
    for (let i = 0; i < 4; i++) file(path.join(out, `big${i}.bin`), Math.round(bytes / 4), true);
  } else throw new Error(`unknown shape ${shape}`);
  return r;
}

function parseBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)$/.exec(s);
  if (!m) throw new Error(`bad size ${s}`);
  return Math.round(Number(m[1]) * ({ '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 } as Record<string, number>)[m[2]!]!);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const a = process.argv.slice(2);
  const opt = (n: string, d?: string) => { const i = a.indexOf(`--${n}`); return i >= 0 ? a[i + 1]! : d; };
  const out = opt('out');
  if (!out) { console.error('usage: gen-tree --shape SHAPE --out DIR [--seed N] [--bytes 2G] [--files N]'); process.exit(2); }
  const res = generate(opt('shape', 'closure')!, out, Number(opt('seed', '1')), parseBytes(opt('bytes', '256M')!), Number(opt('files', '7000')));
  console.log(JSON.stringify({ ...res, storePaths: res.storePaths.length }));
}
