/**
 * Stages "load table" and "bind existing": what the device holds now, and one PartitionState per
 * definition (incremental mode: the existing partition it takes over).
 * Writes: deviceExists, deviceSize, gpt, table, partitions, sectorSize, fsSectorSize, grain,
 * size, nodeBase; with no definitions and a table, rows (the listing) and done.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { RepartError } from '../errors.js';
import { formatUuid } from '../gpt/guid.js';
import { gptGeometry, type ReadGpt } from '../gpt/table.js';
import { sameType, typeFromUuid } from '../gpt/types.js';
import { inspectDisk } from '../image/disk-label.js';
import { checkPartitionCount, checkSizeInputs } from '../plan/limits.js';
import { bindExisting, currentPadding, existingFromGpt } from '../plan/existing.js';
import { deriveLabels } from '../plan/plan.js';
import { partitionNode, type PartitionRow } from '../report/json.js';
import type { BuildContext, Stage } from './context.js';

export const loadTableStage: Stage = {
  name: 'load table',
  async run(ctx: BuildContext) {
    const o = ctx.request, device = ctx.device;
    // device "-": no image at all, only the size one would need (262)
    if (device === '-') return;
    ctx.deviceExists = existsSync(device);
    if (o.empty === 'create' && ctx.deviceExists && !o.dryRun) throw new RepartError('E_IMAGE_EXISTS', 'image file already exists, refusing (--empty=create)', { file: device });
    if (o.empty !== 'create' && !ctx.deviceExists) throw new RepartError('E_IMAGE_IO', 'failed to open device: No such file or directory', { file: device });
    if (!ctx.deviceExists || o.empty === 'create') return;
    let st;
    try { st = statSync(device); } catch (e) { throw new RepartError('E_IMAGE_IO', (e as Error).message, { file: device }); }
    if (!st.isFile()) throw new RepartError('E_IMAGE_IO', 'not a regular file; repart-ts only writes image files', { file: device });
    ctx.deviceSize = BigInt(st.size);
    if (o.empty === 'force') return;
    // anything but a GPT repart-ts fully understands is refused here, before any planning
    ctx.gpt = await inspectDisk(device, ctx.deviceSize, o.empty);
  },
};

/** Lists an existing table as repart does when there are no definitions (every entry foreign). */
export const listExistingStage: Stage = {
  name: 'list existing table',
  // a --size= that grows the file goes the whole way (mkosi's RuntimeSize= passes no definitions)
  when: (ctx) => ctx.gpt !== null && ctx.definitions.length === 0 && !(typeof ctx.request.size === 'bigint' && ctx.request.size > ctx.deviceSize),
  run(ctx: BuildContext) {
    ctx.rows = listExisting(ctx.gpt!, ctx.deviceSize, ctx.device, ctx.request.grainSize);
    ctx.warn('No changes.');
    ctx.done = true;
  },
};

export const bindExistingStage: Stage = {
  name: 'bind existing',
  run(ctx: BuildContext) {
    const o = ctx.request, device = ctx.device, existing = ctx.gpt;
    if (existing) {
      if (o.sectorSize !== undefined && o.sectorSize !== existing.sectorSize)
        throw new RepartError('E_IMAGE_LABEL', `Disk has a GPT for ${existing.sectorSize}-byte sectors, not --sector-size=${o.sectorSize}, not repartitioning.`, { file: device }, 77);
      if (existing.header.numEntries !== 128 || existing.header.entrySize !== 128)
        throw new RepartError('E_NOT_IMPLEMENTED', `the existing GPT has ${existing.header.numEntries} entries of ${existing.header.entrySize} bytes; repart-ts only rewrites tables of 128 entries of 128 bytes`, { file: device });
      ctx.table = existingFromGpt(existing, ctx.deviceSize);
    }
    const binding = bindExisting(ctx.definitions, ctx.table);
    checkPartitionCount(ctx.definitions, (i) => binding.bound[i] !== undefined, ctx.table);

    ctx.sectorSize = ctx.table?.sectorSize ?? o.sectorSize ?? 512;
    ctx.fsSectorSize = o.sectorSize ?? 4096;
    ctx.grain = BigInt(Math.max(o.grainSize ?? 4096, ctx.sectorSize));
    const labels = deriveLabels(ctx.definitions, binding.bound.map((b) => b?.label));
    // --defer-partitions= by type; 259+ also Format=empty / FactoryReset=yes partitions on request
    ctx.partitions = ctx.definitions.map((def, index) => ({
      index, def, existing: binding.bound[index], label: labels[index]!,
      deferredByOptions: o.defer.some((x) => sameType(x, def.type)) || (o.deferEmpty && def.formatEmpty === true) || (o.deferFactoryReset && def.factoryReset),
      selfSized: false, extraPasses: 0,
    }));

    if (o.size === 'auto') ctx.size = 'auto';
    else if (o.size !== undefined) ctx.size = o.size > ctx.deviceSize ? o.size : ctx.deviceSize;
    else ctx.size = ctx.deviceSize;
    checkSizeInputs(ctx.definitions, ctx.size, o.grainSize);
    if (ctx.size !== 'auto' && ctx.size === 0n) throw new RepartError('E_IMAGE_IO', 'image file is empty; use --size= to grow it', { file: device });
    // with --empty=create the device name is used as given, else its absolute path (JSON node, split files)
    ctx.nodeBase = o.empty === 'create' ? device : path.resolve(device);
  },
};

function listExisting(g: ReadGpt, imageSize: bigint, device: string, grainSize: number | undefined): PartitionRow[] {
  const grain = BigInt(Math.max(grainSize ?? 4096, g.sectorSize));
  const table = existingFromGpt(g, imageSize);
  const geo = gptGeometry(imageSize, g.sectorSize);
  const lastUsable = table.lastUsableLba < geo.lastUsableLba ? table.lastUsableLba : geo.lastUsableLba;
  return table.partitions.map((e) => {
    const padding = currentPadding(e, table, lastUsable, grain);
    return {
      // an unnamed entry is shown with its type's name, as repart lists it
      type: typeFromUuid(e.type).name, label: e.label || typeFromUuid(e.type).name, uuid: formatUuid(e.uuid), partno: e.partno,
      file: null, node: partitionNode(path.resolve(device), e.partno), offset: e.offset,
      oldSize: e.size, rawSize: e.size, oldPadding: padding, rawPadding: padding, activity: 'unchanged',
    };
  });
}
