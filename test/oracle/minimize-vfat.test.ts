/**
 * vfat Minimize=guess against systemd-repart itself (262: sid, 257: trixie): repart sizes it by a
 * first build in a 1 TiB sparse file (1.5 × the bytes written there, plan/minimize/vfat.ts
 * vfatRepartGuess); repart-ts computes that size and must put the same partition in the table —
 * JSON and GPT equal (and the whole image, where the vfat bytes are comparable) — for TEST-58's `minimize` content, 4096- and
 * 512-byte file system sectors, and trees with many files, hard links, deep and long-named
 * directories. The siblings repart cannot minimize in place: swap with Minimize=guess (its
 * minimum, 10 MiB), and no Format= with Minimize= (refused by both).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { referenceSkipReason, runOurs, runReference, type Suite } from '../helpers/reference.js';
import { guessTrees, noise } from '../helpers/minimize-trees.js';

const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';
const EPOCH = '1700000000';
// under /var/tmp: the reference sees only the directories it binds
const work = fs.mkdtempSync('/var/tmp/minimize-vfat-oracle-');
after(() => fs.rmSync(work, { recursive: true, force: true }));

interface Case {
  name: string;
  make: (d: string) => void;
  extra?: string;
  target?: string;
  /** one entry per directory: the file system bytes are comparable too (with 262: 257 stamps the
   * directories it makes with the clock; and repart leaves the order within a directory to
   * readdir() of its staging directory, hash order on ext4, which no other program reproduces) */
  sameBytes?: boolean;
}

const cases: Case[] = [
  // TEST-58 `minimize`: CopyFiles= without a target copies to the same path, so the probe holds
  // one cluster per parent directory too
  { name: 'TEST-58 minimize content', make: (d) => fs.writeFileSync(path.join(d, 'hello'), 'hello\n'), target: '', sameBytes: true },
  { name: '512-byte file system sectors', make: (d) => fs.writeFileSync(path.join(d, 'hello'), 'hello\n'), extra: 'FileSystemSectorSize=512\n', sameBytes: true },
  { name: 'empty tree, a label', make: () => {}, extra: 'Label=ESP-with-a-long-label\n', sameBytes: true },
  {
    name: 'long names and a full directory',
    make: (d) => {
      fs.mkdirSync(path.join(d, 'a directory with a rather long name, more than 64 characters in all'));
      for (let i = 0; i < 700; i++) fs.writeFileSync(path.join(d, 'a directory with a rather long name, more than 64 characters in all', `file number ${i} with a long name.txt`), noise(i * 37, i));
    },
  },
  ...guessTrees.filter((t) => !t.repartFails).map((t) => ({ name: t.name, make: t.make })),
];

function setup(c: Case): { dir: string; tree: string } {
  const dir = path.join(work, c.name.replace(/[^a-z0-9]+/gi, '-'));
  const tree = path.join(dir, 'tree');
  fs.mkdirSync(tree, { recursive: true });
  c.make(tree);
  fs.mkdirSync(path.join(dir, 'defs'));
  const copy = c.target === undefined ? `${tree}:/` : tree;
  fs.writeFileSync(path.join(dir, 'defs/10-root.conf'), `[Partition]\nType=root\nFormat=vfat\nMinimize=guess\nCopyFiles=${copy}\n${c.extra ?? ''}`);
  fs.writeFileSync(path.join(dir, 'defs/20-home.conf'), '[Partition]\nType=home\nSizeMinBytes=1M\n');
  return { dir, tree };
}

const ARGS = ['--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short', '--dry-run=no'];

function both(suite: Suite, dir: string, tree: string): { ref: string; ours: string; rows: { offset: number; raw_size: number }[] } {
  const env = { SOURCE_DATE_EPOCH: EPOCH };
  const r = runReference(suite, [...ARGS, 'ref.raw'], dir, { ...env, REFERENCE_BIND: tree });
  assert.equal(r.status, 0, r.stderr);
  const o = runOurs([...(suite === 'trixie' ? ['--compat=257'] : []), '--quiet', ...ARGS, 'ours.raw'], dir, env);
  assert.equal(o.status, 0, o.stderr);
  assert.doesNotMatch(o.stderr, /Minimize= model was/, 'the size was short: a second pass was needed');
  const norm = (s: string, n: string) => JSON.parse(s.replaceAll(n, 'IMG')) as { offset: number; raw_size: number }[];
  const rows = norm(o.stdout, 'ours.raw');
  assert.deepEqual(rows, norm(r.stdout, 'ref.raw'), 'JSON (partition sizes)');
  return { ref: path.join(dir, 'ref.raw'), ours: path.join(dir, 'ours.raw'), rows };
}

function fsckFat(image: string, offset: number, size: number): void {
  const part = image + '.part';
  fs.writeFileSync(part, '');
  const fd = fs.openSync(image, 'r');
  const out = fs.openSync(part, 'w');
  try {
    const buf = Buffer.alloc(1 << 20);
    for (let pos = 0; pos < size; pos += buf.length) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, size - pos), offset + pos);
      fs.writeSync(out, buf, 0, n);
    }
  } finally { fs.closeSync(fd); fs.closeSync(out); }
  const r = spawnSync('fsck.fat', ['-n', part], { encoding: 'utf8' });
  fs.rmSync(part, { force: true });
  assert.equal(r.status, 0, `fsck.fat -n:\n${r.stdout}${r.stderr}`);
}

for (const suite of ['sid', 'trixie'] as Suite[]) {
  describe(`vfat Minimize=guess vs systemd-repart (${suite === 'sid' ? '262' : '257'})`, () => {
    const skip = referenceSkipReason(suite) ?? false;
    for (const c of cases) {
      const bytes = c.sameBytes && suite === 'sid';
      it(`${c.name}: the same partition table${bytes ? ', the whole image identical' : ''}, fsck.fat clean`, { skip, timeout: 10 * 60 * 1000 }, () => {
        const { dir, tree } = setup(c);
        try {
          const { ref, ours, rows } = both(suite, dir, tree);
          const a = fs.readFileSync(ref), b = fs.readFileSync(ours);
          assert.equal(b.length, a.length, 'image size');
          assert.ok(a.subarray(0, rows[0]!.offset).equals(b.subarray(0, rows[0]!.offset)), 'GPT head');
          assert.ok(a.subarray(a.length - 20480).equals(b.subarray(b.length - 20480)), 'GPT tail');
          if (bytes) assert.ok(a.equals(b), 'the whole image equals repart\'s');
          fsckFat(ours, rows[0]!.offset, rows[0]!.raw_size);
        } finally { fs.rmSync(dir, { recursive: true, force: true }); }
      });
    }

    it('swap with Minimize=guess: its minimum (10 MiB), as repart', { skip, timeout: 5 * 60 * 1000 }, () => {
      const dir = path.join(work, `swap-${suite}`);
      fs.mkdirSync(path.join(dir, 'defs'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'defs/10-swap.conf'), '[Partition]\nType=swap\nFormat=swap\nMinimize=guess\n');
      try {
        const { ref, ours, rows } = both(suite, dir, dir);
        assert.equal(rows[0]!.raw_size, 10 * 1024 * 1024);
        assert.ok(fs.readFileSync(ref).equals(fs.readFileSync(ours)), 'the whole image equals repart\'s');
      } finally { fs.rmSync(dir, { recursive: true, force: true }); }
    });

    it('Minimize=guess without Format= (and with Format=empty): refused by both, exit 1', { skip, timeout: 5 * 60 * 1000 }, () => {
      for (const format of ['', 'Format=empty\n']) {
        const dir = path.join(work, `noformat-${suite}`);
        fs.mkdirSync(path.join(dir, 'defs'), { recursive: true });
        fs.writeFileSync(path.join(dir, 'defs/10-home.conf'), `[Partition]\nType=home\n${format}Minimize=guess\n`);
        try {
          const r = runReference(suite, [...ARGS, 'ref.raw'], dir, { SOURCE_DATE_EPOCH: EPOCH });
          const o = runOurs([...(suite === 'trixie' ? ['--compat=257'] : []), ...ARGS, 'ours.raw'], dir, { SOURCE_DATE_EPOCH: EPOCH });
          assert.equal(r.status, 1, r.stderr);
          assert.equal(o.status, r.status, o.stderr);
          assert.match(o.stderr, /Minimize= can only be enabled if Format= or Verity=hash are set/);
          assert.equal(fs.existsSync(path.join(dir, 'ours.raw')), fs.existsSync(path.join(dir, 'ref.raw')));
        } finally { fs.rmSync(dir, { recursive: true, force: true }); }
      }
    });
  });
}
