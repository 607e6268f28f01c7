/**
 * Trees made at random (seeded, so each seed is the same tree every time) through both builders:
 * names of 1 to 255 bytes with spaces and punctuation, empty, random, zero-filled and sparse
 * files, symlinks with long targets, FIFOs, device nodes, hard links of files, FIFOs and
 * symlinks, modes from 000 to setuid and sticky, owners past 65535, user xattrs, modification
 * times from 1970 to 2036. The images must equal systemd-repart's, byte for byte. The fixed hostile tree
 * (rich-tree.test.ts) checks what we thought of; these find what we did not (a hard-linked
 * symlink's second name without target, directories without search bits stopping mke2fs, and
 * 262's mkfs.erofs writing a tail block as zeros from a fiber stack at 8 mod 16, were found so). Needs root
 * (owners, device nodes) and the reference.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareWholeImage, referenceSkipReason, type Suite } from '../helpers/reference.js';

const env = { SOURCE_DATE_EPOCH: '1700000000' };

/** mulberry32: a small PRNG, enough to make the same tree from the same seed */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
}

/** Makes the tree; returns what sets its times again, for each builder to see the same ones. */
export function randomTree(root: string, seed: number, entries = 300): () => void {
  const r = prng(seed);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
  const alphabet = 'abcXYZ019._-~ @+=,';
  const name = () => {
    const n = Array.from({ length: pick([1, 2, 3, 8, 16, 60, 200, 255]) }, () => pick([...alphabet])).join('');
    return n === '.' || n === '..' ? `x${n}` : n;
  };
  mkdirSync(root);
  const dirs = [root];
  const linkable: string[] = [];
  const all: string[] = [];
  for (let i = 0; i < entries; i++) {
    const p = path.join(pick(dirs), name());
    if (lstatSync(p, { throwIfNoEntry: false })) continue;
    const k = r();
    if (k < 0.12) {
      mkdirSync(p);
      dirs.push(p);
    } else if (k < 0.55) {
      const c = r();
      if (c < 0.3) writeFileSync(p, '');
      else if (c < 0.6) writeFileSync(p, bytes(int(1, 9000)));
      else if (c < 0.8) writeFileSync(p, Buffer.alloc(int(1, 20000)));
      else {
        writeFileSync(p, '');
        sh('truncate', ['-s', String(int(1, 3) << 20), p]);
        sh('dd', [`of=${p}`, 'bs=1', `seek=${int(0, 1 << 20)}`, 'count=100', 'conv=notrunc', 'if=/dev/urandom', 'status=none']);
      }
      linkable.push(p);
    } else if (k < 0.68) {
      symlinkSync(pick(['../x', '/etc/passwd', 'a'.repeat(int(1, 300)), '.']), p);
      linkable.push(p);
    } else if (k < 0.74) {
      sh('mkfifo', [p]);
      linkable.push(p);
    } else if (k < 0.77) {
      sh('mknod', [p, 'c', String(int(1, 300)), String(int(0, 70000))]);
      linkable.push(p);
    } else if (k < 0.9 && linkable.length) {
      linkSync(pick(linkable), p);
    } else {
      writeFileSync(p, 'x');
      linkable.push(p);
    }
    all.push(p);
  }
  const times: [string, number][] = [];
  for (const p of [...all, ...dirs.slice(1)]) {
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    const isLink = st.isSymbolicLink();
    if (r() < 0.3) lchownSync(p, pick([0, 1, 1000, 65534, 100000]), pick([0, 5, 1000, 200000]));
    if (!isLink && r() < 0.3) chmodSync(p, pick([0o644, 0o600, 0o4755, 0o2755, 0o1777, 0o000, 0o777]));
    // user.* attributes exist on files and directories only (Linux refuses them elsewhere)
    if (r() < 0.2 && (st.isFile() || st.isDirectory())) sh('setfattr', ['-n', `user.r${int(0, 3)}`, '-v', 'v'.repeat(int(1, 50)), p]);
    const t = pick([0, 86400, 1e9, 1.7e9, 2e9, r() * 2.1e9]);
    times.push([p, t]);
  }
  // Access times are left at "now" (clamped to SOURCE_DATE_EPOCH by both): a reference run
  // reads some symlinks before it takes their stat (absolute ones at the top, seen at 262), and
  // reading moves an old atime (relatime); what is compared is the rest
  return () => {
    const now = Date.now() / 1000;
    for (const [p, t] of [...times].reverse()) lutimesSync(p, now, t);
  };
}


for (const suite of ['sid', 'trixie'] as Suite[]) {
  const skip = referenceSkipReason(suite)
    || (process.getuid?.() !== 0 ? 'needs root: owners and device nodes' : false)
    || (spawnSync('setfattr', ['--version']).status !== 0 ? 'setfattr (package attr) is not installed' : false);
  describe(`random trees vs systemd-repart (${suite})`, () => {
    const cases: [number, string, string][] = [];
    for (const seed of [1, 3]) {
      cases.push([seed, 'squashfs', 'Minimize=best'], [seed, 'erofs', 'Minimize=best']);
      // ext4 at 262 only: 257's mkfs.ext4 takes a random directory hash seed
      if (suite === 'sid') cases.push([seed, 'ext4', 'SizeMinBytes=64M']);
    }
    if (suite === 'sid') cases.push([2, 'erofs', 'Minimize=best']);
    // seed 4: 1.8.6's shared xattr table, in glibc's qsort order only (wasm/shim/qsort_glibc.c)
    cases.push([4, 'erofs', 'Minimize=best']);
    // compressed: the compressors' own bytes, and erofs' 16 MiB segments (fibers, heap)
    cases.push([1, 'erofs', 'Minimize=best\nCompression=zstd'], [1, 'squashfs', 'Minimize=best\nCompression=xz']);
    for (const [seed, format, keys] of cases) {
      it(`seed ${seed}, ${format}${/Compression=(\w+)/.exec(keys)?.[1] ? ` (${/Compression=(\w+)/.exec(keys)![1]})` : ''}: the whole image is identical`, { skip, timeout: 5 * 60 * 1000 }, () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'random-oracle-'));
        try {
          const resetTimes = randomTree(path.join(dir, 'tree'), seed);
          const { ours, same } = compareWholeImage(suite, dir, `[Partition]\nType=root\nCopyFiles=${dir}/tree:/\nFormat=${format}\n${keys}\n`, env, resetTimes);
          assert.equal(ours.status, 0, ours.stderr);
          assert.ok(same, 'images differ');
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  });
}
