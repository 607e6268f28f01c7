/**
 * Per-partition size and padding bounds (partition_min_size()/partition_max_size(),
 * gpt-layout.md §3.3), version-aware through `compat`.
 */
import { asCompat, type Compat } from '../compat.js';
import type { PartitionDefinition } from '../config/definition.js';
import { fstypeIsRo } from '../config/load.js';
import { isVeritySigType } from '../gpt/types.js';
import { roundDown, roundUp } from '../config/values.js';

export const MIB = 1024n * 1024n;
const HARD_MIN_SIZE = 4096n;
const VERITY_SIG_SIZE = 16384n;

export interface SizeContext {
  compat: Compat | number;
  grain: bigint;
  /** file system sector size (for the ESP minimum of v262) */
  fsSectorSize: number;
}

/** minimal_size_by_fs_name() / partition_fstype_min_size(); null = unknown */
export function fsMinimum(d: PartitionDefinition, c: SizeContext): bigint | null {
  switch (d.format) {
    case 'ext2': case 'ext3': case 'ext4': return 32n * MIB;
    case 'xfs': return 300n * MIB;
    case 'btrfs': return 256n * MIB;
    case 'vfat':
      if (asCompat(c.compat).espVfatMinimum && (d.type.role === 'esp' || d.type.role === 'xbootldr'))
        return (d.fsSectorSize ?? c.fsSectorSize) >= 4096 ? 260n * MIB : 100n * MIB;
      return null;
    default: return null;
  }
}

export interface SizeInputs {
  /** byte size of the CopyBlocks= source, when known */
  copyBlocksSize?: bigint;
  /** incremental mode: the partition exists with this size (it never shrinks) */
  existingSize?: bigint;
}

export function minSize(d: PartitionDefinition, c: SizeContext, inp: SizeInputs = {}): bigint {
  if (isVeritySigType(d.type)) return VERITY_SIG_SIZE;
  let sz = inp.existingSize ?? HARD_MIN_SIZE;
  if (inp.existingSize === undefined) {
    // what a new partition's content needs
    let add = 0n;
    if (d.encrypt !== 'off') add += roundUp(32n * MIB, c.grain);
    if (inp.copyBlocksSize !== undefined) add += roundUp(inp.copyBlocksSize, c.grain);
    else if (d.format !== undefined || d.encrypt !== 'off') {
      const f = fsMinimum(d, c);
      add += f === null ? c.grain : roundUp(f, c.grain);
    }
    if (add > sz) sz = add;
  }
  const m = d.sizeMin ?? (fstypeIsRo(d.format) || d.verity !== 'off' ? 1n : 10n * MIB);
  const r = roundUp(m, c.grain);
  return r > sz ? r : sz;
}

/** null = unlimited */
export function maxSize(d: PartitionDefinition, c: SizeContext, inp: SizeInputs = {}): bigint | null {
  if (asCompat(c.compat).veritySigSizeByType ? isVeritySigType(d.type) : d.verity === 'signature') return VERITY_SIG_SIZE;
  if (d.sizeMax === undefined) return null;
  let sm = roundDown(d.sizeMax, c.grain);
  if (inp.existingSize !== undefined && inp.existingSize > sm) sm = inp.existingSize;
  const mn = minSize(d, c, inp);
  return sm > mn ? sm : mn;
}

export function minPadding(d: PartitionDefinition): bigint {
  return d.paddingMin ?? 0n;
}

export function maxPadding(d: PartitionDefinition): bigint | null {
  return d.paddingMax ?? null;
}

export function minSizeWithPadding(d: PartitionDefinition, c: SizeContext, inp: SizeInputs = {}): bigint {
  return roundUp(minSize(d, c, inp) + minPadding(d), c.grain);
}
