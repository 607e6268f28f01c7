/**
 * Writes a planned image: a temporary file beside the target, partition contents in their
 * windows, the GPT, optional --split files, then an atomic rename. On any failure every
 * temporary file is removed and the target is untouched.
 */
import { existsSync, fsyncSync, linkSync, openSync, closeSync, renameSync, unlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { RepartError } from '../errors.js';
import type { FormatEvents, FormatJob, FormatOutcome } from '../fs/driver.js';
import { encodeGpt } from '../gpt/table.js';
import type { GptEntry } from '../gpt/entry.js';
import type { Plan, PlannedPartition } from '../plan/plan.js';
import { copySparse, ImageFile } from './file.js';

/** Bytes copied into a partition: a CopyBlocks= file, or a partition of another image (--copy-from=). */
export interface BlockSource {
  path: string;
  offset: bigint;
  length: bigint;
}

export type Formatter = (jobs: FormatJob[], events?: FormatEvents) => Promise<FormatOutcome[]>;

export interface WriteOptions {
  target: string;
  /** create: target must not exist; replace: build anew and replace the target */
  mode: 'create' | 'replace';
  /**
   * incremental mode: byte ranges [offset, length] of this file (the target as it is) carried into
   * the new image; the rest starts zeroed. The target itself is never written: it is replaced.
   */
  base?: { path: string; keep: [bigint, bigint][] };
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

/** Temporary files registered here are removed on failure and on SIGINT/SIGTERM. */
const pending = new Set<string>();
export function removePendingFiles(): void {
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

export async function writeImage(o: WriteOptions): Promise<FormatOutcome[]> {
  const dir = path.dirname(o.target);
  if (!existsSync(dir)) throw new RepartError('E_IMAGE_IO', `directory ${dir} does not exist`, { file: o.target });
  if (o.mode === 'create' && existsSync(o.target)) throw new RepartError('E_IMAGE_EXISTS', 'image file already exists, refusing (--empty=create)', { file: o.target });
  for (const sp of o.splitPaths.values()) if (existsSync(sp)) throw new RepartError('E_IMAGE_EXISTS', 'split output file already exists, refusing', { file: sp });

  const tmp = tempBeside(o.target);
  pending.add(tmp);
  let img: ImageFile | null = null;
  const splitTemps = new Map<string, string>();
  try {
    try {
      img = ImageFile.open(tmp, 'wx+');
      img.truncate(o.plan.imageSize);
    } catch (e) {
      throw ioError('cannot create image file', tmp, e);
    }
    if (o.base) {
      let fd: number;
      try { fd = openSync(o.base.path, 'r'); } catch (e) { throw ioError('cannot open image', o.base.path, e); }
      try {
        for (const [off, len] of o.base.keep) copySparse(fd, off, img, off, len);
      } finally {
        closeSync(fd);
      }
    }
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
      const jobs = parts.map((p): FormatJob => ({ ...o.jobs.get(p)!, window: { path: tmp, offset: Number(p.offset + (o.contentOffsets?.get(p) ?? 0n)), size: Number(o.windows?.get(p) ?? p.size) } }));
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
    if (first.length && o.afterFirst) {
      o.afterFirst(results);
      img.truncate(o.plan.imageSize);
    }
    await format(order.filter((p) => !first.includes(p)));
    const outcomes = order.map((p) => results.get(p)!);
    await o.postFormat?.(tmp);

    // each entry at its partition number (existing partitions keep theirs; deferred ones stay empty)
    const entries: (GptEntry | null)[] = [];
    for (const p of o.plan.partitions) {
      if (p.dropped || o.deferred(p)) continue;
      while (entries.length <= p.partno) entries.push(null);
      entries[p.partno] = {
        typeGuid: p.type.uuid,
        partGuid: p.uuid,
        firstLba: p.offset / BigInt(o.plan.geometry.sectorSize),
        lastLba: (p.offset + p.size) / BigInt(o.plan.geometry.sectorSize) - 1n,
        attributes: p.diskAttributes,
        name: p.gptName ?? p.label,
      };
    }
    const gpt = encodeGpt({ diskGuid: o.plan.diskGuid, entries }, o.plan.geometry);
    img.writeAt(0n, gpt.head);
    img.writeAt(gpt.tailOffset, gpt.tail);

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
    fsyncSync(img.fd);
    img.close();
    img = null;

    if (o.mode === 'create') {
      // link() refuses to replace a file that appeared meanwhile, unlike rename().
      try { linkSync(tmp, o.target); } catch (e) { throw ioError('cannot create image file', o.target, e); }
      unlinkSync(tmp);
    } else renameSync(tmp, o.target);
    pending.delete(tmp);
    for (const [sp, t] of splitTemps) {
      try { linkSync(t, sp); } catch (e) { throw ioError('cannot create split file', sp, e); }
      unlinkSync(t);
      pending.delete(t);
    }
    return outcomes;
  } catch (e) {
    if (img) try { img.close(); } catch { /* ignore */ }
    removePendingFiles();
    throw e;
  }
}
