/**
 * Setting and probing user xattrs on host files for tests of what the tree reads from them.
 * tmpfs and overlayfs may refuse user xattrs, so a test asks `userXattrSkip` first.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error === undefined;

/** false when user xattrs can be set in `dir` (a scratch directory), else the reason to skip */
export function userXattrSkip(dir: string): false | string {
  if (has('getfattr') && has('setfattr')) {
    const p = path.join(dir, 'xattr-probe');
    fs.writeFileSync(p, '');
    if (spawnSync('setfattr', ['-n', 'user.probe', '-v', '1', p]).status === 0) return false;
  }
  return `getfattr/setfattr missing or user xattrs unsupported in ${dir}`;
}

/** sets one xattr on `p` itself (never through a link), any bytes in the value */
export function setx(p: string, name: string, value: string | Uint8Array): void {
  const r = spawnSync('setfattr', ['-h', '-n', name, '-v', '0x' + Buffer.from(value).toString('hex'), p], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}
