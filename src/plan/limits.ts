/**
 * Inputs that no image file can hold, refused before any formatting work (also in a dry run):
 * more partitions than a GPT has entries, sizes beyond what a file (and Node's file API, whose
 * offsets are doubles) can address. Each names the key or option that asked for it. Pure.
 */
import type { PartitionDefinition } from '../config/definition.js';
import { RepartError } from '../errors.js';
import { fmtBytes } from './allocate.js';
import type { ExistingTable } from './existing.js';

export const GPT_MAX_PARTITIONS = 128;
/** 2^53 bytes (8 PiB): the largest offset Node's fs calls take exactly; far beyond ext4's 16 TiB files */
export const MAX_IMAGE_BYTES = 1n << 53n;

/**
 * Every definition without an existing partition adds an entry; systemd-repart fails adding the
 * 129th ("Failed to add partition: Numerical result out of range") after formatting the others.
 * Partitions a fixed --size would drop still count here (they rarely matter at 128).
 */
export function checkPartitionCount(defs: readonly PartitionDefinition[], isOld: (i: number) => boolean, table: ExistingTable | undefined): void {
  let n = table?.partitions.length ?? 0;
  for (const [i, d] of defs.entries()) {
    if (isOld(i)) continue;
    if (++n > GPT_MAX_PARTITIONS)
      throw new RepartError('E_NO_SPACE', `Failed to add partition: a GPT holds at most ${GPT_MAX_PARTITIONS} partitions, this would be partition ${n}${table ? ` (${table.partitions.length} exist already)` : ''}.`, { file: d.file });
  }
}

const tooLarge = (what: bigint) => `${fmtBytes(what)} (${what} bytes) is more than an image file can hold (repart-ts writes images up to ${fmtBytes(MAX_IMAGE_BYTES)}, ${MAX_IMAGE_BYTES} bytes), refusing.`;

/** Sizes asked for directly: --size=, --grain-size=, and each definition's minimum sizes. */
export function checkSizeInputs(defs: readonly PartitionDefinition[], size: 'auto' | bigint, grainSize: number | undefined): void {
  if (size !== 'auto' && size > MAX_IMAGE_BYTES) throw new RepartError('E_NO_SPACE', `--size=: ${tooLarge(size)}`);
  if (grainSize !== undefined && BigInt(grainSize) > MAX_IMAGE_BYTES) throw new RepartError('E_NO_SPACE', `--grain-size=: Image would grow too large, a grain of ${tooLarge(BigInt(grainSize))}`);
  for (const d of defs) {
    for (const [key, v] of [['SizeMinBytes', d.sizeMin], ['PaddingMinBytes', d.paddingMin]] as const) {
      if (v !== undefined && v > MAX_IMAGE_BYTES) throw new RepartError('E_NO_SPACE', tooLarge(v), d.where[key] ?? { file: d.file, key });
    }
  }
}

/** The planned image as a whole (many large minimums, or growth by weight). */
export function checkImageSize(imageSize: bigint, device: string): void {
  if (imageSize > MAX_IMAGE_BYTES) throw new RepartError('E_NO_SPACE', `Failed to grow the image: ${tooLarge(imageSize)}`, { file: device });
}
