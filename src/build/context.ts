/**
 * The one typed context every build stage reads and writes (as systemd-repart's `Context`), and
 * one PartitionState record per definition instead of parallel maps keyed by index.
 *
 * Stages replace `plan` as a whole (never edit its entries); the partition states carry what is
 * learnt about each partition as the stages run.
 */
import type { CliInputs } from '../io/cli-inputs.js';
import type { Compat } from '../compat.js';
import type { FormatOutcome } from '../fs/driver.js';
import type { PartitionDefinition } from '../config/definition.js';
import type { Uuid } from '../gpt/guid.js';
import type { BlockSource } from '../image/build.js';
import type { ImageWriter } from '../image/build.js';
import type { ExistingPartition, ExistingTable } from '../plan/existing.js';
import type { Plan, PlannedPartition } from '../plan/plan.js';
import type { AnyTree } from '../tree/packed.js';
import type { VeritySigner } from '../verity/signature.js';
import type { BuildRequest, BuildStats } from './request.js';
import type { PartitionRow } from '../report/json.js';
import type { ReadGpt } from '../gpt/table.js';
import type { X509Certificate } from 'node:crypto';

/** Where a partition's file system size came from. */
export type FsSizeSource =
  | 'model' // Minimize= model (ext4, btrfs 257, vfat …)
  | 'provisional' // erofs/squashfs/btrfs --shrink before formatting: an upper bound
  | 'measured'; // what a self-sizing tool used

export interface VerityHashRole {
  /** the Verity=data sibling */
  data: PartitionState;
  /** Minimize= on the hash partition: the bytes of the data partition that are hashed */
  hashedBytes?: bigint;
}

export interface PartitionState {
  /** definition index: the entry in plan.partitions */
  readonly index: number;
  readonly def: PartitionDefinition;
  /** incremental mode: the existing partition this definition took over */
  readonly existing?: ExistingPartition;
  /** the label (existing, Label=, or derived) */
  label: string;
  /** --defer-partitions= & co. apply to the definition (only new partitions are deferred) */
  deferredByOptions: boolean;
  /** the virtual source tree (undefined: not needed, null: nothing to copy) */
  tree?: AnyTree | null;
  /** CopyBlocks= file or --copy-from= partition copied into the partition */
  blocks?: BlockSource;
  /** what the allocator must fit besides the definition's bounds: a CopyBlocks= source or a verity hash tree */
  blocksSize?: bigint;
  /** the file system size when it is smaller than the partition (Minimize=) */
  fsSize?: bigint;
  fsSizeSource?: FsSizeSource;
  /** mkfs options the Minimize= model depends on (ext: -N where the default inode ratio cannot hold the tree) */
  modelMkfsOptions?: string[];
  /** the file system sizes itself (erofs, squashfs, btrfs --shrink with Minimize=) */
  selfSized: boolean;
  /** Verity=hash: its data sibling and how much of it is hashed */
  verityHash?: VerityHashRole;
  /** root hash (hex), once known (data, hash and signature partitions of one pair) */
  rootHash?: string;
  /** a dry run's root hash computed from a scratch copy, applied after planning */
  dryRunRootHash?: Uint8Array;
  /** this partition's entry in ctx.plan (refreshed whenever the plan is replaced) */
  placed?: PlannedPartition;
  /** --split=yes: the split file */
  splitPath?: string;
  /** formatting passes outside the final write (measurements, retries) */
  extraPasses: number;
  /** what formatting it in the image reported */
  formatted?: FormatOutcome;
}

export interface BuildContext {
  readonly request: BuildRequest;
  readonly compat: Compat;
  /** the build's single "now" (ms since the epoch) */
  readonly now: number;
  readonly random: (bytes: number) => Uint8Array;
  readonly device: string;
  warn(message: string): void;
  warnings: string[];
  written: string[];

  definitions: PartitionDefinition[];
  partitions: PartitionState[];
  /** what the device holds now */
  deviceExists: boolean;
  deviceSize: bigint;
  gpt: ReadGpt | null;
  table?: ExistingTable;
  seed: Uuid;
  sectorSize: number;
  fsSectorSize: number;
  grain: bigint;
  /** the image size asked for: 'auto', or at least the file's size */
  size: 'auto' | bigint;
  /** JSON node and split files: the device as given (--empty=create) or its absolute path */
  nodeBase: string;

  plan?: Plan;
  /** something is new or resized (context_changed()) */
  changed: boolean;
  /** --key-file=, --private-key=, --certificate= contents, read first (io/cli-inputs.ts) */
  inputs?: CliInputs;
  signer?: VeritySigner;
  joinCertificate?: X509Certificate;
  /** the temporary image while it is written */
  image?: ImageWriter;
  /** write attempts so far (re-layouts and no-space retries are bounded) */
  attempts: number;
  stats?: BuildStats;
  /** ms per stage (pipeline.ts), for the stats */
  timings?: { stage: string; ms: number; runs: number }[];
  rows?: PartitionRow[];
  /** set by a stage that ends the build early (listing an existing table) */
  done?: boolean;
  /** device "-": only the automatically determined size is wanted */
  minimalSize?: bigint;
  /** volume keys of the partitions encrypted in this run (crypttab's fixate-volume-key=) */
  volumeKeys?: Map<PlannedPartition, Uint8Array>;
}

/** The stage's verdict: go on, or lay out again from the `plan` stage (bounded). */
export type StageResult = void | { next: 'replan' };

export interface Stage {
  readonly name: string;
  /** the stage runs only when this holds (dry run, nothing changed …) */
  readonly when?: (ctx: BuildContext) => boolean;
  run(ctx: BuildContext): Promise<StageResult> | StageResult;
}

/**
 * A stage whose module is loaded only when `need` holds: a cheap test on the context, true
 * whenever the stage could do anything (it may be true more often; the stage's own `when` still
 * applies once loaded). Keeps what most runs never use (trees, verity, signing, El Torito, …)
 * off the start-up path.
 */
export interface LazyStage {
  readonly name: string;
  readonly need: (ctx: BuildContext) => boolean;
  readonly load: () => Promise<Stage>;
}

export const fsSectorOf = (ctx: BuildContext, d: PartitionDefinition): number => Math.max(d.fsSectorSize ?? ctx.fsSectorSize, ctx.sectorSize);

/** New partitions of deferred types get neither an entry nor contents (foreign and existing ones are kept). */
export function deferredEntries(ctx: BuildContext): ReadonlySet<PlannedPartition> {
  return new Set(ctx.partitions.filter((s) => s.deferredByOptions && s.placed && !s.placed.existing).map((s) => s.placed!));
}

/** A new partition that gets written now: placed, not existing, not deferred. */
export const isWritten = (s: PartitionState): boolean => !!s.placed && !s.placed.dropped && !s.placed.existing && !s.deferredByOptions;

/** In the table after this run: placed and not deferred (existing partitions are never deferred). */
export const isLive = (s: PartitionState): boolean => !!s.placed && !s.placed.dropped && !(s.deferredByOptions && !s.placed.existing);

/** Replaces the plan and points every state at its new entry. */
export function setPlan(ctx: BuildContext, plan: Plan): void {
  ctx.plan = plan;
  for (const s of ctx.partitions) s.placed = plan.partitions[s.index];
}
