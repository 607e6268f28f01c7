/**
 * The thread of empty-check.ts: lstat every empty host file of the tree (verifyScannedEmpty),
 * in record order, and post back the first that changed since the scan and those an lstat
 * cannot decide.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SourceChangedError, verifyScannedEmpty } from '../../io/open-verified.js';
import { PackedView, type PackedTree } from '../../tree/packed.js';
import { isEmptyHostFile, type EmptyCheckResult } from './empty-check.js';

const v = new PackedView((workerData as { tree: PackedTree }).tree);
const result: EmptyCheckResult = { failure: null, recheck: [] };
for (let i = 0; i < v.count; i++) {
  if (!isEmptyHostFile(v, i)) continue;
  const path = v.hostPath(i)!;
  const dev = v.dev(i);
  const ino = v.srcIno(i);
  try {
    if (!verifyScannedEmpty(path, dev !== undefined && ino !== undefined ? { dev, ino } : undefined)) result.recheck.push(i);
  } catch (e) {
    if (!(e instanceof SourceChangedError)) throw e;
    // as source-file.ts records the same failure
    result.failure = { path, errno: e.errno, message: e.message, namesErrno: e.namesErrno };
    break;
  }
}
parentPort!.postMessage(result);
