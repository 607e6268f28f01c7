/**
 * What the build needs to know about each Format= without loading its driver: one table instead
 * of sets scattered over the planner, the minimizer and the CLI. Plain data (no driver imports),
 * so the planner and the worker threads can both read it cheaply.
 */
import { FsError, type ErrorWhere } from '../errors.js';

export interface FormatFacts {
  /** the tool sizes the file system itself (Minimize= formats first, then places the partition) */
  readonly selfSized: boolean;
  /** Minimize= can size it (by our model, or by formatting for self-sized ones) */
  readonly minimizable: boolean;
  /** read-only file system (partition minimum 1 byte rather than 10 MiB, formatting.md §7) */
  readonly readOnly: boolean;
  /** longest label in UTF-8 bytes (mangle_linux_fs_label()); absent: the driver takes the label as is */
  readonly labelMax?: number;
  /** minimal_size_by_fs_name(), bytes (the ESP's vfat minimum depends on version: plan/sizes.ts) */
  readonly minimum?: bigint;
  /** Compression= values the tool accepts, when it compresses */
  readonly compressors?: readonly string[];
}

const MiB = 1024n * 1024n;

export const FORMAT_FACTS: Readonly<Record<string, FormatFacts>> = {
  swap: { selfSized: false, minimizable: true, readOnly: false, labelMax: 15 },
  vfat: { selfSized: false, minimizable: true, readOnly: false },
  ext2: { selfSized: false, minimizable: true, readOnly: false, labelMax: 16, minimum: 32n * MiB },
  ext3: { selfSized: false, minimizable: true, readOnly: false, labelMax: 16, minimum: 32n * MiB },
  ext4: { selfSized: false, minimizable: true, readOnly: false, labelMax: 16, minimum: 32n * MiB },
  btrfs: { selfSized: false, minimizable: true, readOnly: false, minimum: 256n * MiB, compressors: ['zlib', 'no', 'none'] },
  xfs: { selfSized: false, minimizable: true, readOnly: false, labelMax: 12, minimum: 300n * MiB },
  erofs: { selfSized: true, minimizable: true, readOnly: true, compressors: ['lz4', 'lz4hc', 'lzma', 'deflate', 'zstd'] },
  squashfs: { selfSized: true, minimizable: true, readOnly: true, compressors: ['gzip', 'lzma', 'lzo', 'lz4', 'xz', 'zstd'] },
};

export function formatFacts(format: string | undefined): FormatFacts | undefined {
  return format === undefined ? undefined : FORMAT_FACTS[format];
}

/**
 * mangle_linux_fs_label(): at most `max` UTF-8 bytes, cut at a character boundary. A label that is
 * not valid UTF-16 (a lone surrogate) cannot be encoded and is refused.
 */
export function mangleLinuxLabel(label: string, max: number, where: ErrorWhere = {}): string {
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(label))
    throw new FsError('E_FS', `label "${label}" is not valid UTF-8`, { ...where, key: 'Label' });
  let out = '';
  let bytes = 0;
  for (const ch of label) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > max) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** The label a file system gets from its partition label (formatting.md §2.1). */
export function fsLabelFor(format: string, label: string, where: ErrorWhere = {}): string {
  const max = FORMAT_FACTS[format]?.labelMax;
  return max === undefined ? label : mangleLinuxLabel(label, max, where);
}
