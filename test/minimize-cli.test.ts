/**
 * Minimize= through the command line: one formatting pass, fsck clean, and a tree that cannot
 * fit SizeMaxBytes= refused with the size it needs (the comparison of sizes with the real
 * systemd-repart is in test/oracle/minimize-cli.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runOurs } from './helpers/reference.js';
import { minimizeScratch as scratch, SEED } from './helpers/minimize-scratch.js';



for (const [format, minimize] of [['ext4', 'guess'], ['ext4', 'best'], ['vfat', 'guess'], ['btrfs', 'best']] as const) {
  test(`Minimize=${minimize} Format=${format}: one pass, fsck clean`, () => {
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
