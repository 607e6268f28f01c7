/**
 * --copy-from=IMAGE against the real systemd-repart 257 and 262: another image's partitions
 * (with their padding, UUIDs, labels and bytes) come first, the definitions after them; the
 * result is compared whole. Skipped without root or the oracle.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { referenceSkipReason, runOurs, runReference, type Suite } from '../helpers/reference.js';

const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';

function defs(dir: string, name: string, files: Record<string, string>): void {
  mkdirSync(path.join(dir, name), { recursive: true });
  for (const [n, c] of Object.entries(files)) writeFileSync(path.join(dir, name, n), c);
}

for (const suite of ['trixie', 'sid'] as Suite[]) {
  describe(`--copy-from vs systemd-repart (${suite})`, { skip: referenceSkipReason(suite) ?? false }, () => {
    const compat = suite === 'trixie' ? ['--compat=257'] : [];
    const both = (dir: string, args: string[], status = 0) => {
      const r = runReference(suite, [...args, 'ref.raw'], dir);
      const o = runOurs([...compat, '--quiet', ...args, 'ours.raw'], dir);
      assert.equal(r.status, status, r.stderr.slice(-1500));
      assert.equal(o.status, status, o.stderr);
      if (status !== 0) return;
      assert.equal(o.stdout.replaceAll('ours.raw', 'IMG'), r.stdout.replaceAll('ref.raw', 'IMG'), 'JSON');
      assert.ok(readFileSync(path.join(dir, 'ours.raw')).equals(readFileSync(path.join(dir, 'ref.raw'))), 'whole image');
    };

    it('an image with padding and an ESP, plus a new definition; then into 4096-byte sectors', () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-copyfrom-'));
      try {
        // the source: vfat ESP, a fixed-size root followed by free space, a labelled srv
        defs(dir, 'src', {
          '10-esp.conf': '[Partition]\nType=esp\nFormat=vfat\nSizeMinBytes=300M\nSizeMaxBytes=300M\n',
          '20-root.conf': '[Partition]\nType=root\nSizeMinBytes=12M\nSizeMaxBytes=12M\nPaddingMinBytes=3M\nPaddingMaxBytes=3M\n',
          '30-srv.conf': '[Partition]\nType=srv\nLabel=data\nSizeMinBytes=8M\nSizeMaxBytes=8M\nNoAuto=yes\n',
        });
        const mk = runReference(suite, ['--offline=yes', '--definitions=src', '--empty=create', '--size=400M', `--seed=${SEED}`, '--dry-run=no', 'src.raw'], dir);
        assert.equal(mk.status, 0, mk.stderr);
        defs(dir, 'more', { '50-home.conf': '[Partition]\nType=home\nSizeMinBytes=5M\n', '60-root.conf': '[Partition]\nType=root\nSizeMinBytes=6M\n' });
        const base = ['--offline=yes', '--copy-from=src.raw', '--definitions=more', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short', '--dry-run=no'];
        both(dir, base);
        rmSync(path.join(dir, 'ref.raw'));
        rmSync(path.join(dir, 'ours.raw'));
        both(dir, [...base, '--sector-size=4096']);
      } finally { rmSync(dir, { recursive: true, force: true }); }
    });

    it('a file without a partition table is refused', () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-copyfrom-'));
      try {
        writeFileSync(path.join(dir, 'plain.raw'), Buffer.alloc(1 << 20));
        defs(dir, 'more', { '50-home.conf': '[Partition]\nType=home\nSizeMinBytes=5M\n' });
        const args = ['--offline=yes', '--copy-from=plain.raw', '--definitions=more', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short', '--dry-run=no'];
        const r = runReference(suite, [...args, 'ref.raw'], dir);
        const o = runOurs([...compat, '--quiet', ...args, 'ours.raw'], dir);
        assert.notEqual(r.status, 0);
        assert.equal(o.status, r.status, `exit status (${o.stderr})`);
        assert.match(o.stderr, /Cannot copy from disk .*plain\.raw with no GPT disk label/);
      } finally { rmSync(dir, { recursive: true, force: true }); }
    });
  });
}
