/**
 * Format=erofs: the real mkfs.erofs (erofs-utils 1.8.6, WebAssembly build in wasm/erofs/) with
 * the arguments systemd-repart passes (formatting.md §3), reading the virtual source tree in
 * place and writing the image straight into the partition window. erofs sizes itself: the
 * outcome's usedBytes is the image size.
 */
import { FORMAT_FACTS } from '../facts.js';
import { FsError } from '../../errors.js';
import { jobCompat, jobNowSeconds, type FormatJob, type FormatOutcome, type FormatProgress, type FsDriver } from '../driver.js';
import { DEVICE_PATH, toolEnv, TREE_MOUNT } from '../wasm/common.js';
import { toolSetFor } from '../wasm/host.js';
import { formatSelfSized } from './self-sized.js';

/** The compressors of our build (`mkfs.erofs -V`). deflate is erofs-utils' built-in encoder:
 * Debian links libdeflate, whose output differs (both are valid deflate). */
export const EROFS_COMPRESSORS: ReadonlySet<string> = new Set(FORMAT_FACTS.erofs!.compressors);

/** mkfs.erofs argv (without argv[0]) as systemd-repart builds it:
 * `-U <uuid> [--quiet] [-z<alg>[,level=<n>]] <node> <root> <extra>`. repart passes --quiet
 * unless it logs at debug level or stderr is a TTY; a worker's stderr never is. No label. */
export function mkfsErofsArgs(job: FormatJob): string[] {
  const args = ['-U', job.fsUuid, '--quiet'];
  if (job.compression) args.push(`-z${job.compression}${job.compressionLevel ? `,level=${job.compressionLevel}` : ''}`);
  args.push(DEVICE_PATH, TREE_MOUNT, ...job.extraOptions);
  return args;
}

/**
 * Options of ours before systemd-repart's, for sid's mkfs.erofs (1.9.4; trixie's 1.8.6 has no
 * job queue). Its tree walk queues each file, opened, for a worker thread to write, up to
 * RLIMIT_NOFILE/2 or 32,768 entries; here that worker is a fiber that runs only when the walk
 * blocks, so the walk opened files until the descriptor table was full: on Debian's /usr (7,200
 * entries) mkfs.erofs failed with EMFILE ("No file descriptors available"). One entry: the walk
 * waits for each file, as a worker that keeps up does; the images equal 262's (the oracle tier).
 */
export function erofsHostArgs(job: FormatJob): string[] {
  return toolSetFor(jobCompat(job)) === 'sid' ? ['--async-queue-limit=1'] : [];
}

export const erofsDriver: FsDriver = {
  formats: ['erofs'],
  async format(job: FormatJob, progress?: (p: FormatProgress) => void): Promise<FormatOutcome> {
    if (job.format !== 'erofs') {
      throw new FsError('E_FS', `erofs driver cannot make Format=${job.format}`, { file: job.definitionFile, key: 'Format' });
    }
    if (job.compression && !EROFS_COMPRESSORS.has(job.compression)) {
      throw new FsError('E_FS', `Compression=${job.compression} is not an erofs compressor (${[...EROFS_COMPRESSORS].join(', ')})`, {
        file: job.definitionFile, key: 'Compression',
      });
    }
    return formatSelfSized(withRoot(job), 'mkfs.erofs', [...erofsHostArgs(job), ...mkfsErofsArgs(job)], toolEnv(job, []), progress);
  },
};

/** The tree the tool reads. These tools always need a source directory; an unpopulated
 * partition gets an empty one (0755 root:root, SOURCE_DATE_EPOCH or now). */
export function withRoot(job: FormatJob): FormatJob {
  if (job.tree) return job;
  const now = { sec: jobNowSeconds(job), nsec: 0 };
  return {
    ...job,
    tree: {
      root: { kind: 'dir', ino: 1, meta: { perm: 0o755, uid: 0, gid: 0, atime: now, mtime: now, ctime: now }, entries: new Map() },
      nextIno: 2,
    },
  };
}
