/**
 * Incremental mode's first look at an existing image (context_load_partition_table()): a GPT we
 * fully understand is returned; everything else is refused, with systemd-repart 262's messages
 * and exit status 77, before anything is planned or written.
 */
import { RepartError } from '../errors.js';
import { foreignLabel } from '../gpt/foreign.js';
import { probeGpt, type ReadGpt } from '../gpt/table.js';
import { ImageFile } from './file.js';

export type EmptyMode = 'refuse' | 'allow' | 'require';

/** null: the disk carries nothing (all of it is free to use, as --empty= allows). */
export async function inspectDisk(device: string, size: bigint, empty: EmptyMode): Promise<ReadGpt | null> {
  const img = ImageFile.open(device, 'r');
  const read = async (off: bigint, len: number) => img.readAt(off, len);
  try {
    const where = { file: device };
    const probe = await probeGpt(read, size, `${device}: `);
    if (probe.kind === 'gpt') {
      if (empty === 'require') throw new RepartError('E_IMAGE_LABEL', 'Disk already has a disk label, refusing.', where, 77);
      return probe.gpt;
    }
    const refuse = (code: 'E_IMAGE_LABEL' | 'E_GPT_CORRUPT', what: string, hint = ''): never => {
      if (empty === 'refuse') throw new RepartError(code, `Disk has no GPT disk label (${what}), not repartitioning.${hint}`, where, 77);
      if (empty === 'require') throw new RepartError(code, `Disk already has a disk label (${what}), refusing.${hint}`, where, 77);
      throw new RepartError(code, `Disk has non-GPT disk label (${what}), not repartitioning.${hint}`, where, 77);
    };
    // libfdisk sees a protective MBR without a valid GPT as a DOS label
    if (probe.kind === 'invalid') return refuse('E_GPT_CORRUPT', `protective MBR, but ${probe.problems.join('; ')}`);
    const foreign = await foreignLabel(read, size);
    if (foreign?.kind === 'label') return refuse('E_IMAGE_LABEL', `${foreign.name} partition table`);
    if (foreign) return refuse('E_IMAGE_LABEL', `it carries a ${foreign.name}`, ' Use --empty=force to overwrite it.');
    if (empty === 'refuse') throw new RepartError('E_IMAGE_LABEL', 'Disk has no GPT disk label, not repartitioning.', where, 77);
    return null;
  } finally {
    img.close();
  }
}
