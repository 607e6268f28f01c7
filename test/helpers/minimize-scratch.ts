/** A generated closure and a one-partition definition with Minimize=, for the Minimize= CLI tests. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from '../../test-images/gen-tree.js';

export const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';

export function minimizeScratch(format: string, minimize: string, extra = ''): { dir: string; tree: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-min-'));
  const tree = path.join(dir, 'tree');
  generate('closure', tree, 5, 40 * 1024 * 1024, 1500);
  mkdirSync(path.join(dir, 'defs'));
  writeFileSync(path.join(dir, 'defs/root.conf'), `[Partition]\nType=root\nFormat=${format}\nCopyFiles=${tree}:/\nMinimize=${minimize}\n${extra}`);
  return { dir, tree };
}
