/**
 * --copy-from=IMAGE (context_copy_from_one()): every partition of another image becomes a
 * definition placed before the repart.d ones — same type, UUID, label, attributes, size (min =
 * max) and padding, its bytes copied in as with CopyBlocks=.
 */
import { asCompat, type Compat } from '../compat.js';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { RepartError } from '../errors.js';
import { readGpt } from '../gpt/table.js';
import { sameType, typeFromUuid, type PartitionType } from '../gpt/types.js';
import { currentPadding, existingFromGpt } from '../plan/existing.js';
import { emptyDefinition, type PartitionDefinition } from './definition.js';

/** libfdisk's grain for an image file without topology: 1 MiB (what the source padding is rounded to). */
const LIBFDISK_GRAIN = 1024n * 1024n;

export async function definitionsFromImage(image: string, compat: Compat | number, filter?: { mode: 'include' | 'exclude'; types: PartitionType[] }): Promise<PartitionDefinition[]> {
  let fd: number;
  try { fd = openSync(image, 'r'); } catch (e) { throw new RepartError('E_SOURCE', `--copy-from=: cannot open ${image}: ${(e as Error).message}`, { file: image }); }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new RepartError('E_SOURCE', `${image} is not a file`, { file: image });
    const size = BigInt(st.size);
    const g = await readGpt(async (off, len) => {
      const b = Buffer.alloc(len);
      readSync(fd, b, 0, len, Number(off));
      return b;
    }, size, `${image}: `);
    if (!g) throw new RepartError('E_IMAGE_LABEL', `Cannot copy from disk ${image} with no GPT disk label.`, { file: image });
    const table = existingFromGpt(g, size);
    const out: PartitionDefinition[] = [];
    for (const e of table.partitions) {
      const type = typeFromUuid(e.type);
      if (filter && filter.types.some((t) => sameType(t, type)) !== (filter.mode === 'include')) continue;
      const d = emptyDefinition(image, `copy-from-${e.partno}`);
      d.type = type;
      d.uuid = e.uuid;
      if (e.label !== '') d.label = e.label;
      d.sizeMin = d.sizeMax = e.size;
      // 262 keeps the gap to the next partition exactly as it is (TEST-58 copy_from_grain_padding:
      // 8191 sectors stay 8191 with --grain-size=512) and does not carry the free space after the
      // last partition over; 257 takes libfdisk's padding, rounded to its 1 MiB grain
      const end = e.offset + e.size;
      const next = table.partitions.reduce<bigint | null>((m, q) => (q.offset >= end && (m === null || q.offset < m) ? q.offset : m), null);
      d.paddingMin = d.paddingMax = asCompat(compat).copyFromNoTrailingPadding ? (next === null ? 0n : next - end) : currentPadding(e, table, table.lastUsableLba, LIBFDISK_GRAIN);
      d.flags = e.attributes;
      d.copyFrom = { path: image, offset: e.offset, length: e.size };
      out.push(d);
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
