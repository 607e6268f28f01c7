/**
 * Writing --generate-fstab= / --generate-crypttab=: each file written beside its target and
 * linked (or, for an fstab being merged, renamed) into place, as the image is. 258+ does not
 * create a file without lines ("… is not specified for any eligible partitions, not generating").
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CliOptions } from '../config/cli.js';
import { asCompat } from '../compat.js';
import { publishNew } from '../image/publish.js';
import { generatedPath } from '../io/root-paths.js';
import { RepartError } from '../errors.js';
import { formatUuid } from '../gpt/guid.js';
import { deriveUuid } from '../plan/ids.js';
import type { Plan, PlannedPartition } from '../plan/plan.js';
import { anyCrypttabLine, crypttabText } from './crypttab.js';
import { fstabLines, renderFstab } from './fstab.js';

export interface TabContext {
  /** volume keys of the partitions encrypted so far (fixate-volume-key=) */
  volumeKeys?: Map<PlannedPartition, Uint8Array>;
  warn: (m: string) => void;
  /** rewriting files this run already wrote (262 writes them before populating and again at the end) */
  again?: boolean;
}

/** Where a --generate-*= path lands: under --root= when one is given (262), never outside it. */
export function tabTarget(file: string, root: string | undefined): string {
  return generatedPath(root, file);
}

/** The options these files depend on (the command line's, or a BuildRequest's). */
export type TabOptions = Pick<CliOptions, 'generateFstab' | 'generateCrypttab' | 'root' | 'compat' | 'appendFstab'>;

export function writeGeneratedTabs(o: TabOptions, partitions: PlannedPartition[], c: TabContext): void {
  const fstab = o.generateFstab && tabTarget(o.generateFstab, o.root);
  const crypttab = o.generateCrypttab && tabTarget(o.generateCrypttab, o.root);
  if (fstab) {
    const lines = fstabLines(partitions, (p) => formatUuid(p.fsUuid), o.compat);
    if (lines.length === 0 && asCompat(o.compat).generatedTabsSkipEmpty) { if (!c.again) c.warn(`MountPoint= is not specified for any eligible partitions, not generating ${o.generateFstab}`); }
    else writeFstab(fstab, lines, o, c.again === true);
  }
  if (crypttab) {
    if (!anyCrypttabLine(partitions) && asCompat(o.compat).generatedTabsSkipEmpty) { if (!c.again) c.warn(`EncryptedVolume= is not specified for any eligible partitions, not generating ${o.generateCrypttab}`); }
    else writeNewFile(crypttab, crypttabText(partitions, (p) => formatUuid(deriveUuid(p.uuid, 'luks-uuid')), (p) => c.volumeKeys?.get(p)), 'crypttab', c.again === true);
  }
}

/**
 * The early pass (before the source trees are read). `probe` plans with an automatic size; if
 * even that cannot be planned the build fails later with the real error, and the files are only
 * written at the end.
 */
export function writeTabsBeforePopulating(o: TabOptions, probe: () => Plan, warn: (m: string) => void): void {
  if (!o.generateFstab && !o.generateCrypttab) return;
  let plan: Plan;
  try { plan = probe(); } catch { return; }
  // no parent directories are made: 262 fails ("Failed to open temporary file") when one is missing
  writeGeneratedTabs(o, plan.listOrder.map((k) => plan.partitions[k]!), { warn });
}

function writeFstab(file: string, lines: string[], o: TabOptions, again: boolean): void {
  let existing: string | undefined;
  if (asCompat(o.compat).fstabAppend && o.appendFstab !== 'no' && existsSync(file)) existing = readFileSync(file, 'utf8');
  writeNewFile(file, renderFstab(lines, o.compat, o.appendFstab, existing), 'fstab', again || existing !== undefined);
}

/** Written beside and linked into place (never replacing a file unless asked to), as the image is. */
function writeNewFile(file: string, text: string, what: string, replace: boolean): void {
  const tmp = path.join(path.dirname(file), `.#${path.basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text, { flag: 'wx' });
    if (replace) renameSync(tmp, file);
    else publishNew(tmp, file);
  } catch (e) {
    throw new RepartError('E_IMAGE_IO', `Failed to write ${what}: ${(e as Error).message}`, { file });
  } finally {
    rmSync(tmp, { force: true });
  }
}
