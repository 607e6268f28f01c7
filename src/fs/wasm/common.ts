/**
 * What the ext and btrfs drivers share: running a tool for a FormatJob, the environment
 * systemd-repart gives it, label mangling, and turning a failed run into an FsError.
 */
import { DEFAULT_COMPAT } from '../../compat.js';
import { FsError } from '../../errors.js';
import { jobCompat, type FormatJob, type FormatOutcome, type FormatProgress } from '../driver.js';
import { runTool, toolSetFor, type ToolName, type ToolResult } from './host.js';
import { treeTotals, type TreeProgress } from './vtree.js';
import { WindowDevice } from './device.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from './emscripten.js';

/** Where the source tree and the partition appear inside the tool (as they show in messages). */
export const TREE_MOUNT = '/repart-root';
export const DEVICE_PATH = '/dev/repart-partition';

/** systemd-repart version whose mkfs arguments are reproduced when a job does not say. */
export const DEFAULT_SYSTEMD_VERSION = DEFAULT_COMPAT.version;

/**
 * The tool's environment. systemd-repart's mkfs child inherits repart's environment; of that,
 * only what the tools read is passed on (their own knobs), so unrelated host variables cannot
 * change an image. SOURCE_DATE_EPOCH comes from the job.
 */
export function toolEnv(job: FormatJob, prefixes: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && prefixes.some((p) => k.startsWith(p))) env[k] = v;
  }
  delete env.SOURCE_DATE_EPOCH;
  if (job.sourceDateEpoch !== undefined) env.SOURCE_DATE_EPOCH = String(job.sourceDateEpoch);
  return env;
}

/** how the tools (and emscripten's allocator) say that the 2 GiB heap is used up */
const OUT_OF_MEMORY = [/\bOut of memory\b/i, /Cannot allocate memory/i, /\bENOMEM\b/, /Aborted\(OOM\)/, /Cannot enlarge memory/i];

const NO_SPACE = [
  /No space left on device/i,
  /Could not allocate block/i,
  /Not enough space/i,
  /not enough free space/i,
  /device is too small/i,
  /is too small/i,
  /too small to hold/i,
  /ENOSPC/,
  /Inode table too small|Could not allocate inode|inodes? .*exhausted/i,
];

export async function runForJob(
  job: FormatJob,
  tool: ToolName,
  argv0: string,
  args: string[],
  env: Record<string, string>,
  progress?: (p: FormatProgress) => void,
  opts: { checkEmptyAside?: boolean; takeOpened?: boolean; deviceAsEmptyFile?: boolean; trackAllocation?: boolean; tailRoom?: number; files?: Record<string, Uint8Array>; aliases?: Record<string, string>; seekHoles?: boolean; allocatedBlocks?: boolean } = {},
): Promise<{ result: ToolResult; outcome: FormatOutcome }> {
  // Progress is what the tool has read of the tree: files it is done with, bytes read, against
  // the tree's distinct files. Clamped, and only made complete when the tool is done: a file may
  // be read twice (btrfs copies a hard link into each subvolume it spans), and mkfs.btrfs never
  // opens empty files.
  const totals = progress && job.tree ? treeTotals(job.tree) : { files: 0, bytes: 0 };
  const report: TreeProgress | undefined = progress && ((s) => progress({
    files: Math.min(s.filesDone, totals.files), bytes: Math.min(s.bytes, totals.bytes), totalFiles: totals.files, totalBytes: totals.bytes,
  }));
  const result = await runTool({
    tool,
    toolSet: toolSetFor(jobCompat(job)),
    argv0,
    args,
    env,
    tree: job.tree ? { mountPoint: TREE_MOUNT, tree: job.tree, progress: report, checkEmptyAside: opts.checkEmptyAside, handoff: opts.takeOpened ? job.openedSources : undefined } : undefined,
    device: { path: DEVICE_PATH, window: job.window, zeroed: job.windowZeroed ?? false, asEmptyFile: opts.deviceAsEmptyFile, trackAllocation: opts.trackAllocation, tailRoom: opts.tailRoom },
    files: opts.files,
    aliases: opts.aliases,
    seekHoles: opts.seekHoles,
    allocatedBlocks: opts.allocatedBlocks,
  });
  const failure = toolRunFailure(result, job, argv0);
  if (failure) throw failure;
  // the tool has finished with every file
  progress?.({ files: totals.files, bytes: totals.bytes, totalFiles: totals.files, totalBytes: totals.bytes });
  const warnings = (result.stderr || '')
    .split('\n')
    .filter((l) => /warning/i.test(l))
    .map((l) => `${argv0}: ${l.trim()}`);
  return { result, outcome: { warnings, passes: 1 } };
}

/**
 * Make the window read as zeros, as the fresh file a tool that creates its own image expects
 * would (erofs, squashfs, mkfs.btrfs --shrink). Only for windows the caller does not already know
 * to be zero; reads the window once, writes where non-zero.
 */
export function zeroWindow(job: FormatJob): void {
  const dev = new WindowDevice(job.window, (name) => new FsError('E_FS', `zeroing the partition failed: ${name}`, { file: job.definitionFile }), false);
  const h = dev.open();
  try {
    dev.allocate(0, job.window.size, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE);
  } finally {
    h.close(undefined as never);
  }
}

/**
 * Whether a tool's run failed the job, and how: a source not read as planned (E_SOURCE), a
 * non-zero exit or crash, or a write past the window that the device refused (ENOSPC) even if
 * the tool went on and exited 0: the image lacks what it meant to write (mkfs.erofs ignores a
 * failed tail-block write).
 */
export function toolRunFailure(result: Pick<ToolResult, 'status' | 'stdout' | 'stderr' | 'crash' | 'sourceFailure'> & { device?: { overflow: number } }, job: Pick<FormatJob, 'window' | 'definitionFile'>, argv0: string): FsError | null {
  // a source that could not be read as planned fails the run with its path and errno, whatever
  // the tool made of the error it got (stored an empty file, zero-padded, gave up)
  if (result.sourceFailure) {
    const f = result.sourceFailure;
    return new FsError('E_SOURCE', `${argv0}: cannot copy ${f.message}${f.namesErrno || f.errno === 'ESTALE' ? '' : ` (${f.errno})`}`, { file: job.definitionFile });
  }
  const overflow = result.device?.overflow ?? 0;
  if (result.status === 0 && overflow === 0) return null;
  const text = (result.stderr + result.stdout).trim();
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const tail = lines.slice(-6).join('\n');
  const what = result.crash ? `${argv0} crashed (${result.crash})`
    : result.status !== 0 ? `${argv0} failed with exit status ${result.status}`
    : `${argv0} exited 0, but a write past the end of the partition was refused`;
  const code = overflow > 0 || NO_SPACE.some((re) => re.test(text)) ? 'E_FS_NO_SPACE' : 'E_FS';
  const fit = overflow > 0 ? ` (the content needs at least ${overflow} bytes, the partition has ${job.window.size})` : '';
  // the native tool would have had the memory: say so, and (erofs) what usually takes it
  const memory = OUT_OF_MEMORY.some((re) => re.test(text) || re.test(result.crash ?? ''))
    ? ` (out of memory: the WebAssembly ${argv0} has 2 GiB${argv0 === 'mkfs.erofs'
      ? ', which a single large file that does not compress exceeds when Compression= is set; the README\'s erofs and squashfs section says more' : ''})` : '';
  return new FsError(code, `${what}${fit}${memory}${tail ? ':\n' + tail : ''}`, { file: job.definitionFile });
}
