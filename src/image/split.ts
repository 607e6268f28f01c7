/**
 * --split=yes on an image that needs no changes (262 still writes the split files, as mkosi's
 * third disk call expects): each partition's bytes copied out of the image as it is, into a
 * temporary file beside the target, then linked into place (never replacing a file).
 */
import { closeSync, fsyncSync, linkSync, openSync, rmSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { RepartError } from '../errors.js';
import { copySparse, ImageFile } from './file.js';

export interface SplitOut {
  offset: bigint;
  size: bigint;
  path: string;
}

export function writeSplitFiles(image: string, parts: SplitOut[]): void {
  let fd: number;
  try { fd = openSync(image, 'r'); } catch (e) { throw new RepartError('E_IMAGE_IO', `cannot open image: ${(e as Error).message}`, { file: image }); }
  const temps: [string, string][] = [];
  try {
    for (const p of parts) {
      const t = path.join(path.dirname(p.path), `.#${path.basename(p.path)}.${randomBytes(6).toString('hex')}.tmp`);
      temps.push([t, p.path]);
      const out = ImageFile.open(t, 'wx');
      try {
        out.truncate(p.size);
        copySparse(fd, p.offset, out, 0n, p.size);
        fsyncSync(out.fd);
      } finally { out.close(); }
    }
    for (const [t, target] of temps) {
      try { linkSync(t, target); } catch (e) { throw new RepartError('E_IMAGE_IO', `cannot create split file: ${(e as Error).message}`, { file: target }); }
      unlinkSync(t);
    }
  } finally {
    closeSync(fd);
    for (const [t] of temps) rmSync(t, { force: true });
  }
}
