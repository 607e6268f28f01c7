/**
 * Reproducible btrfs: what makes our mkfs.btrfs give the same bytes run after run and host
 * after host. Native mkfs.btrfs cannot: it draws the device, chunk-tree and subvolume UUIDs from
 * the system's random source and stamps root items and new directories with time(NULL). Our
 * build asks the host for both (wasm/shim/repro.c): every UUID it generates is derived from the
 * file system UUID (itself derived from --seed, or set by UUID=) as systemd-repart derives its
 * own UUIDs, and its clock reads SOURCE_DATE_EPOCH when that is set.
 */
import type { FormatJob } from '../driver.js';
import { deriveUuid } from '../../plan/ids.js';
import { parseUuid, uuidHex } from '../../gpt/guid.js';
import { FsError } from '../../errors.js';

/** How many UUIDs mkfs.btrfs may ask for: device, chunk tree, top-level subvolume, one per
 * `--subvol`, with room to spare (running out fails the run, it never falls back to random). */
export function btrfsUuidCount(job: FormatJob): number {
  return 16 + 2 * job.subvolumes.length;
}

/**
 * The n-th UUID mkfs.btrfs generates is derive_uuid(fsUuid, "btrfs-uuid-<n>") (HMAC-SHA256
 * keyed with the file system UUID, as a v4 UUID). In btrfs-progs 6.14 the calls come in a
 * fixed order: device UUID, chunk-tree UUID, the top-level subvolume's, then one per --subvol.
 */
export function btrfsUuids(job: FormatJob): string[] {
  const base = parseUuid(job.fsUuid);
  if (!base) throw new FsError('E_FS', `not a UUID: ${job.fsUuid}`, { file: job.definitionFile, key: 'UUID' });
  const out: string[] = [];
  for (let n = 0; n < btrfsUuidCount(job); n++) out.push(uuidHex(deriveUuid(base, `btrfs-uuid-${n}`)));
  return out;
}

/** The environment entries our mkfs.btrfs reads for this (wasm/shim/repro.c). SOURCE_DATE_EPOCH
 * is already in the tool's environment when the job has one (toolEnv). */
export function reproducibleEnv(job: FormatJob): Record<string, string> {
  return { REPART_TS_UUIDS: btrfsUuids(job).join(',') };
}
