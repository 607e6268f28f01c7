/**
 * What a build is asked to do (the command line as data) and what it reports back. The CLI maps
 * argv to a BuildRequest; library users build one directly (every field but `device` has the
 * command line's default through `buildRequest()`).
 */
import type { CliOptions } from '../config/cli.js';
import type { Compat } from '../compat.js';
import type { FormatEvents, FormatJob, FormatOutcome, FormatProgress } from '../fs/driver.js';
import type { PartitionRow } from '../report/json.js';
import type { Plan } from '../plan/plan.js';

export type Formatter = ((jobs: FormatJob[], events?: FormatEvents) => Promise<FormatOutcome[]>) & {
  /**
   * get ready for jobs of these formats (start workers, load drivers, compile tools) while the
   * tree is read; `workers`: how many jobs of them will run at once (default: one per core)
   */
  prewarm?: (formats: string[], compat: Compat, workers?: number) => void | Promise<void>;
};

/** Where a build's progress goes (the CLI draws bars on stderr); every member is optional. */
export interface ProgressSink {
  start?(id: string, label: string): void;
  update?(id: string, p: FormatProgress): void;
  finish?(id: string): void;
}

/** The command line's options that shape a build (no --help/--version/--json/--pretty: printing is the caller's). */
export type BuildOptions = Omit<CliOptions, 'help' | 'version' | 'warnings' | 'json' | 'pretty' | 'noPager' | 'noLegend' | 'quiet' | 'progress'>;

export interface BuildRequest extends BuildOptions {
  /** SOURCE_DATE_EPOCH in seconds: file times, and the "now" of every file system */
  sourceDateEpoch?: number;
  /** the environment the run was started in: fakeroot detection, REPART_TS_OWNERS (src/tree/owners.ts); default process.env */
  env?: NodeJS.ProcessEnv;
  /** the build's single "now" in milliseconds (default: read once from the clock at the start) */
  now?: number;
  /** random bytes for --seed=random and for the rare random UUID (default: node:crypto) */
  random?: (bytes: number) => Uint8Array;
  /** SYSTEMD_REPART_MKFS_OPTIONS_<FSTYPE> words, by Format= value */
  mkfsOptions?: Record<string, string[]>;
  /** runs the format jobs (default: in this thread; the CLI passes the worker pool) */
  formatter?: Formatter;
  /** every owner in the file systems becomes root (what `unshare --map-root-user fakeroot` gives nixpkgs) */
  mapOwnersToRoot?: boolean;
  /** files with equal bytes and metadata become hard links (src/tree/dedupe.ts) */
  dedupe?: boolean;
  /** warnings as they happen (they are also in the result) */
  onWarning?: (message: string) => void;
  progress?: ProgressSink;
}

/** Formatting passes per partition (bench/ reads them). */
export interface BuildStats {
  passes: number;
  partitions: { label: string; format?: string; minimize: string; passes: number; fsBytes: number; phases?: Record<string, number> }[];
  /** ms from the process's start to the build's start (Node start-up and imports) */
  startupMs?: number;
  /** ms per pipeline stage, in order of first run (a re-run after a re-layout adds to its entry) */
  stages?: { stage: string; ms: number; runs: number }[];
}

export interface BuildResult {
  /** the listing (what --json prints), in repart's order */
  rows: PartitionRow[];
  /** the final partition table; null when only an existing table was listed */
  plan: Plan | null;
  /** root hash (hex) by partition label, for verity partitions whose hash is known */
  rootHashes: Record<string, string>;
  /** split file by partition label (--split=yes) */
  splitPaths: Record<string, string>;
  /** files written: the image, split files, fstab, crypttab, layout picture */
  written: string[];
  warnings: string[];
  /** false when there was nothing to change ("No changes.") */
  changed: boolean;
  /** formatting passes, when the image was written */
  stats?: BuildStats;
  /** the size of the disk the table and bar are drawn for (the plan's, or the listed file's) */
  imageSize: bigint;
  /** device "-": the size --size=auto would give (repart prints "Automatically determined minimal disk image size as …") */
  minimalSize?: bigint;
}
