/**
 * A hostile tree through both builders: owners past 65535, setuid and sticky modes, directories
 * and files without read or search bits, hard links
 * (of files, a FIFO and a symlink), a sparse file, deep nesting, awkward names, dangling and absolute symlinks, a FIFO, a device node,
 * xattrs on files, directories and symlinks. erofs and squashfs (257 and 262) and ext4 (262: its
 * hash seed is the UUID) must be byte-identical to systemd-repart's. A name that is not UTF-8 is
 * the one thing repart-ts refuses (README, "Hostile and broken inputs"). Needs root.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareWholeImage, referenceSkipReason, type Suite } from '../helpers/reference.js';

const env = { SOURCE_DATE_EPOCH: '1700000000' };

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
}

function makeTree(t: string): void {
  mkdirSync(path.join(t, 'a/b'), { recursive: true });
  writeFileSync(path.join(t, 'owned'), 'o');
  chownSync(path.join(t, 'owned'), 100000, 200000);
  writeFileSync(path.join(t, 'suid'), '#!/bin/sh\n');
  chmodSync(path.join(t, 'suid'), 0o4755);
  mkdirSync(path.join(t, 'sticky'));
  chmodSync(path.join(t, 'sticky'), 0o1777);
  mkdirSync(path.join(t, 'private'));
  chmodSync(path.join(t, 'private'), 0o700);
  // no read or search bits: root copies them all the same
  mkdirSync(path.join(t, 'locked/inner'), { recursive: true });
  writeFileSync(path.join(t, 'locked/inner/f'), 'deep');
  chmodSync(path.join(t, 'locked'), 0);
  mkdirSync(path.join(t, 'noexec'));
  writeFileSync(path.join(t, 'noexec/g'), 'g');
  chmodSync(path.join(t, 'noexec'), 0o600);
  writeFileSync(path.join(t, 'unreadable'), 'u');
  chmodSync(path.join(t, 'unreadable'), 0);
  writeFileSync(path.join(t, 'a/h1'), 'hard');
  linkSync(path.join(t, 'a/h1'), path.join(t, 'a/b/h2'));
  linkSync(path.join(t, 'a/h1'), path.join(t, 'h3'));
  writeFileSync(path.join(t, 'sparse'), 'x'.repeat(4096));
  sh('truncate', ['-s', String(1 << 20), path.join(t, 'sparse')]);
  sh('sh', ['-c', `printf yyyyyyyyyy >> '${path.join(t, 'sparse')}'`]);
  mkdirSync(path.join(t, 'empty'));
  const deep = path.join(t, 'deep', ...Array.from({ length: 20 }, (_, i) => `d${i}`));
  mkdirSync(deep, { recursive: true });
  writeFileSync(path.join(deep, 'leaf'), 'leaf');
  writeFileSync(path.join(t, 'new\nline'), 'n');
  writeFileSync(path.join(t, 'back\\slash'), 'b');
  writeFileSync(path.join(t, 'L'.repeat(255)), 'l');
  symlinkSync('a', path.join(t, 'link-to-dir'));
  symlinkSync('nowhere', path.join(t, 'dangling'));
  symlinkSync('/etc/passwd', path.join(t, 'abs'));
  sh('mkfifo', [path.join(t, 'fifo')]);
  // a hard-linked FIFO stays one inode; a hard-linked symlink becomes two symlinks, each with
  // the target (systemd-repart's copy links FIFOs, devices and files, and recreates symlinks)
  linkSync(path.join(t, 'fifo'), path.join(t, 'a/fifo2'));
  symlinkSync('a/h1', path.join(t, 'sym1'));
  linkSync(path.join(t, 'sym1'), path.join(t, 'a/b/sym2'));
  sh('mknod', [path.join(t, 'chr'), 'c', '1', '3']);
  writeFileSync(path.join(t, 'zero'), '');
  writeFileSync(path.join(t, 'b4096'), 'z'.repeat(4096));
  writeFileSync(path.join(t, 'b4097'), 'z'.repeat(4097));
  sh('setfattr', ['-n', 'user.k', '-v', 'v1', path.join(t, 'owned')]);
  sh('setfattr', ['-n', 'user.dir', '-v', 'dv', path.join(t, 'a')]);
  sh('setfattr', ['-n', 'security.capability', '-v', '0x0100000200200000000000000000000000000000', path.join(t, 'suid')]);
  sh('setfattr', ['-h', '-n', 'trusted.t', '-v', 'tv', path.join(t, 'abs')]);
}


for (const suite of ['trixie', 'sid'] as Suite[]) {
  const skip = referenceSkipReason(suite) ?? (spawnSync('setfattr', ['--version']).status !== 0 ? 'setfattr (package attr) is not installed' : false);
  describe(`a hostile tree vs systemd-repart (${suite})`, () => {
    const cases: [string, string][] = [
      ['erofs', 'Format=erofs\nMinimize=best'],
      ['squashfs', 'Format=squashfs\nMinimize=best'],
      ...(suite === 'sid' ? [['ext4', 'Format=ext4\nSizeMinBytes=64M'] as [string, string]] : []),
    ];
    for (const [fmt, keys] of cases) {
      it(`${fmt}: the whole image is identical`, { skip }, () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'rich-oracle-'));
        try {
          makeTree(path.join(dir, 'tree'));
          const { ours, same } = compareWholeImage(suite, dir, `[Partition]\nType=root\nCopyFiles=${dir}/tree:/\n${keys}\n`, env);
          assert.equal(ours.status, 0, ours.stderr);
          assert.ok(same, 'images differ');
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
    it('a name that is not UTF-8: systemd-repart copies it, repart-ts refuses with the name (no image)', { skip }, () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'rich-oracle-'));
      try {
        mkdirSync(path.join(dir, 'tree'));
        writeFileSync(Buffer.concat([Buffer.from(path.join(dir, 'tree') + '/bad'), Buffer.from([0xff])]), 'x');
        const { ours } = compareWholeImage(suite, dir, `[Partition]\nType=root\nCopyFiles=${dir}/tree:/\nFormat=erofs\nMinimize=best\n`, env);
        assert.notEqual(ours.status, 0);
        assert.match(ours.stderr, /tree\/bad\\xff: the name is not valid UTF-8/);
        assert.equal(spawnSync('test', ['-e', path.join(dir, 'ours.raw')]).status, 1, 'no image');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
