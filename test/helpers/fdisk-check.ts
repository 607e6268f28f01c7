/**
 * A four-partition image checked by sgdisk and sfdisk: offsets, sizes, UUIDs and labels as our
 * JSON says. Debian 12's sfdisk/sgdisk cannot be told the sector size of an image file, so
 * 4096-byte images are checked with the sfdisk of the reference tree (util-linux 2.41), in the
 * oracle tier.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { runOurs, runReference } from './reference.js';

function sfdiskJson(dir: string, ss: number): { status: number; stdout: string; stderr: string } {
  if (ss === 512) return spawnSync('sfdisk', ['-J', 'disk.raw'], { cwd: dir, encoding: 'utf8' }) as { status: number; stdout: string; stderr: string };
  return runReference('trixie', ['--exec', 'sfdisk', '--sector-size=4096', '-J', 'disk.raw'], dir);
}
function sfdiskVerify(dir: string, ss: number): { status: number; stdout: string; stderr: string } {
  if (ss === 512) return spawnSync('sfdisk', ['-V', 'disk.raw'], { cwd: dir, encoding: 'utf8' }) as { status: number; stdout: string; stderr: string };
  return runReference('trixie', ['--exec', 'sfdisk', '--sector-size=4096', '-V', 'disk.raw'], dir);
}

export function checkTableWithFdisk(scratch: (files: Record<string, string>) => string, base: string[], ss: number): void {
  const dir = scratch({
    'defs/00-esp.conf': '[Partition]\nType=esp\nSizeMinBytes=20M\nSizeMaxBytes=20M\n',
    'defs/10-root.conf': '[Partition]\nType=root\nLabel=nixos\nSizeMinBytes=40M\n',
    'defs/20-swap.conf': '[Partition]\nType=swap\nSizeMaxBytes=16M\n',
    'defs/30-home.conf': '[Partition]\nType=home\nPaddingMinBytes=1M\nWeight=2000\n',
  });
  try {
    const r = runOurs([...base, '--size=300M', `--sector-size=${ss}`, '--json=short', 'disk.raw'], dir);
    assert.equal(r.status, 0, r.stderr);
    const ours = JSON.parse(r.stdout) as { uuid: string; offset: number; raw_size: number; label: string }[];
    if (ss === 512) {
      const v = spawnSync('sgdisk', ['-v', 'disk.raw'], { cwd: dir, encoding: 'utf8' });
      assert.match(v.stdout, /No problems found/);
    }
    const ver = sfdiskVerify(dir, ss);
    assert.equal(ver.status, 0, ver.stdout + ver.stderr);
    const j = sfdiskJson(dir, ss);
    assert.equal(j.status, 0, j.stderr);
    const pt = JSON.parse(j.stdout).partitiontable;
    assert.equal(pt.label, 'gpt');
    assert.equal(pt.sectorsize, ss);
    assert.equal(pt.partitions.length, 4);
    pt.partitions.forEach((p: { start: number; size: number; uuid: string; name: string }, i: number) => {
      assert.equal(p.start * ss, ours[i]!.offset);
      assert.equal(p.size * ss, ours[i]!.raw_size);
      assert.equal(p.uuid.toLowerCase(), ours[i]!.uuid);
      assert.equal(p.name, ours[i]!.label);
    });
    // the swap partition carries a mkswap header that blkid recognises
    const b = spawnSync('blkid', ['-p', '-O', String(ours[2]!.offset), '-o', 'export', 'disk.raw'], { cwd: dir, encoding: 'utf8' });
    if (b.status === 0) assert.match(b.stdout, /TYPE="?swap/);
    assert.deepEqual(readdirSync(dir).sort(), ['defs', 'disk.raw'], 'no temporary files left');
  } finally { rmSync(dir, { recursive: true, force: true }); }
}
