/**
 * Format=xfs: the real mkfs.xfs (xfsprogs, WebAssembly build in wasm/xfs/) with the arguments
 * systemd-repart passes (formatting.md §3), filled through a protofile generated from the
 * virtual tree (protofile.ts) and writing straight into the partition window.
 *
 * One build serves every --compat: Debian trixie's xfsprogs 6.13.0 (systemd 257's). sid's
 * 7.2.0 (systemd 262's) cannot be built yet (its sources answer 404 on the package mirror), so
 * under 262 the 6.13.0 build is given 7.2.0's changed defaults (exchange=1, parent=1,
 * autofsck=repair): that gives the same geometry and superblock as 7.2.0
 * (test/oracle/xfs.test.ts). 262 passes the directory itself (`-p <dir>`, xfsprogs >= 6.17),
 * and so do we: our build reads a directory as 7.2.0 does (wasm/xfs/ext/populate_dir.c), here
 * the tree's mount point. 257 gets its protofile. See wasm/xfs/README.md.
 */
import { FsError } from '../../errors.js';
import { jobCompat, type FormatJob, type FormatOutcome, type FormatProgress, type FsDriver } from '../driver.js';
import { gnuPermute } from '../ext4/index.js';
import { FORMAT_FACTS, mangleLinuxLabel } from '../facts.js';
import { DEVICE_PATH, runForJob, toolEnv, TREE_MOUNT } from '../wasm/common.js';
import { makeProtofile, type Protofile } from './protofile.js';
import { objectTree } from '../../tree/packed.js';

/** Where the protofile and alias paths appear inside the tool (served from memory). */
export const PROTOFILE_PATH = '/repart-xfs.proto';
const ALIAS_DIR = '/repart-xfs-files';

/** mkfs.xfs' getopt() string (xfsprogs 6.13.0 and 7.2.0, mkfs/xfs_mkfs.c). */
const MKFS_XFS_OPTSTRING = 'b:c:d:i:l:L:m:n:KNp:qr:s:CfV';

/** Suboptions whose defaults changed between xfsprogs 6.13.0 and 7.2.0 (mkfs.xfs -i/-n). */
const SID_DEFAULTS: [flag: string, sub: string][] = [['-i', 'exchange'], ['-n', 'parent']];

/** The value the user's options give `flag sub` (last one wins; a bare name is "1"), if any. */
function userSubopt(extra: string[], flag: string, sub: string): string | undefined {
  let value: string | undefined;
  extra.forEach((w, i) => {
    const subs = w === flag ? extra[i + 1] ?? '' : w.startsWith(flag) ? w.slice(flag.length) : '';
    for (const kv of subs.split(',')) {
      const [k, v] = kv.split('=');
      if (k === sub) value = v ?? '1';
    }
  });
  return value;
}

/**
 * The options that give trixie's 6.13.0 sid's 7.2.0 defaults, unless the user set them.
 * 7.2.0 also sets the root directory's `trusted.xfs:autofsck` to "repair" when reverse mapping
 * and parent pointers are on (both are by default; measured: `-n parent=0` or `-m rmapbt=0`
 * leave it unset), which 6.13.0 does for `-m autofsck=repair`.
 */
export function sidDefaultArgs(extra: string[]): string[] {
  const out: string[] = [];
  for (const [flag, sub] of SID_DEFAULTS) {
    if (userSubopt(extra, flag, sub) === undefined) out.push(flag, `${sub}=1`);
  }
  const on = (flag: string, sub: string) => (userSubopt(extra, flag, sub) ?? '1') !== '0';
  if (userSubopt(extra, '-m', 'autofsck') === undefined && on('-m', 'crc') && on('-m', 'rmapbt') && on('-n', 'parent')) {
    out.push('-m', 'autofsck=repair');
  }
  return out;
}

/** 260+ give mkfs.xfs the directory to copy (262: sid's 7.2.0); earlier versions a protofile. */
export function populatesFromDirectory(job: FormatJob): boolean {
  return jobCompat(job).xfsPopulateFromDirectory;
}

/**
 * mkfs.xfs argv (without argv[0]) as systemd-repart builds it. Populated: `proto` (257's
 * protofile), or `'directory'` (262: `-p` names the tree's mount point).
 */
export function mkfsXfsArgs(job: FormatJob, proto: Protofile | 'directory' | null): string[] {
  const label = mangleLinuxLabel(job.label, FORMAT_FACTS.xfs!.labelMax!, { file: job.definitionFile });
  const args = ['-L', label, '-m', `uuid=${job.fsUuid}`, '-m', 'reflink=1'];
  if (!job.discard) args.push('-K');
  if (proto === 'directory') args.push('-p', TREE_MOUNT);
  else if (proto) args.push('-p', proto.slashesAreSpaces ? `slashes_are_spaces=1,${PROTOFILE_PATH}` : PROTOFILE_PATH);
  args.push('-s', `size=${job.sectorSize}`);
  // sid's mkfs.xfs (7.2.0) is the one 262 runs: its defaults, on the 6.13.0 build
  if (jobCompat(job).toolsSuite === 'sid') args.push(...sidDefaultArgs(job.extraOptions));
  args.push(DEVICE_PATH, ...job.extraOptions);
  return args;
}

/** One mkfs.xfs run for a job; `trackAllocation` measures what a file would hold (Minimize). */
export async function runMkfsXfs(job: FormatJob, progress?: (p: FormatProgress) => void, trackAllocation = false) {
  if (job.format !== 'xfs') throw new FsError('E_FS', `xfs driver cannot make Format=${job.format}`, { file: job.definitionFile, key: 'Format' });
  if (job.tree && populatesFromDirectory(job)) {
    const args = gnuPermute(mkfsXfsArgs(job, 'directory'), MKFS_XFS_OPTSTRING);
    return runForJob(job, 'mkfs.xfs', 'mkfs.xfs', args, toolEnv(job, []), progress, { trackAllocation, seekHoles: true });
  }
  const proto = job.tree ? makeProtofile(objectTree(job.tree), TREE_MOUNT, ALIAS_DIR, { file: job.definitionFile }) : null;
  const args = gnuPermute(mkfsXfsArgs(job, proto), MKFS_XFS_OPTSTRING);
  const files = proto ? { [PROTOFILE_PATH]: new TextEncoder().encode(proto.text) } : undefined;
  return runForJob(job, 'mkfs.xfs', 'mkfs.xfs', args, toolEnv(job, []), progress, { files, aliases: proto?.aliases, trackAllocation, seekHoles: true });
}

export const xfsDriver: FsDriver = {
  formats: ['xfs'],
  async format(job: FormatJob, progress?: (p: FormatProgress) => void): Promise<FormatOutcome> {
    return (await runMkfsXfs(job, progress)).outcome;
  },
};
