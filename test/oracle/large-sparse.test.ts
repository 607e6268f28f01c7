/**
 * A sparse 2.5 GiB file with data at its start, past 2 GiB and at its end, through both builders:
 * erofs compressed (16 MiB segments; past 126 of them our wasm32 mkfs.erofs lost the rest of the
 * file, wasm/rofs/patches/erofs-utils-*-mt-segment-errors-and-buffers.patch) and squashfs
 * (sparse blocks). The whole images must equal systemd-repart's, at 257 and 262.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareWholeImage, referenceSkipReason, type Suite } from '../helpers/reference.js';
import { writeSparseFile } from '../helpers/fs-jobs.js';

const GiB = 2 ** 30;
const env = { SOURCE_DATE_EPOCH: '1700000000' };

function sparseTree(root: string): void {
  mkdirSync(path.join(root, 'd'), { recursive: true });
  const size = 2.5 * GiB + 12345;
  writeSparseFile(path.join(root, 'd/big'), size, [[0, randomBytes(65536)], [2.25 * GiB - 3000, randomBytes(200_000)], [size - 5000, randomBytes(5000)]]);
  writeFileSync(path.join(root, 'small'), 'x');
}

for (const suite of ['sid', 'trixie'] as Suite[]) {
  describe(`a 2.5 GiB sparse file vs systemd-repart (${suite})`, () => {
    const cases: [string, string][] = [['erofs', 'Compression=lz4hc\nMinimize=best'], ['squashfs', 'Minimize=best']];
    for (const [format, keys] of cases) {
      it(`${format}: the whole image is identical`, { skip: referenceSkipReason(suite) ?? false, timeout: 5 * 60 * 1000 }, () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'large-sparse-'));
        try {
          sparseTree(path.join(dir, 'tree'));
          const { ours, same } = compareWholeImage(suite, dir, `[Partition]\nType=root\nCopyFiles=${dir}/tree:/\nFormat=${format}\n${keys}\n`, env);
          assert.equal(ours.status, 0, ours.stderr);
          assert.ok(same, `${suite} ${format}: the image differs from systemd-repart's`);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  });
}
