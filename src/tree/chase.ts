/**
 * Path resolution confined to a root directory, as systemd's chase() with CHASE_PREFIX_ROOT
 * does for --root=/--copy-source=: the path is taken relative to the root, ".." never climbs
 * above it, and symlinks are followed *inside* it (an absolute target restarts at the root, a
 * relative one continues from the link's directory). Nothing is ever resolved on the host:
 * `root/blk -> /var/tmp/x` names `root/var/tmp/x`, not the host's /var/tmp/x.
 *
 * Pure path logic; the only file system access is lstat/readlink of the components, through an
 * injectable interface (tests, and callers that cache stats).
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';

export interface ChaseFs {
  /** 'dir' | 'symlink' | 'other' for an existing entry, null when it does not exist. */
  kind(hostPath: string): 'dir' | 'symlink' | 'other' | null;
  readlink(hostPath: string): string;
}

export const hostChaseFs: ChaseFs = {
  kind(p) {
    try {
      const st = lstatSync(p);
      return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'other';
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw e;
    }
  },
  readlink: (p) => readlinkSync(p),
};

export class ChaseError extends Error {
  constructor(readonly errno: 'ELOOP' | 'ENOTDIR', readonly path: string) {
    super(`${path}: ${errno === 'ELOOP' ? 'too many levels of symbolic links' : 'not a directory'}`);
  }
}

export interface Chased {
  /** the host path: root joined with `inRoot`. */
  hostPath: string;
  /** the resolved path as seen from inside the root ("/" based, normalised). */
  inRoot: string;
  /** false when a component (and so everything after it) does not exist. */
  exists: boolean;
}

const MAX_HOPS = 40;

/** Lexical components of a path inside the root; ".." at the root stays at the root. */
export function clampedComponents(path: string): string[] {
  const out: string[] = [];
  for (const c of path.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') out.pop();
    else out.push(c);
  }
  return out;
}

/**
 * Resolve `path` (absolute or relative: both are taken from the root) inside `root`.
 * `followLast`: whether a symlink in the last position is followed (default true).
 * Components that do not exist are kept lexically (CHASE_NONEXISTENT).
 */
export function chaseInRoot(root: string, path: string, opts: { followLast?: boolean; fs?: ChaseFs } = {}): Chased {
  const fs = opts.fs ?? hostChaseFs;
  const base = posix.resolve(root || '/');
  const followLast = opts.followLast ?? true;
  let todo = path.split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let hops = 0;
  let exists = true;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === '..') {
      done.pop();
      continue;
    }
    if (!exists) {
      done.push(c);
      continue;
    }
    const p = posix.join(base, ...done, c);
    const kind = fs.kind(p);
    if (kind === null) {
      exists = false;
      done.push(c);
      continue;
    }
    const last = todo.length === 0;
    if (kind === 'symlink' && (!last || followLast)) {
      if (++hops > MAX_HOPS) throw new ChaseError('ELOOP', path);
      const target = fs.readlink(p);
      if (target.startsWith('/')) done.length = 0;
      todo = [...target.split('/').filter((x) => x !== '' && x !== '.'), ...todo];
      continue;
    }
    if (kind !== 'dir' && todo.length > 0) throw new ChaseError('ENOTDIR', path);
    done.push(c);
  }
  return { hostPath: posix.join(base, ...done), inRoot: '/' + done.join('/'), exists };
}

/** The host path of `path` resolved inside `root` (or on the host when there is no root). */
export function hostPathIn(root: string | undefined, path: string, opts?: { followLast?: boolean; fs?: ChaseFs }): string {
  if (!root) return posix.resolve(path);
  return chaseInRoot(root, path, opts).hostPath;
}
