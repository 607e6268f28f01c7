/**
 * One interface for every Format=: a driver formats one partition window of the image file and
 * fills it from a SourceTree. Jobs are plain data so they can be posted to worker threads.
 */
import { asCompat, type Compat } from '../compat.js';
import type { AnyTree } from '../tree/packed.js';

export interface PartitionWindow {
  /** image file (the temporary file beside the target while building). */
  path: string;
  /** byte offset of the partition in the image. */
  offset: number;
  /** byte length of the partition; the driver must not touch bytes outside [offset, offset+size). */
  size: number;
}

export interface Subvolume {
  path: string;
  readOnly: boolean;
  nodatacow: boolean;
}

export interface FormatJob {
  /** Format= value: vfat, ext2, ext3, ext4, btrfs, swap, ... */
  format: string;
  window: PartitionWindow;
  /** the partition's GPT label; the driver mangles it per file system (formatting.md §2.1). */
  label: string;
  /** file system UUID, lowercase 8-4-4-4-12 (vfat uses its first 4 bytes as volume ID). */
  fsUuid: string;
  /** file system sector size (formatting.md §2.3). */
  sectorSize: number;
  /**
   * content; null when the partition is not populated. A job posted to a worker carries the
   * packed form when its driver reads the tree only through VirtualTree (pool.ts); drivers that
   * walk the objects take `objectTree(job.tree)`.
   */
  tree: AnyTree | null;
  /** SOURCE_DATE_EPOCH in seconds, if set. */
  sourceDateEpoch?: number;
  /** the build's single "now" in milliseconds (time stamps when SOURCE_DATE_EPOCH is not set; default: the clock) */
  now?: number;
  /** words of SYSTEMD_REPART_MKFS_OPTIONS_<FSTYPE>, appended to the tool's argv. */
  extraOptions: string[];
  discard: boolean;
  subvolumes: Subvolume[];
  defaultSubvolume?: string;
  compression?: string;
  compressionLevel?: string;
  /** the definition file, for error messages. */
  definitionFile: string;
  /** the systemd-repart behaviour to reproduce where mkfs arguments differ (default: 262's) */
  compat?: Compat;
  /** the same as a release number, for callers that have no record (read through jobCompat()) */
  systemdVersion?: number;
  /**
   * The caller guarantees the window reads as zeros (a freshly created sparse image). Lets the
   * drivers skip writing zeros where nothing was written, keeping the image sparse; discard
   * (punch) then costs nothing.
   */
  windowZeroed?: boolean;
  /**
   * The tree's host files opened as scanned by the main thread's read-ahead, for a tool that
   * opens every file once (mke2fs -d) to take instead of opening them again (src/fs/wasm/fd-handoff.ts).
   */
  openedSources?: SharedArrayBuffer;
}

export interface FormatOutcome {
  warnings: string[];
  /** how many times the tool formatted the window (1 normally; Minimize=best retries add). */
  passes: number;
  /**
   * Bytes of the window the file system occupies, from its start, for file systems that size
   * themselves (erofs, squashfs); the rest of the window is unused. Absent: the whole window.
   */
  usedBytes?: number;
  /** milliseconds by phase in the worker (src/fs/wasm/phases.ts), for bench/ */
  phases?: Record<string, number>;
  /** what the tool printed that systemd-repart shows (its child's output goes to repart's
   * stderr): mkfs.btrfs's summary. */
  toolOutput?: string;
}

export interface FormatProgress {
  files: number;
  bytes: number;
  totalFiles: number;
  totalBytes: number;
}

export interface FsDriver {
  readonly formats: readonly string[];
  format(job: FormatJob, progress?: (p: FormatProgress) => void): Promise<FormatOutcome>;
}

/** What the formatter reports per job (index into the jobs array) while it runs. */
export interface FormatEvents {
  start?(index: number): void;
  progress?(index: number, p: FormatProgress): void;
  done?(index: number, outcome: FormatOutcome): void;
}

/** The compat record a job asks for (`compat`, else `systemdVersion`, else 262). */
export function jobCompat(job: Pick<FormatJob, 'compat' | 'systemdVersion'>): Compat {
  return job.compat ?? asCompat(job.systemdVersion);
}

/** Seconds since the epoch for a job's time stamps: SOURCE_DATE_EPOCH, else the build's "now". */
export function jobNowSeconds(job: Pick<FormatJob, 'sourceDateEpoch' | 'now'>): number {
  return job.sourceDateEpoch ?? Math.floor((job.now ?? Date.now()) / 1000);
}
