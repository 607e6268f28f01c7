/**
 * --generate-fstab= / --append-fstab= against the real systemd-repart 257 and 262: the same
 * definitions (ESP, XBOOTLDR, root, /tmp, read-only /usr, a plain vfat, btrfs with two mount
 * points and options, erofs, squashfs, a partition without Format=) give the same fstab text.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { referenceSkipReason, runOurs, runReference, type Suite } from '../helpers/reference.js';

const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';

const DEFS: Record<string, string> = {
  '10-esp.conf': '[Partition]\nType=esp\nFormat=vfat\nMountPoint=/efi:umask=0077\nSizeMinBytes=300M\n',
  '15-xbootldr.conf': '[Partition]\nType=xbootldr\nFormat=vfat\nMountPoint=/boot\nSizeMinBytes=300M\n',
  '20-root.conf': '[Partition]\nType=root\nFormat=ext4\nMountPoint=/\nSizeMinBytes=40M\n',
  '25-usr.conf': '[Partition]\nType=usr\nFormat=squashfs\nCopyFiles=%DIR%/tree:/\nReadOnly=yes\nMountPoint=/usr\nSizeMinBytes=10M\n',
  '30-home.conf': '[Partition]\nType=home\nFormat=btrfs\nMountPoint=/home:compress=zstd\nMountPoint=/srv\nLabel=homes\nSizeMinBytes=300M\n',
  '35-tmp.conf': '[Partition]\nType=tmp\nFormat=ext4\nMountPoint=/tmp\nSizeMinBytes=40M\n',
  '40-data.conf': '[Partition]\nType=linux-generic\nFormat=vfat\nMountPoint=/data\nSizeMinBytes=40M\n',
  '45-opt.conf': '[Partition]\nType=linux-generic\nFormat=erofs\nCopyFiles=%DIR%/tree:/\nMountPoint=/opt\nSizeMinBytes=10M\n',
  '50-var.conf': '[Partition]\nType=var\nMountPoint=/var\nSizeMinBytes=10M\n',
  '60-swap.conf': '[Partition]\nType=swap\nSizeMinBytes=8M\n',
};

for (const suite of ['trixie', 'sid'] as Suite[]) {
  describe(`--generate-fstab vs systemd-repart (${suite})`, { skip: referenceSkipReason(suite) ?? false }, () => {
    const compat = suite === 'trixie' ? ['--compat=257'] : [];
    const setup = () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-fstab-'));
      mkdirSync(path.join(dir, 'defs'));
      mkdirSync(path.join(dir, 'tree'));
      writeFileSync(path.join(dir, 'tree/file'), 'x\n');
      for (const [n, c] of Object.entries(DEFS)) writeFileSync(path.join(dir, 'defs', n), c.replaceAll('%DIR%', dir));
      return dir;
    };
    const args = (extra: string[], img: string, fstab: string) => ['--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, '--dry-run=no', '--json=off', `--generate-fstab=${fstab}`, ...extra, img];

    it('the same fstab lines, header and options', () => {
      const dir = setup();
      try {
        const r = runReference(suite, args([], 'ref.raw', 'fstab.ref'), dir);
        assert.equal(r.status, 0, r.stderr);
        const o = runOurs([...compat, '--quiet', ...args([], 'ours.raw', 'fstab.ours')], dir);
        assert.equal(o.status, 0, o.stderr);
        const text = readFileSync(path.join(dir, 'fstab.ours'), 'utf8');
        assert.equal(text, readFileSync(path.join(dir, 'fstab.ref'), 'utf8'));
        assert.equal(text.split('\n').filter((l) => l.startsWith('UUID=')).length, 9, 'one line per MountPoint= of a formatted partition');
        // an existing file is not replaced unless --append-fstab= says how
        const again = runOurs([...compat, '--quiet', ...args([], 'ours2.raw', 'fstab.ours')], dir);
        assert.equal(again.status, 1);
        assert.equal(readFileSync(path.join(dir, 'fstab.ours'), 'utf8'), text);
      } finally { rmSync(dir, { recursive: true, force: true }); }
    });

    if (suite === 'sid') {
      for (const mode of ['auto', 'replace']) {
        it(`--append-fstab=${mode} with an existing file that has an older section`, () => {
          const dir = setup();
          try {
            const old = `# Start section ↓ of automatically generated fstab by systemd-repart\nUUID=0000 /old ext4 rw 0 2\n# End section ↑ of automatically generated fstab by systemd-repart\nproc /proc proc defaults 0 0\n# mine\n`;
            for (const f of ['fstab.ref', 'fstab.ours']) writeFileSync(path.join(dir, f), old);
            const r = runReference(suite, args([`--append-fstab=${mode}`], 'ref.raw', 'fstab.ref'), dir);
            assert.equal(r.status, 0, r.stderr);
            const o = runOurs(['--quiet', ...args([`--append-fstab=${mode}`], 'ours.raw', 'fstab.ours')], dir);
            assert.equal(o.status, 0, o.stderr);
            assert.equal(readFileSync(path.join(dir, 'fstab.ours'), 'utf8'), readFileSync(path.join(dir, 'fstab.ref'), 'utf8'));
            assert.ok(!existsSync(path.join(dir, 'fstab.ours.tmp')));
          } finally { rmSync(dir, { recursive: true, force: true }); }
        });
      }
    }
  });
}
