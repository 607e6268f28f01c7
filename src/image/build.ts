/**
 * Writes a planned image: partition contents in their windows, optional --split files, then the
 * GPT. A new image (--empty=create) is built in a temporary file beside the target and linked into
 * place; an existing one is written in place (in-place.ts), its tables last. On any failure every
 * temporary file is removed, and an existing image gets its old size and tables back.
 *
 * The writer is a sequence of steps the build pipeline calls one by one (open, format, resize,
 * copy blocks, write table, commit), each given the plan in force: the plan is a value, never
 * changed by the writer.
 */
import { existsSync, fsyncSync, openSync, closeSync, unlinkSync } from 'node:fs';
import { publishNew } from './publish.js';
import path from 'node:path';
import { RepartError } from '../errors.js';
import type { FormatEvents, FormatJob, FormatOutcome } from '../fs/driver.js';
import { encodeGpt, type EncodedGpt } from '../gpt/table.js';
import type { GptEntry } from '../gpt/entry.js';
import type { Plan, PlannedPartition } from '../plan/plan.js';
import { copySparse, ImageFile } from './file.js';
import { FlushBehind, type DataSync } from './flush-behind.js';
import { openScanned, type ScanId } from '../io/open-verified.js';
import { removeStaleTemps, tempBeside } from './stale-temps.js';
import { InPlaceImage, rollBackOpenImages } from './in-place.js';

/** Bytes copied into a partition: a CopyBlocks= file, or a partition of another image (--copy-from=). */
export interface BlockSource {
  path: string;
  offset: bigint;
  length: bigint;
  /** identity when it was checked: a different file at the path is refused (CopyBlocks=) */
  id?: ScanId;
}

export type Formatter = (jobs: FormatJob[], events?: FormatEvents) => Promise<FormatOutcome[]>;

/** One partition's contents: a format job without its window, and where the window lies. */
export interface PartitionContent {
  job: Omit<FormatJob, 'window'>;
  /** file system size when smaller than the partition (Minimize=, encryption) */
  size?: bigint;
  /** where the contents start inside the partition (behind a LUKS2 header) */
  contentOffset?: bigint;
}

/** A format job that failed: which one (index into the jobs given), and its error. */
export class FormatJobError extends Error {
  constructor(readonly index: number, readonly error: unknown) {
    super(error instanceof Error ? error.message : String(error));
    this.name = 'FormatJobError';
  }
}

/**
 * Temporary files registered here are removed on failure and on SIGINT/SIGTERM; images being
 * written in place are rolled back (in-place.ts).
 */
const pending = new Set<string>();
export function removePendingFiles(): void {
  rollBackOpenImages();
  for (const f of pending) {
    try { unlinkSync(f); } catch { /* already gone */ }
  }
  pending.clear();
}


function ioError(what: string, file: string, e: unknown): RepartError {
  return new RepartError('E_IMAGE_IO', `${what}: ${(e as Error).message}`, { file }, 1, { cause: e });
}

export interface OpenOptions {
  target: string;
  /** create: target must not exist (a new file); in-place: the existing target is written in place */
  mode: 'create' | 'in-place';
  imageSize: bigint;
  /**
   * in-place: byte ranges [offset, length] of the target as it is that the new image keeps
   * (sorted); the rest is zeroed. Without it the whole old content is zeroed (a new table on an
   * existing file). oldBackup: [offset, length] of the old backup GPT, restored on failure;
   * keepMbr: sector 0 is not written (a hybrid MBR, as libfdisk leaves it).
   */
  base?: { keep: [bigint, bigint][]; oldBackup?: [bigint, bigint]; keepMbr?: boolean };
  /** split files that will be written (refused up front if one exists) */
  splitPaths?: Iterable<string>;
}

/** The two ways of holding the image: a new temporary file, or the existing target in place. */
type Held = { kind: 'new'; tmp: string; img: ImageFile } | { kind: 'in-place'; t: InPlaceImage; zeroed: [bigint, bigint][]; keepMbr: boolean };

export class ImageWriter {
  private held: Held | null;
  private readonly splitTemps = new Map<string, string>();
  /** in place, the tables wait for commit(): they are written last */
  private table: EncodedGpt | null = null;
  /** write-backs started while formatting (flush-behind.ts); their errors fail the commit */
  private readonly flushers: FlushBehind[] = [];

  private constructor(readonly target: string, readonly mode: 'create' | 'in-place', held: Held) {
    this.held = held;
  }

  /** The file formatters and the verity, signature and encryption steps open by name. */
  get path(): string {
    const h = this.hold();
    return h.kind === 'new' ? h.tmp : h.t.path;
  }

  static open(o: OpenOptions): ImageWriter {
    const dir = path.dirname(o.target);
    if (!existsSync(dir)) throw new RepartError('E_IMAGE_IO', `directory ${dir} does not exist`, { file: o.target });
    if (o.mode === 'create' && existsSync(o.target)) throw new RepartError('E_IMAGE_EXISTS', 'image file already exists, refusing (--empty=create)', { file: o.target });
    for (const sp of o.splitPaths ?? []) if (existsSync(sp)) throw new RepartError('E_IMAGE_EXISTS', 'split output file already exists, refusing', { file: sp });
    // a run killed with SIGKILL could not clean up: its full-size temporary files go now
    removeStaleTemps(o.target);
    for (const sp of o.splitPaths ?? []) removeStaleTemps(sp);
    return new ImageWriter(o.target, o.mode, o.mode === 'create' ? openNew(o) : openInPlace(o));
  }

  private hold(): Held {
    if (!this.held) throw new Error('image writer used after commit or abort');
    return this.held;
  }

  private file(): ImageFile {
    const h = this.hold();
    return h.kind === 'new' ? h.img : h.t.file;
  }

  resize(imageSize: bigint): void {
    const h = this.hold();
    if (h.kind === 'new') h.img.truncate(imageSize);
    else h.t.resize(imageSize);
  }

  /** In place, a partition that moved after the first phase may lie where old bytes were kept. */
  private ensureZero(p: PlannedPartition): void {
    const h = this.hold();
    if (h.kind === 'new') return;
    const end = p.offset + p.size;
    if (p.offset >= h.t.oldSize || h.zeroed.some(([a, len]) => p.offset >= a && end <= a + len)) return;
    h.t.zero(p.offset, p.size);
  }

  /** Copies CopyBlocks= sources into their partitions. */
  copyBlocks(items: { p: PlannedPartition; src: BlockSource; contentOffset?: bigint }[]): void {
    const img = this.file();
    for (const { p, src, contentOffset } of items) {
      this.ensureZero(p);
      let fd: number;
      if (src.id) fd = openScanned(src.path, src.id, p.def.where.CopyBlocks ?? { file: p.def.file });
      else try { fd = openSync(src.path, 'r'); } catch (e) { throw ioError('cannot open CopyBlocks= source', src.path, e); }
      try {
        if (src.length > p.size) throw new RepartError('E_SOURCE', `CopyBlocks= source is ${src.length} bytes, larger than the partition (${p.size} bytes)`, p.def.where.CopyBlocks ?? { file: p.def.file });
        copySparse(fd, src.offset, img, p.offset + (contentOffset ?? 0n), src.length, src.path);
      } finally {
        closeSync(fd);
      }
    }
  }

  /**
   * Formats partitions in their windows; `events` get indexes into `parts`. A failing job is
   * reported as FormatJobError with its index, so the caller knows which partition it was.
   */
  async format(parts: { p: PlannedPartition; content: PartitionContent }[], formatter: Formatter, events?: FormatEvents): Promise<FormatOutcome[]> {
    if (parts.length === 0) return [];
    for (const { p } of parts) this.ensureZero(p);
    const jobs = parts.map(({ p, content }): FormatJob => ({
      ...content.job,
      window: { path: this.path, offset: Number(p.offset + (content.contentOffset ?? 0n)), size: Number(content.size ?? p.size) },
    }));
    return formatJobs(jobs, formatter, events);
  }

  /**
   * Starts writing back the image in the background while formatters write into it (stop() it,
   * and await that, before the image is committed or aborted).
   */
  flushBehind(sync?: DataSync): FlushBehind {
    const f = new FlushBehind(this.file().fd, undefined, sync);
    this.flushers.push(f);
    return f;
  }

  /** Writes the GPT: each entry at its partition number (deferred and dropped ones stay empty). */
  writeTable(plan: Plan, deferred: ReadonlySet<PlannedPartition>): void {
    const entries: (GptEntry | null)[] = [];
    const ss = BigInt(plan.geometry.sectorSize);
    for (const p of plan.partitions) {
      if (p.dropped || deferred.has(p)) continue;
      while (entries.length <= p.partno) entries.push(null);
      entries[p.partno] = {
        typeGuid: p.type.uuid, partGuid: p.uuid, firstLba: p.offset / ss, lastLba: (p.offset + p.size) / ss - 1n,
        attributes: p.diskAttributes, name: p.gptName ?? p.label,
      };
    }
    const gpt = encodeGpt({ diskGuid: plan.diskGuid, entries }, plan.geometry);
    const h = this.hold();
    if (h.kind === 'in-place') {
      this.table = gpt;
      return;
    }
    h.img.writeAt(0n, gpt.head);
    h.img.writeAt(gpt.tailOffset, gpt.tail);
  }

  /** Copies partitions into their --split files (temporary until commit). */
  writeSplits(splits: { p: PlannedPartition; path: string }[]): void {
    const img = this.file();
    for (const { p, path: sp } of splits) {
      const t = tempBeside(sp);
      pending.add(t);
      this.splitTemps.set(sp, t);
      const out = ImageFile.open(t, 'wx');
      try {
        out.truncate(p.size);
        copySparse(img.fd, p.offset, out, 0n, p.size);
        fsyncSync(out.fd);
      } finally {
        out.close();
      }
    }
  }

  /**
   * A new image: synced and linked into place. In place: the contents synced, then the backup GPT,
   * synced, then the primary, synced (in-place.ts). Then the split files are linked into place.
   */
  commit(): void {
    const h = this.hold();
    // a write-back error the flush-behind saw is not reported again by the fsync below
    for (const f of this.flushers) {
      const e = f.takeError();
      if (e) throw ioError('cannot write image', this.target, e);
    }
    if (h.kind === 'new') {
      fsyncSync(h.img.fd);
      h.img.close();
      this.held = null;
      // link() refuses to replace a file that appeared meanwhile, unlike rename() (publish.ts:
      // an exclusive create where the target file system has no hard links).
      try { publishNew(h.tmp, this.target); } catch (e) { throw ioError('cannot create image file', this.target, e); }
      pending.delete(h.tmp);
    } else {
      if (!this.table) throw new Error('in-place commit without a table');
      const ss = this.table.head.length - this.table.tail.length; // one sector: the MBR's
      const gpt = h.keepMbr ? { ...this.table, head: this.table.head.subarray(ss), headOffset: BigInt(ss) } : this.table;
      h.t.writeTables(gpt);
      h.t.close();
      this.held = null;
    }
    for (const [sp, t] of this.splitTemps) {
      try { publishNew(t, sp); } catch (e) { throw ioError('cannot create split file', sp, e); }
      pending.delete(t);
    }
  }

  /** Removes every temporary file; an image written in place gets its old size and backup GPT back. */
  abort(): void {
    const h = this.held;
    this.held = null;
    if (h?.kind === 'new') try { h.img.close(); } catch { /* ignore */ }
    if (h?.kind === 'in-place') {
      h.t.rollBack();
      try { h.t.close(); } catch { /* ignore */ }
    }
    removePendingFiles();
  }
}

function openNew(o: OpenOptions): Held {
  const tmp = tempBeside(o.target);
  pending.add(tmp);
  let img: ImageFile | null = null;
  try {
    img = ImageFile.open(tmp, 'wx+');
    img.truncate(o.imageSize);
    return { kind: 'new', tmp, img };
  } catch (e) {
    if (img) try { img.close(); } catch { /* ignore */ }
    removePendingFiles();
    throw ioError('cannot create image file', tmp, e);
  }
}

/** Grows the target and zeroes what the new layout does not keep (new partitions, discarded gaps). */
function openInPlace(o: OpenOptions): Held {
  const t = InPlaceImage.open(o.target, o.base?.oldBackup);
  const zeroed: [bigint, bigint][] = [];
  try {
    t.resize(o.imageSize);
    let pos = 0n;
    const clear = (a: bigint, len: bigint) => { t.zero(a, len); zeroed.push([a, len]); };
    for (const [off, len] of o.base?.keep ?? []) {
      if (off > pos) clear(pos, off - pos);
      if (off + len > pos) pos = off + len;
    }
    if (t.oldSize > pos) clear(pos, t.oldSize - pos);
  } catch (e) {
    t.rollBack();
    t.close();
    throw e instanceof RepartError ? e : ioError('cannot prepare image', o.target, e);
  }
  return { kind: 'in-place', t, zeroed, keepMbr: o.base?.keepMbr ?? false };
}

/** Runs jobs through the formatter; a failure becomes FormatJobError naming the job. */
export async function formatJobs(jobs: FormatJob[], formatter: Formatter, events?: FormatEvents): Promise<FormatOutcome[]> {
  try {
    return await formatter(jobs, events);
  } catch (e) {
    const index = typeof (e as { jobIndex?: unknown })?.jobIndex === 'number' ? (e as { jobIndex: number }).jobIndex : -1;
    throw new FormatJobError(index, e);
  }
}
