/**
 * Putting a finished file in place under its final name without ever replacing a file that is
 * there (or appeared meanwhile). link() does that atomically; where the target file system has no
 * hard links (vfat/exFAT, some network file systems: EPERM, ENOTSUP, ENOSYS), the name is claimed
 * with an exclusive create (O_EXCL: fails if anything has it) and the finished file is renamed
 * over that empty claim — the same guarantee against existing files, a window only against a
 * process that deletes our claim in the meantime.
 */
import { closeSync, linkSync, openSync, renameSync, unlinkSync } from 'node:fs';

const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK']);

export interface PublishFs {
  link: (from: string, to: string) => void;
}

/** Move `tmp` to `target`, failing with EEXIST (as link() does) if `target` exists. */
export function publishNew(tmp: string, target: string, fsOps: PublishFs = { link: linkSync }): void {
  try {
    fsOps.link(tmp, target);
    unlinkSync(tmp);
    return;
  } catch (e) {
    if (!NO_HARD_LINKS.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
  }
  closeSync(openSync(target, 'wx'));
  try {
    renameSync(tmp, target);
  } catch (e) {
    unlinkSync(target);
    throw e;
  }
}
