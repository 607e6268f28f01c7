/**
 * Minimize=guess for xfs as systemd-repart ≥ 255 does it (formatting.md §7): no model, a
 * measurement. repart formats (random UUID) into a sparse 1 TiB temporary file, counts the
 * bytes the file system wrote (SEEK_DATA segments: mkfs.xfs zeroes its log with
 * FALLOC_FL_ZERO_RANGE, which leaves holes), and takes twice that (xfs gets 100% extra where
 * other file systems get 50%), rounded up to the grain; the caller then applies the 300 MiB
 * xfs minimum (257) or the partition's minimum (258+). Minimize=best is refused for xfs.
 *
 * Here the 1 TiB file is a sparse scratch file, written through the same window device the
 * real format uses, which counts the 4 KiB blocks a file would hold as data (written, zeros
 * too, and not punched or zero-ranged since: DeviceStats.allocated).
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Compat } from '../../compat.js';
import type { FormatJob } from '../../fs/driver.js';
import { runMkfsXfs } from '../../fs/xfs/index.js';
import type { SourceTree } from '../../tree/model.js';
import type { SizeModel } from './index.js';

const TiB = 1024 ** 4;

export interface XfsMeasureJob {
  label: string;
  sectorSize: number;
  discard: boolean;
  extraOptions: string[];
  sourceDateEpoch?: number;
  now?: number;
  compat: Compat;
  definitionFile: string;
}

/** Bytes the first pass wrote, as repart's fd_apparent_size() sees them. */
export async function xfsMeasuredBytes(tree: SourceTree | null, j: XfsMeasureJob, scratchDir = os.tmpdir()): Promise<number> {
  const dir = fs.mkdtempSync(path.join(scratchDir, 'repart-xfs-minimize-'));
  const file = path.join(dir, 'measure.img');
  try {
    fs.writeFileSync(file, '');
    fs.truncateSync(file, TiB);
    const job: FormatJob = {
      format: 'xfs', window: { path: file, offset: 0, size: TiB }, tree, fsUuid: randomUUID(), subvolumes: [],
      windowZeroed: true, ...j,
    };
    const { result } = await runMkfsXfs(job, undefined, true);
    return result.device!.allocated!;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    // The pass ran on this thread: its WebAssembly memory (mkfs.xfs's buffer cache, up to 64 MiB
    // of the tree's data: wasm/xfs/patches/trixie-small-buffer-cache.patch) goes now, not whenever
    // V8 next collects, which could be after the real format's worker has grown its own (a 2 GiB
    // file: 259 -> 201 MB peak RSS; 2.2 -> 1.2 GB before that patch).
    const { collectGarbage } = await import('../../tree/gc.js');
    await collectGarbage();
  }
}

/** repart's guess before the minimum is applied: measured + 100%. */
export async function xfsGuessModel(tree: SourceTree | null, j: XfsMeasureJob, scratchDir?: string): Promise<SizeModel> {
  const measured = await xfsMeasuredBytes(tree, j, scratchDir);
  return { format: 'xfs', bytes: 2 * measured, detail: { measuredBytes: measured, limitedBy: 'first mkfs.xfs pass in 1 TiB, doubled (repart)' } };
}
