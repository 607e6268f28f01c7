/**
 * Minimize= through the command line: one formatting pass, the image no larger than the real
 * systemd-repart 257's Minimize=guess for the same definitions, fsck clean, and a tree that
 * cannot fit SizeMaxBytes= refused with the size it needs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from '../test-images/gen-tree.js';
import { referenceSkipReason, runOurs, runReference } from './helpers/reference.js';

const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';

function scratch(format: string, minimize: string, extra = ''): { dir: string; tree: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-min-'));
  const tree = path.join(dir, 'tree');
  generate('closure', tree, 5, 40 * 1024 * 1024, 1500);
  mkdirSync(path.join(dir, 'defs'));
  writeFileSync(path.join(dir, 'defs/root.conf'), `[Partition]\nType=root\nFormat=${format}\nCopyFiles=${tree}:/\nMinimize=${minimize}\n${extra}`);
  return { dir, tree };
}

for (const [format, minimize] of [['ext4', 'guess'], ['ext4', 'best'], ['vfat', 'guess'], ['btrfs', 'best']] as const) {
  test(`Minimize=${minimize} Format=${format}: one pass, fsck clean, no larger than systemd-repart 257's guess`, () => {
    const { dir } = scratch(format, minimize);
    try {
      const stats = path.join(dir, 'stats.json');
      const r = runOurs(['--compat=257', '--quiet', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short', 'ours.raw'], dir, { REPART_TS_STATS: stats, SOURCE_DATE_EPOCH: '1700000000' });
      assert.equal(r.status, 0, r.stderr);
      const part = JSON.parse(r.stdout)[0] as { offset: number; raw_size: number };
      const st = JSON.parse(readFileSync(stats, 'utf8'));
      assert.equal(st.passes, 1, 'one formatting pass');
      const fsBytes = st.partitions[0].fsBytes as number;
      assert.ok(fsBytes <= part.raw_size);
      // the file system alone (it may be smaller than its partition), for the checkers
      const part2 = path.join(dir, 'part.raw');
      spawnSync('dd', [`if=${path.join(dir, 'ours.raw')}`, `of=${part2}`, 'bs=4096', `skip=${part.offset / 4096}`, `count=${fsBytes / 4096}`, 'conv=sparse', 'status=none']);
      const checker = format === 'ext4' ? ['e2fsck', '-fn', part2] : format === 'vfat' ? ['fsck.fat', '-n', part2] : ['btrfs', 'check', '--readonly', part2];
      const c = spawnSync(checker[0]!, checker.slice(1), { encoding: 'utf8' });
      assert.equal(c.status, 0, c.stdout + c.stderr);
      const skip = referenceSkipReason('trixie');
      if (skip || minimize !== 'guess') return;
      const ref = runReference('trixie', ['--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short', 'ref.raw'], dir, { SOURCE_DATE_EPOCH: '1700000000', REFERENCE_BIND: dir });
      assert.equal(ref.status, 0, ref.stderr);
      const refPart = JSON.parse(ref.stdout)[0] as { raw_size: number };
      assert.ok(part.raw_size <= refPart.raw_size, `ours ${part.raw_size} > systemd-repart's ${refPart.raw_size}`);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
}

test('a tree that cannot fit SizeMaxBytes= is refused with the size it needs', () => {
  const { dir } = scratch('ext4', 'best', 'SizeMaxBytes=34M\n');
  try {
    const r = runOurs(['--quiet', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, 'ours.raw'], dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /defs\/root\.conf.*SizeMaxBytes=.*needs a [0-9.]+M \(\d+ bytes\) file system/);
    assert.ok(!existsSync(path.join(dir, 'ours.raw')), 'no image left behind');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('--dry-run with a verity pair over a minimized ext4: the plan shows the root hash and UUIDs the real run gives', () => {
  const { dir } = scratch('ext4', 'guess', 'Verity=data\nVerityMatchKey=r\n');
  try {
    writeFileSync(path.join(dir, 'defs/verity.conf'), '[Partition]\nType=root-verity\nVerity=hash\nVerityMatchKey=r\nMinimize=best\n');
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const base = ['--quiet', '--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--json=short'];
    writeFileSync(path.join(dir, 'dry.raw'), '');
    const dry = runOurs([...base, '--empty=force', '--size=auto', '--dry-run=yes', 'dry.raw'], dir, env);
    assert.equal(dry.status, 0, dry.stderr);
    assert.equal(readFileSync(path.join(dir, 'dry.raw')).length, 0, 'a dry run writes nothing');
    const real = runOurs([...base, '--empty=create', '--size=auto', 'real.raw'], dir, env);
    assert.equal(real.status, 0, real.stderr);
    const pick = (out: string) => (JSON.parse(out) as { uuid: string; roothash: string; raw_size: number }[]).map((r) => [r.uuid, r.roothash, r.raw_size]);
    assert.match(JSON.parse(dry.stdout)[0].roothash, /^[0-9a-f]{64}$/);
    assert.deepEqual(pick(dry.stdout), pick(real.stdout));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
