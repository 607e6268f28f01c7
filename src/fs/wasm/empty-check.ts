/**
 * Re-checking a tree's empty source files on another thread while the tool formats (issue 18).
 *
 * The safety rule: a source that changed since the scan fails the build with a typed error. For
 * a file with bytes that check is made where the bytes are read (source-file.ts: open without
 * following symlinks, dev/ino compared). An empty file has no bytes: nothing of it reaches the
 * image but its metadata, which comes from the scan. What its check establishes is only that
 * the path still names the scanned, empty, readable inode at some moment between the scan and
 * the end of the job; it does not matter *when* in that window, nor whether the tool is still
 * running then, as long as the job fails if the check does. So mke2fs gets every empty host
 * file as an empty stream at once, and a worker thread lstats them all meanwhile (one lstat
 * each, `verifyScannedEmpty`: 200,000 empty files are a second of system calls, which ran on
 * the formatting thread before). When the tool is done, the host waits for the verdict
 * (`VirtualTree.finishEmptyChecks`): a changed file fails the job with the same SourceFailure
 * (path, errno, message) as the inline check; the files the lstat could not decide (not empty
 * any more, or readability not certain from the mode) are opened as before, on this thread.
 *
 * Only for tools that open every regular file of the tree (mke2fs -d): a tool that skips empty
 * files (mkfs.btrfs) never checked them, and checking them all would change what fails.
 */
import { Worker } from 'node:worker_threads';
import { K_FILE, PackedView, SRC_HOST, type PackedTree } from '../../tree/packed.js';
import type { SourceFailure } from './source-file.js';

/** Fewer empty host files than this are checked inline, as they are opened (a thread costs ~30 ms). */
export const ASIDE_MIN = 2048;

/** What the checking thread found. */
export interface EmptyCheckResult {
  /** the first empty file (in record order) that changed since the scan, if any */
  failure: SourceFailure | null;
  /** records the lstat could not decide: the tool's thread opens them as before */
  recheck: number[];
}

/** Records of regular host files whose data is empty (one record per inode: hard links once). */
export function isEmptyHostFile(v: PackedView, i: number): boolean {
  return v.kindNo(i) === K_FILE && v.data(i) === i && v.size(i) === 0 && v.srcKind(i) === SRC_HOST;
}

export function countEmptyHostFiles(v: PackedView): number {
  let n = 0;
  for (let i = 0; i < v.count; i++) if (isEmptyHostFile(v, i)) n++;
  return n;
}

/**
 * Start checking every empty host file of `tree` on a worker thread. The promise never rejects:
 * if the thread fails, every empty file is handed back for rechecking here.
 */
export function checkEmptyAside(tree: PackedTree, all: () => number[]): Promise<EmptyCheckResult> {
  return new Promise((resolve) => {
    let settled = false;
    const fallback = (): void => {
      if (settled) return;
      settled = true;
      resolve({ failure: null, recheck: all() });
    };
    let w: Worker;
    try {
      // the records only (on SharedArrayBuffers since the trees stage: not copied); in-memory
      // contents are never checked
      w = new Worker(new URL('./empty-check-worker.js', import.meta.url), { workerData: { tree: { ...tree, blobs: [] } } });
    } catch {
      fallback();
      return;
    }
    w.once('message', (r: EmptyCheckResult) => {
      if (settled) return;
      settled = true;
      resolve(r);
      void w.terminate();
    });
    w.once('error', fallback);
    w.once('exit', fallback);
  });
}
