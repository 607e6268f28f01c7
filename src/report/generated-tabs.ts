/**
 * Writing --generate-fstab= / --generate-crypttab=: each file written beside its target and
 * linked (or, for an fstab being merged, renamed) into place, as the image is. 258+ does not
 * create a file without lines ("… is not specified for any eligible partitions, not generating").
 */
import { existsSync, linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CliOptions } from '../config/cli.js';
import { RepartError } from '../errors.js';
import { formatUuid } from '../gpt/guid.js';
import { deriveUuid } from '../plan/ids.js';
import type { PlannedPartition } from '../plan/plan.js';
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
  if (!root) return file;
  const rel = path.relative(root, file);
  // an absolute path names a file of the root's tree; one already under --root is taken as is
  const inside = !rel.startsWith('..') && !path.isAbsolute(rel);
  return inside ? file : path.join(root, file);
}

export function writeGeneratedTabs(o: CliOptions, partitions: PlannedPartition[], c: TabContext): void {
  if (o.generateFstab) {
    const lines = fstabLines(partitions, (p) => formatUuid(p.fsUuid), o.compat);
    if (lines.length === 0 && o.compat >= 258) c.warn(`MountPoint= is not specified for any eligible partitions, not generating ${o.generateFstab}`);
    else writeFstab(o.generateFstab, lines, o, c.again === true);
  }
  if (o.generateCrypttab) {
    if (!anyCrypttabLine(partitions) && o.compat >= 258) c.warn(`EncryptedVolume= is not specified for any eligible partitions, not generating ${o.generateCrypttab}`);
    else writeNewFile(o.generateCrypttab, crypttabText(partitions, (p) => formatUuid(deriveUuid(p.uuid, 'luks-uuid')), (p) => c.volumeKeys?.get(p)), 'crypttab', c.again === true);
  }
}

function writeFstab(file: string, lines: string[], o: CliOptions, again: boolean): void {
  let existing: string | undefined;
  if (o.compat >= 258 && o.appendFstab !== 'no' && existsSync(file)) existing = readFileSync(file, 'utf8');
  writeNewFile(file, renderFstab(lines, o.compat, o.appendFstab, existing), 'fstab', again || existing !== undefined);
}

/** Written beside and linked into place (never replacing a file unless asked to), as the image is. */
function writeNewFile(file: string, text: string, what: string, replace: boolean): void {
  const tmp = path.join(path.dirname(file), `.#${path.basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, text, { flag: 'wx' });
    if (replace) renameSync(tmp, file);
    else linkSync(tmp, file);
  } catch (e) {
    throw new RepartError('E_IMAGE_IO', `Failed to write ${what}: ${(e as Error).message}`, { file });
  } finally {
    rmSync(tmp, { force: true });
  }
}
