/**
 * Format=squashfs: the real mksquashfs (squashfs-tools 4.6.1, WebAssembly build in
 * wasm/squashfs/) with the arguments systemd-repart passes (formatting.md §3). mksquashfs
 * creates and truncates its output file and pads it to 4 KiB: that file is the partition window
 * (the host maps it onto the window device), and its final size is the outcome's usedBytes.
 */
import { FORMAT_FACTS } from '../facts.js';
import { FsError } from '../../errors.js';
import type { FormatJob, FormatOutcome, FormatProgress, FsDriver } from '../driver.js';
import { DEVICE_PATH, toolEnv, TREE_MOUNT } from '../wasm/common.js';
import { withRoot } from '../erofs/index.js';
import { formatSelfSized } from '../erofs/self-sized.js';

/** mksquashfs -comp values of our build (all that Debian's build has). */
export const SQUASHFS_COMPRESSORS: ReadonlySet<string> = new Set(FORMAT_FACTS.squashfs!.compressors);

/** mksquashfs argv (without argv[0]) as systemd-repart builds it:
 * `<root> <node> -noappend [-comp <alg> [-Xcompression-level <n>]] <extra>`. */
export function mksquashfsArgs(job: FormatJob): string[] {
  const args = [TREE_MOUNT, DEVICE_PATH, '-noappend'];
  if (job.compression) {
    args.push('-comp', job.compression);
    if (job.compressionLevel) args.push('-Xcompression-level', job.compressionLevel);
  }
  args.push(...job.extraOptions);
  return args;
}

export const squashfsDriver: FsDriver = {
  formats: ['squashfs'],
  async format(job: FormatJob, progress?: (p: FormatProgress) => void): Promise<FormatOutcome> {
    if (job.format !== 'squashfs') {
      throw new FsError('E_FS', `squashfs driver cannot make Format=${job.format}`, { file: job.definitionFile, key: 'Format' });
    }
    if (job.compression && !SQUASHFS_COMPRESSORS.has(job.compression)) {
      throw new FsError('E_FS', `Compression=${job.compression} is not a squashfs compressor (${[...SQUASHFS_COMPRESSORS].join(', ')})`, {
        file: job.definitionFile, key: 'Compression',
      });
    }
    // sparseSources: mksquashfs skips the holes of a file whose st_blocks falls short of its size
    // with SEEK_DATA (squashfs-tools reader.c), as it does natively; without, it reads them all
    return formatSelfSized(withRoot(job), 'mksquashfs', mksquashfsArgs(job), toolEnv(job, []), progress, { sparseSources: true });
  },
};
