/**
 * Format=ext2/ext3/ext4: the real mke2fs (e2fsprogs, WebAssembly build in wasm/) with the
 * arguments systemd-repart passes (formatting.md §3), filling the file system from the
 * virtual source tree (-d) and writing straight into the partition window.
 */
import { FsError } from '../../errors.js';
import { FORMAT_FACTS, mangleLinuxLabel } from '../facts.js';
import { jobCompat, type FormatJob, type FormatOutcome, type FormatProgress, type FsDriver } from '../driver.js';
import { DEVICE_PATH, runForJob, toolEnv, TREE_MOUNT } from '../wasm/common.js';
import { toolSetFor, WASM_DIR } from '../wasm/host.js';
import { isPacked, xattrsBelowRoot } from '../../tree/packed.js';

const FORMATS = ['ext2', 'ext3', 'ext4'] as const;

/** mke2fs' getopt() string (e2fsprogs 1.47.2 and 1.47.4, misc/mke2fs.c). */
const MKE2FS_OPTSTRING = 'b:cd:e:g:i:jl:m:no:qr:s:t:vC:DE:FG:I:J:KL:M:N:O:R:ST:U:Vz:';

/**
 * GNU getopt's default argument permutation: options anywhere on the command line are
 * parsed, non-options keep their order after them. systemd-repart appends
 * SYSTEMD_REPART_MKFS_OPTIONS_* after the device node and relies on glibc doing this; the
 * wasm mke2fs uses musl's getopt(), which stops at the first non-option. Doing the same
 * permutation here gives the tool exactly the option set native mke2fs sees.
 */
export function gnuPermute(args: string[], optstring: string): string[] {
  const takesArg = new Set<string>();
  for (let i = 0; i < optstring.length; i++) if (optstring[i + 1] === ':') takesArg.add(optstring[i]!);
  const opts: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      rest.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      rest.push(a);
      continue;
    }
    opts.push(a);
    for (let k = 1; k < a.length; k++) {
      if (!takesArg.has(a[k]!)) continue;
      if (k === a.length - 1 && i + 1 < args.length) opts.push(args[++i]!);
      break;
    }
  }
  return rest.length ? [...opts, '--', ...rest] : opts;
}

/** mke2fs argv (without argv[0]) exactly as systemd-repart builds it. */
export function mke2fsArgs(job: FormatJob): string[] {
  const compat = jobCompat(job);
  const label = mangleLinuxLabel(job.label, FORMAT_FACTS[job.format]?.labelMax ?? 16, { file: job.definitionFile });
  let e = `${job.discard ? 'discard' : 'nodiscard'},lazy_itable_init=1`;
  if (compat.ext4HashSeed) e += `,hash_seed=${job.fsUuid}`;
  const args = ['-L', label, '-U', job.fsUuid, '-I', '256', '-m', '0', '-E', e, '-b', '4096', '-T', 'default'];
  if (job.tree) args.push('-d', TREE_MOUNT);
  args.push(DEVICE_PATH, ...job.extraOptions);
  return args;
}

/** The environment systemd-repart adds for mke2fs (§2.7), on top of the inherited e2fsprogs knobs. */
export function mke2fsEnv(job: FormatJob): Record<string, string> {
  const compat = jobCompat(job);
  const env = toolEnv(job, ['MKE2FS_', 'E2FSPROGS_', 'UNIX_IO_', 'E2FSCK_']);
  env.MKE2FS_DEVICE_SECTSIZE = String(job.sectorSize);
  if (compat.ext4HashSeed && job.sourceDateEpoch !== undefined && env.E2FSPROGS_FAKE_TIME === undefined) {
    env.E2FSPROGS_FAKE_TIME = String(job.sourceDateEpoch);
  }
  // The wasm mke2fs would read the *host's* /etc/mke2fs.conf (a distribution's, if any); use
  // the one shipped with the build this version runs (each identical to its Debian release's
  // /etc/mke2fs.conf) unless asked.
  env.MKE2FS_CONFIG ??= WASM_DIR + (toolSetFor(compat) === 'sid' ? 'sid/' : '') + 'mke2fs.conf';
  return env;
}

export const ext4Driver: FsDriver = {
  formats: FORMATS,
  async format(job: FormatJob, progress?: (p: FormatProgress) => void): Promise<FormatOutcome> {
    if (!(FORMATS as readonly string[]).includes(job.format)) {
      throw new FsError('E_FS', `ext driver cannot make Format=${job.format}`, { file: job.definitionFile, key: 'Format' });
    }
    const args = gnuPermute(mke2fsArgs(job), MKE2FS_OPTSTRING);
    // seekHoles: mke2fs -d copies with SEEK_DATA/SEEK_HOLE (wasm/patches/e2fsprogs-create-inode-
    // seek-data.patch), so a sparse source's holes are skipped without being read, as natively.
    // checkEmptyAside: mke2fs -d opens every regular file, so the empty ones can be checked on
    // another thread while it runs (src/fs/wasm/empty-check.ts), and it takes the files the
    // read-ahead opened (each inode once: src/fs/wasm/fd-handoff.ts).
    // allocatedBlocks: st_blocks as the host allocates the file, so that mke2fs asks SEEK_DATA only
    // of files with room for holes (wasm/patches/e2fsprogs-write-file-fewer-calls.patch).
    // Not systemd-repart's, ours (toolEnv passes no REPART_TS_* from the caller): no entry below
    // the root has xattrs, so mke2fs -d skips its llistxattr() per entry, a call out of
    // WebAssembly each (wasm/patches/e2fsprogs-xattrs-host-flag.patch; the root's are still read).
    const noEntryXattrs: Record<string, string> = job.tree && isPacked(job.tree) && !xattrsBelowRoot(job.tree) ? { REPART_TS_NO_ENTRY_XATTRS: '1' } : {};
    const { outcome } = await runForJob(job, 'mke2fs', `mkfs.${job.format}`, args, { ...mke2fsEnv(job), ...noEntryXattrs }, progress, { seekHoles: true, allocatedBlocks: true, checkEmptyAside: true, takeOpened: true });
    return outcome;
  },
};
