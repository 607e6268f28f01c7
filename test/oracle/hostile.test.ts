/**
 * Hostile inputs (issue 15, items 6–13) where systemd-repart 262 accepts them or refuses them
 * with a message of its own: the same outcome through both. Needs root and the sid reference
 * tree; skips with the reason otherwise.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { referenceSkipReason, runOurs, runReference } from '../helpers/reference.js';

const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';
const EPOCH = '1700000000';
const skip = referenceSkipReason('sid') ?? false;
const hasDebugfs = spawnSync('debugfs', ['-V']).status === 0;

function scratch(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'hostile-oracle-'));
}

function conf(dir: string, name: string, body: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name), `[Partition]\n${body}\n`);
}

/** Every path of an ext4 image's tree with its type and size (debugfs ls -p, recursively). */
function ext4Tree(image: string, offset: number, size: number): string[] {
  const part = `${image}.p1`;
  spawnSync('dd', [`if=${image}`, `of=${part}`, 'bs=1M', `skip=${offset >> 20}`, `count=${size >> 20}`, 'status=none']);
  const out: string[] = [];
  const walk = (dir: string): void => {
    const r = spawnSync('debugfs', ['-R', `ls -p ${dir}`, part], { encoding: 'utf8' });
    for (const line of r.stdout.split('\n')) {
      const f = line.split('/');
      if (f.length < 7) continue;
      const [, , mode, , , name, sz] = f;
      if (name === '.' || name === '..' || name === 'lost+found') continue;
      const p = (dir === '/' ? '' : dir) + '/' + name;
      out.push(`${p} ${mode!.slice(0, -4)} ${sz}`);
      if (mode!.startsWith('40')) walk(p);
    }
  };
  walk('/');
  return out.sort();
}

describe('hostile inputs against systemd-repart 262', { skip }, () => {
  test('leading /.. in targets is clamped, other .. ignored with the same warning', { skip: hasDebugfs ? false : 'no debugfs', timeout: 600_000 }, () => {
    const dir = scratch();
    try {
      mkdirSync(path.join(dir, 'src/d'), { recursive: true });
      mkdirSync(path.join(dir, 'src/e'), { recursive: true });
      writeFileSync(path.join(dir, 'src/d/x'), 'hi\n');
      writeFileSync(path.join(dir, 'src/e/y'), 'y\n');
      writeFileSync(path.join(dir, 'src/x'), 'z\n');
      conf(path.join(dir, 'd'), '10.conf', [
        'Type=root', 'Format=ext4', 'SizeMinBytes=64M',
        'CopyFiles=/x:/../../z', 'CopyFiles=/e:/../e2', 'CopyFiles=/x://a', 'CopyFiles=/x:/b/./c', 'CopyFiles=/x:/q/../r', 'CopyFiles=/..:/up',
        'ExcludeFiles=/../d/x', 'ExcludeFilesTarget=/../../e2/y',
        'MakeDirectories=/../md //md2 /md3/./x /c/', 'MakeSymlinks=/../ms:/target /m/:/t', 'MakeDirectories=/a/../b',
      ].join('\n'));
      const args = ['--offline=yes', '--definitions=d', '--copy-source=src', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short'];
      const ref = runReference('sid', [...args, 'ref.img'], dir, { SOURCE_DATE_EPOCH: EPOCH });
      assert.equal(ref.status, 0, ref.stderr);
      const ours = runOurs([...args, 'ours.img'], dir, { SOURCE_DATE_EPOCH: EPOCH });
      assert.equal(ours.status, 0, ours.stderr);
      for (const w of ['CopyFiles= path is not normalized, ignoring: /q/../r', 'MakeDirectories= path is not normalized, ignoring: /a/../b']) {
        assert.ok(ref.stderr.includes(w), `262 says: ${w}`);
        assert.ok(ours.stderr.includes(w), `repart-ts says: ${w}\n${ours.stderr}`);
      }
      const p = (JSON.parse(ref.stdout) as { offset: number; raw_size: number }[])[0]!;
      const refTree = ext4Tree(path.join(dir, 'ref.img'), p.offset, p.raw_size);
      assert.ok(refTree.includes('/z 10 2'), refTree.join('\n'));
      assert.deepEqual(ext4Tree(path.join(dir, 'ours.img'), p.offset, p.raw_size), refTree);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--root=: CopyBlocks=, definition and machine-id links resolved inside the root', { timeout: 600_000 }, () => {
    const dir = scratch();
    try {
      const R = path.join(dir, 'R');
      mkdirSync(path.join(R, 'etc'), { recursive: true });
      mkdirSync(path.join(R, 'usr/lib/repart.d'), { recursive: true });
      mkdirSync(path.join(R, 'defs'));
      writeFileSync(path.join(R, 'blkdata'), Buffer.alloc(8192, 0x52));
      symlinkSync('/blkdata', path.join(R, 'blk'));
      writeFileSync(path.join(R, 'defs/a.conf'), '[Partition]\nType=linux-generic\nCopyBlocks=/blk\n');
      symlinkSync('/defs/a.conf', path.join(R, 'usr/lib/repart.d/10.conf'));
      writeFileSync(path.join(R, 'etc/mid'), '0123456789abcdef0123456789abcdef\n');
      symlinkSync('/etc/mid', path.join(R, 'etc/machine-id'));
      const args = ['--offline=yes', '--root=R', '--empty=create', '--size=auto', '--json=short'];
      const ref = runReference('sid', [...args, 'ref.img'], dir);
      assert.equal(ref.status, 0, ref.stderr);
      const ours = runOurs([...args, 'ours.img'], dir);
      assert.equal(ours.status, 0, ours.stderr);
      const row = (s: string) => (JSON.parse(s) as { uuid: string; raw_size: number; offset: number }[])[0]!;
      assert.equal(row(ours.stdout).uuid, row(ref.stdout).uuid, 'partition UUID from the root\'s machine-id');
      assert.equal(row(ours.stdout).raw_size, row(ref.stdout).raw_size);
      const off = row(ref.stdout).offset;
      const bytes = (f: string) => readFileSync(path.join(dir, f)).subarray(off, off + 8192);
      assert.deepEqual(bytes('ours.img'), bytes('ref.img'));
      assert.ok(bytes('ours.img').every((b) => b === 0x52));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('CopyBlocks= a FIFO and an empty file: refused with 262\'s messages', { timeout: 300_000 }, () => {
    const dir = scratch();
    try {
      spawnSync('mkfifo', [path.join(dir, 'fifo')]);
      writeFileSync(path.join(dir, 'empty'), '');
      for (const [src, msg] of [['fifo', /Specified path to copy blocks from '.*\/fifo' is not a regular file, block device or directory, refusing/], ['empty', /File to copy bytes from '.*\/empty' has zero size, refusing\./]] as const) {
        conf(path.join(dir, 'd'), '10.conf', `Type=linux-generic\nCopyBlocks=${dir}/${src}`);
        const args = ['--offline=yes', '--definitions=d', '--empty=create', '--size=auto', '--json=off'];
        const ref = runReference('sid', [...args, `ref-${src}.img`], dir);
        const ours = runOurs([...args, `ours-${src}.img`], dir);
        assert.equal(ref.status, 1, ref.stderr);
        assert.equal(ours.status, ref.status, ours.stderr);
        assert.match(ref.stderr, msg);
        assert.match(ours.stderr, msg);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a line over 1 MiB: "Line too long" at the same file:line', { timeout: 300_000 }, () => {
    const dir = scratch();
    try {
      conf(path.join(dir, 'd'), '10.conf', `Type=linux-generic\nLabel=${'x'.repeat(2_000_000)}`);
      const args = ['--offline=yes', '--definitions=d', '--empty=create', '--size=auto', '--json=off'];
      const ref = runReference('sid', [...args, 'ref.img'], dir);
      const ours = runOurs([...args, 'ours.img'], dir);
      assert.equal(ref.status, 1);
      assert.equal(ours.status, 1);
      const where = /(\d+\.conf:\d+): Line too long/;
      assert.equal(where.exec(ours.stderr)?.[1], where.exec(ref.stderr)?.[1], `${ref.stderr}\n${ours.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
