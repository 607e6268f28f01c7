/**
 * What the erofs and squashfs drivers share: those tools create their image file themselves and
 * size it to the content (systemd-repart runs them on a temporary file and copies that into the
 * partition). Here the file they create is the partition window (no temporary file): the
 * tool's output size is read off the window device and reported as `usedBytes`; output that
 * does not fit fails with E_FS_NO_SPACE. Like a file, the window lets the tool write a little
 * past its final size before truncating (WindowDevice tailRoom), never into the image.
 */
import { FsError } from '../../errors.js';
import type { FormatJob, FormatOutcome, FormatProgress } from '../driver.js';
import { runForJob, zeroWindow } from '../wasm/common.js';
import type { ToolName } from '../wasm/host.js';

/** writes past the window the tool may truncate away again (mkfs.erofs 1.9.4: one block) */
const TAIL_ROOM = 1 << 20;

export async function formatSelfSized(
  job: FormatJob,
  tool: ToolName,
  args: string[],
  env: Record<string, string>,
  progress?: (p: FormatProgress) => void,
  opts: { sparseSources?: boolean } = {},
): Promise<FormatOutcome> {
  if (!job.windowZeroed) zeroWindow(job);
  const holes = opts.sparseSources ? { seekHoles: true, allocatedBlocks: true } : {};
  const { result, outcome } = await runForJob({ ...job, windowZeroed: true }, tool, tool, args, env, progress, { ...holes, tailRoom: TAIL_ROOM });
  const used = result.device?.end ?? 0;
  if (used > job.window.size) {
    throw new FsError('E_FS_NO_SPACE', `${tool}: the image is ${used} bytes, the partition has ${job.window.size}`, { file: job.definitionFile });
  }
  if (used <= 0) {
    throw new FsError('E_FS', `${tool} finished but its output size (${used} bytes) is not within the partition (${job.window.size} bytes)`, {
      file: job.definitionFile,
    });
  }
  return { ...outcome, usedBytes: used };
}
