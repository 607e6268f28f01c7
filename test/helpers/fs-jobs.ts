/**
 * Format jobs and scratch images shared by a driver's fast-tier tests and its comparisons with
 * the native tool in the oracle tier (test/oracle/*-native.test.ts).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FormatJob } from '../../src/fs/driver.js';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
export const EXT4_UUID = '5e0c3a41-8e0f-4a8b-9d52-3f6a1c2b7e90';
export const BTRFS_UUID = '7d0b9c3e-54a1-4c2f-8e6d-1b2a3c4d5e6f';
export const EPOCH = 1700000000;

export function ext4Job(over: Partial<FormatJob> & Pick<FormatJob, 'window'>): FormatJob {
  return {
    format: 'ext4', label: 'root-x86-64', fsUuid: EXT4_UUID, sectorSize: 4096, tree: null, sourceDateEpoch: EPOCH,
    extraOptions: [], discard: true, subvolumes: [], definitionFile: '/etc/repart.d/10-root.conf', windowZeroed: true, ...over,
  };
}

export function btrfsJob(over: Partial<FormatJob> & Pick<FormatJob, 'window'>): FormatJob {
  return {
    format: 'btrfs', label: 'home', fsUuid: BTRFS_UUID, sectorSize: 512, tree: null, sourceDateEpoch: EPOCH,
    extraOptions: [], discard: true, subvolumes: [], definitionFile: '/etc/repart.d/20-home.conf', windowZeroed: true, ...over,
  };
}

export const BTRFS_SUBVOLS = [
  { path: '/usr', readOnly: false, nodatacow: false },
  { path: '/private', readOnly: true, nodatacow: false },
];

/** A new sparse file of `size` bytes in `dir`. */
export function sparseImage(dir: string, name: string, size: number): string {
  const p = path.join(dir, name);
  fs.rmSync(p, { force: true });
  fs.writeFileSync(p, '');
  fs.truncateSync(p, size);
  return p;
}

/** A sparse file of `size` bytes with `runs` of data ([offset, bytes]) and holes between. */
export function writeSparseFile(p: string, size: number, runs: [number, Uint8Array][]): void {
  const fd = fs.openSync(p, 'w');
  try {
    fs.ftruncateSync(fd, size);
    for (const [at, b] of runs) fs.writeSync(fd, b, 0, b.length, at);
  } finally {
    fs.closeSync(fd);
  }
}

/** The btrfs superblock fields that do not depend on tree layout, times or random UUIDs. */
export const btrfsSuperOf = (p: string) =>
  execFileSync('btrfs', ['inspect-internal', 'dump-super', p], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => /^(fsid|label|sectorsize|nodesize|stripesize|flags|magic|incompat_flags|compat_flags|compat_ro_flags|csum_type|num_devices|root_level|chunk_root_level|metadata_uuid|total_bytes|dev_item\.total_bytes)\s/.test(l))
    .join('\n');
