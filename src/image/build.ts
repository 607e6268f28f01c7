/**
 * Writes a planned image: partition contents in their windows, optional --split files, then the
 * GPT. A new image (--empty=create) is built in a temporary file beside the target and linked into
 * place; an existing one is written in place (in-place.ts), tables last. On any failure every
 * temporary file is removed, and an existing image keeps its old tables and size.
 */
import { existsSync, fsyncSync, linkSync, openSync, closeSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { RepartError } from '../errors.js';
import type { FormatEvents, FormatJob, FormatOutcome } from '../fs/driver.js';
import { encodeGpt, type EncodedGpt } from '../gpt/table.js';
import type { GptEntry } from '../gpt/entry.js';
import type { Plan, PlannedPartition } from '../plan/plan.js';
import { copySparse, ImageFile } from './file.js';
import { InPlaceImage, rollBackOpenImages } from './in-place.js';

/** Bytes copied into a partition: a CopyBlocks= file, or a partition of another image (--copy-from=). */
export interface BlockSource {
  path: string;
  offset: bigint;
  length: bigint;
}

export type Formatter = (jobs: FormatJob[], events?: FormatEvents) => Promise<FormatOutcome[]>;

export interface WriteOptions {
  target: string;
  /** create: target must not exist (a new file); in-place: the existing target is written in place */
  mode: 'create' | 'in-place';
  /**
   * in-place: byte ranges [offset, length] of the target as it is that the new image keeps
   * (sorted); the rest is zeroed. Without it the whole old content is zeroed (a new table on an
   * existing file). oldBackup: [offset, length] of the old backup GPT, restored on failure;
   * keepMbr: sector 0 is not written (a hybrid MBR, as libfdisk leaves it).
   */
  base?: { keep: [bigint, bigint][]; oldBackup?: [bigint, bigint]; keepMbr?: boolean };
  plan: Plan;
  /** partitions whose table entry and contents are not written (--defer-partitions) */
  deferred: (p: PlannedPartition) => boolean;
  /** the format jobs, one per partition with Format= (built by the caller, windows filled in here) */
  jobs: Map<PlannedPartition, Omit<FormatJob, 'window'>>;
  formatter: Formatter;
  events?: FormatEvents;
  /** formatted before the others: file systems that size themselves (erofs, squashfs) */
  first?: (p: PlannedPartition) => boolean;
  /** after `first`: may re-place the partitions in o.plan, in place, from what they used */
  afterFirst?: (outcomes: Map<PlannedPartition, FormatOutcome>) => void;
  /** runs after the contents are written and before the GPT (verity hashes, UUIDs from them) */
  postFormat?: (tmpPath: string) => Promise<void>;
  /** CopyBlocks= sources by partition */
  copyBlocks: Map<PlannedPartition, BlockSource>;
  /** split file path per partition, when --split=yes */
  splitPaths: Map<PlannedPartition, string>;
  /** file system size where it is smaller than the partition (Minimize=, encryption) */
  windows?: Map<PlannedPartition, bigint>;
  /** where the contents start inside the partition, if not at its start (behind a LUKS2 header) */
  contentOffsets?: Map<PlannedPartition, bigint>;
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

function tempBeside(target: string): string {
  return path.join(path.dirname(target), `.#${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
}

function ioError(what: string, file: string, e: unknown): RepartError {
  return new RepartError('E_IMAGE_IO', `${what}: ${(e as Error).message}`, { file }, 1, { cause: e });
}

/**
 * Where the image is being written: a new temporary file linked into place at the end
 * (--empty=create), or the existing image itself, in place (in-place.ts).
 */
interface Sink {
  /** the file formatters and post-format steps open by name */
  path: string;
  img: ImageFile;
  resize(size: bigint): void;
  /** the window of a partition not formatted yet must read as zero (it may have moved) */
  ensureZero(offset: bigint, length: bigint): void;
  commit(gpt: EncodedGpt): void;
  abort(): void;
}

function newFileSink(o: WriteOptions): Sink {
  const tmp = tempBeside(o.target);
  pending.add(tmp);
  let img: ImageFile;
  try {
    img = ImageFile.open(tmp, 'wx+');
  } catch (e) {
    pending.delete(tmp);
    throw ioError('cannot create image file', tmp, e);
  }
  let open = true;
  return {
    path: tmp, img,
    resize: (size) => {
      try { img.truncate(size); } catch (e) { throw ioError('cannot create image file', tmp, e); }
    },
    ensureZero: () => { /* a new file: nothing but what this run wrote */ },
    commit: (gpt) => {
      img.writeAt(0n, gpt.head);
      img.writeAt(gpt.tailOffset, gpt.tail);
      fsyncSync(img.fd);
      img.close();
      open = false;
      // link() refuses to replace a file that appeared meanwhile, unlike rename().
      try { linkSync(tmp, o.target); } catch (e) { throw ioError('cannot create image file', o.target, e); }
      unlinkSync(tmp);
      pending.delete(tmp);
    },
    abort: () => {
      if (open) try { img.close(); } catch { /* ignore */ }
      open = false;
    },
  };
}

function inPlaceSink(o: WriteOptions): Sink {
  const t = InPlaceImage.open(o.target, o.base?.oldBackup);
  try {
    t.resize(o.plan.imageSize);
    // everything the new layout does not keep reads as zero (new partitions, discarded gaps)
    let pos = 0n;
    for (const [off, len] of o.base?.keep ?? []) {
      if (off > pos) t.zero(pos, off - pos);
      if (off + len > pos) pos = off + len;
    }
    if (t.oldSize > pos) t.zero(pos, t.oldSize - pos);
  } catch (e) {
    t.rollBack();
    t.close();
    throw e instanceof RepartError ? e : ioError('cannot prepare image', o.target, e);
  }
  let open = true;
  return {
    path: t.path, img: t.file,
    resize: (size) => t.resize(size),
    ensureZero: (off, len) => t.zero(off, len),
    commit: (gpt) => {
      t.writeTables(o.base?.keepMbr ? { ...gpt, head: gpt.head.subarray(o.plan.geometry.sectorSize), headOffset: BigInt(o.plan.geometry.sectorSize) } : gpt);
      t.close();
      open = false;
    },
    abort: () => {
      if (!open) return;
      t.rollBack();
      try { t.close(); } catch { /* ignore */ }
      open = false;
    },
  };
}

export async function writeImage(o: WriteOptions): Promise<FormatOutcome[]> {
  const dir = path.dirname(o.target);
  if (!existsSync(dir)) throw new RepartError('E_IMAGE_IO', `directory ${dir} does not exist`, { file: o.target });
  if (o.mode === 'create' && existsSync(o.target)) throw new RepartError('E_IMAGE_EXISTS', 'image file already exists, refusing (--empty=create)', { file: o.target });
  for (const sp of o.splitPaths.values()) if (existsSync(sp)) throw new RepartError('E_IMAGE_EXISTS', 'split output file already exists, refusing', { file: sp });

  const sink = o.mode === 'create' ? newFileSink(o) : inPlaceSink(o);
  const img = sink.img;
  const splitTemps = new Map<string, string>();
  try {
    sink.resize(o.plan.imageSize);
    const live = o.plan.partitions.filter((p) => !p.dropped && !o.deferred(p));

    for (const p of live) {
      const src = o.copyBlocks.get(p);
      if (src === undefined) continue;
      let fd: number;
      try { fd = openSync(src.path, 'r'); } catch (e) { throw ioError('cannot open CopyBlocks= source', src.path, e); }
      try {
        if (src.length > p.size) throw new RepartError('E_SOURCE', `CopyBlocks= source is ${src.length} bytes, larger than the partition (${p.size} bytes)`, p.def.where.CopyBlocks ?? { file: p.def.file });
        copySparse(fd, src.offset, img, p.offset + (o.contentOffsets?.get(p) ?? 0n), src.length);
      } finally {
        closeSync(fd);
      }
    }

    // Jobs are made when they run: a self-sizing first phase may move the windows of the rest.
    const order = live.filter((p) => o.jobs.has(p));
    const results = new Map<PlannedPartition, FormatOutcome>();
    const format = async (parts: PlannedPartition[]) => {
      if (parts.length === 0) return;
      const jobs = parts.map((p): FormatJob => ({ ...o.jobs.get(p)!, window: { path: sink.path, offset: Number(p.offset + (o.contentOffsets?.get(p) ?? 0n)), size: Number(o.windows?.get(p) ?? p.size) } }));
      const at = (i: number) => order.indexOf(parts[i]!);
      const ev = o.events;
      const out = await o.formatter(jobs, ev && {
        start: ev.start && ((i) => ev.start!(at(i))),
        progress: ev.progress && ((i, pr) => ev.progress!(at(i), pr)),
        done: ev.done && ((i, r) => ev.done!(at(i), r)),
      });
      parts.forEach((p, i) => results.set(p, out[i]!));
    };
    const first = order.filter((p) => o.first?.(p) ?? false);
    await format(first);
    const rest = order.filter((p) => !first.includes(p));
    if (first.length && o.afterFirst) {
      o.afterFirst(results);
      sink.resize(o.plan.imageSize);
      for (const p of rest) sink.ensureZero(p.offset, p.size);
    }
    await format(rest);
    const outcomes = order.map((p) => results.get(p)!);
    await o.postFormat?.(sink.path);

    const gpt = encodeGpt({ diskGuid: o.plan.diskGuid, entries: tableEntries(o) }, o.plan.geometry);

    for (const [p, sp] of o.splitPaths) {
      if (p.dropped || o.deferred(p)) continue;
      const t = tempBeside(sp);
      pending.add(t);
      splitTemps.set(sp, t);
      const out = ImageFile.open(t, 'wx');
      try {
        out.truncate(p.size);
        copySparse(img.fd, p.offset, out, 0n, p.size);
        fsyncSync(out.fd);
      } finally {
        out.close();
      }
    }
    sink.commit(gpt);
    for (const [sp, t] of splitTemps) {
      try { linkSync(t, sp); } catch (e) { throw ioError('cannot create split file', sp, e); }
      unlinkSync(t);
      pending.delete(t);
    }
    return outcomes;
  } catch (e) {
    sink.abort();
    removePendingFiles();
    throw e;
  }
}

/** Each entry at its partition number (existing partitions keep theirs; deferred ones stay empty). */
function tableEntries(o: WriteOptions): (GptEntry | null)[] {
  const entries: (GptEntry | null)[] = [];
  const ss = BigInt(o.plan.geometry.sectorSize);
  for (const p of o.plan.partitions) {
    if (p.dropped || o.deferred(p)) continue;
    while (entries.length <= p.partno) entries.push(null);
    entries[p.partno] = {
      typeGuid: p.type.uuid,
      partGuid: p.uuid,
      firstLba: p.offset / ss,
      lastLba: (p.offset + p.size) / ss - 1n,
      attributes: p.diskAttributes,
      name: p.label,
    };
  }
  return entries;
}
