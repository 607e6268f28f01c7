/**
 * Writes a planned image: a temporary file beside the target, partition contents in their
 * windows, the GPT, optional --split files, then an atomic rename. On any failure every
 * temporary file is removed and the target is untouched.
 *
 * The writer is a sequence of steps the build pipeline calls one by one (open, format, resize,
 * copy blocks, write table, commit), each given the plan in force: the plan is a value, never
 * changed by the writer.
 */
import { existsSync, fsyncSync, openSync, closeSync, renameSync, unlinkSync } from 'node:fs';
import { publishNew } from './publish.js';
import path from 'node:path';
import { RepartError } from '../errors.js';
import type { FormatEvents, FormatJob, FormatOutcome } from '../fs/driver.js';
import { encodeGpt } from '../gpt/table.js';
import type { GptEntry } from '../gpt/entry.js';
import type { Plan, PlannedPartition } from '../plan/plan.js';
import { copySparse, ImageFile } from './file.js';
import { openScanned, type ScanId } from '../io/open-verified.js';
import { removeStaleTemps, tempBeside } from './stale-temps.js';

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

/** Temporary files registered here are removed on failure and on SIGINT/SIGTERM. */
const pending = new Set<string>();
export function removePendingFiles(): void {
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
  /** create: target must not exist; replace: build anew and replace the target */
  mode: 'create' | 'replace';
  imageSize: bigint;
  /**
   * incremental mode: byte ranges [offset, length] of this file (the target as it is) carried into
   * the new image; the rest starts zeroed. The target itself is never written: it is replaced.
   */
  base?: { path: string; keep: [bigint, bigint][] };
  /** split files that will be written (refused up front if one exists) */
  splitPaths?: Iterable<string>;
}

export class ImageWriter {
  private img: ImageFile | null;
  private readonly splitTemps = new Map<string, string>();

  private constructor(readonly target: string, readonly mode: 'create' | 'replace', readonly tmp: string, img: ImageFile) {
    this.img = img;
  }

  static open(o: OpenOptions): ImageWriter {
    const dir = path.dirname(o.target);
    if (!existsSync(dir)) throw new RepartError('E_IMAGE_IO', `directory ${dir} does not exist`, { file: o.target });
    if (o.mode === 'create' && existsSync(o.target)) throw new RepartError('E_IMAGE_EXISTS', 'image file already exists, refusing (--empty=create)', { file: o.target });
    for (const sp of o.splitPaths ?? []) if (existsSync(sp)) throw new RepartError('E_IMAGE_EXISTS', 'split output file already exists, refusing', { file: sp });
    // a run killed with SIGKILL could not clean up: its full-size temporary files go now
    removeStaleTemps(o.target);
    for (const sp of o.splitPaths ?? []) removeStaleTemps(sp);
    const tmp = tempBeside(o.target);
    pending.add(tmp);
    let img: ImageFile | null = null;
    try {
      try {
        img = ImageFile.open(tmp, 'wx+');
        img.truncate(o.imageSize);
      } catch (e) {
        throw ioError('cannot create image file', tmp, e);
      }
      if (o.base) {
        let fd: number;
        try { fd = openSync(o.base.path, 'r'); } catch (e) { throw ioError('cannot open image', o.base.path, e); }
        try {
          for (const [off, len] of o.base.keep) copySparse(fd, off, img, off, len, o.base.path);
        } finally {
          closeSync(fd);
        }
      }
      return new ImageWriter(o.target, o.mode, tmp, img);
    } catch (e) {
      if (img) try { img.close(); } catch { /* ignore */ }
      removePendingFiles();
      throw e;
    }
  }

  private file(): ImageFile {
    if (!this.img) throw new Error('image writer used after commit or abort');
    return this.img;
  }

  resize(imageSize: bigint): void {
    this.file().truncate(imageSize);
  }

  /** Copies CopyBlocks= sources into their partitions. */
  copyBlocks(items: { p: PlannedPartition; src: BlockSource; contentOffset?: bigint }[]): void {
    const img = this.file();
    for (const { p, src, contentOffset } of items) {
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
    const jobs = parts.map(({ p, content }): FormatJob => ({
      ...content.job,
      window: { path: this.tmp, offset: Number(p.offset + (content.contentOffset ?? 0n)), size: Number(content.size ?? p.size) },
    }));
    return formatJobs(jobs, formatter, events);
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
    const img = this.file();
    img.writeAt(0n, gpt.head);
    img.writeAt(gpt.tailOffset, gpt.tail);
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

  /** Syncs and moves the image (and split files) into place. */
  commit(): void {
    const img = this.file();
    fsyncSync(img.fd);
    img.close();
    this.img = null;
    if (this.mode === 'create') {
      // link() refuses to replace a file that appeared meanwhile, unlike rename() (publish.ts:
      // an exclusive create where the target file system has no hard links).
      try { publishNew(this.tmp, this.target); } catch (e) { throw ioError('cannot create image file', this.target, e); }
    } else renameSync(this.tmp, this.target);
    pending.delete(this.tmp);
    for (const [sp, t] of this.splitTemps) {
      try { publishNew(t, sp); } catch (e) { throw ioError('cannot create split file', sp, e); }
      pending.delete(t);
    }
  }

  /** Removes every temporary file; the target stays as it was. */
  abort(): void {
    if (this.img) try { this.img.close(); } catch { /* ignore */ }
    this.img = null;
    removePendingFiles();
  }
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
