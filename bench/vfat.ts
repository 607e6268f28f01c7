/**
 * Benchmark (not a test): populate a 300 MB ESP (a few large files + 2,000 small ones) with the
 * vfat driver, versus `cp -r` of the same tree into a directory on the same disk. Reports the
 * ratio; the goal is >= 80% of cp's speed.  Run: node dist/bench/vfat.js [workdir]
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { buildTree } from '../src/tree/build.js';
import { formatVfat } from '../src/fs/vfat/index.js';

const work = mkdtempSync(join(process.argv[2] ?? '/var/tmp', 'vfat-bench-'));
const src = join(work, 'src');
try {
  mkdirSync(join(src, 'EFI/Linux'), { recursive: true });
  for (let i = 0; i < 4; i++) writeFileSync(join(src, 'EFI/Linux', `kernel-${i}.efi`), randomBytes(60 << 20));
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(src, 'loader', `dir${d}`), { recursive: true });
    for (let i = 0; i < 100; i++) writeFileSync(join(src, 'loader', `dir${d}`, `entry-file-${i}.conf`), randomBytes(4096 + ((i * 997) % 20000)));
  }
  execFileSync('sync');
  const runs = 3;
  const best = (f: () => Promise<void> | void) => async () => {
    let min = Infinity;
    for (let i = 0; i < runs; i++) {
      const t = process.hrtime.bigint();
      await f();
      min = Math.min(min, Number(process.hrtime.bigint() - t) / 1e6);
    }
    return min;
  };
  const cpMs = await best(() => {
    rmSync(join(work, 'copy'), { recursive: true, force: true });
    execFileSync('cp', ['-r', src, join(work, 'copy')]);
  })();
  const img = join(work, 'esp.img');
  const size = 300 * 1024 * 1024;
  const oursMs = await best(async () => {
    rmSync(img, { force: true });
    writeFileSync(img, '');
    truncateSync(img, size);
    const tree = await buildTree({ copySource: '/', copyFiles: [{ source: src, target: '/' }], excludeFiles: [], excludeFilesTarget: [], makeDirectories: [], makeSymlinks: [], subvolumes: [], owner: { uid: 0, gid: 0 }, now: { sec: 0, nsec: 0 }, sourceDateEpoch: 0 });
    await formatVfat({ window: { path: img, offset: 0, size }, label: 'ESP', volumeId: 1, sectorSize: 512, fatBits: 32, tree, sourceDateEpoch: 0 });
  })();
  console.log(`cp -r: ${cpMs.toFixed(0)} ms; repart-ts vfat (tree + format + populate): ${oursMs.toFixed(0)} ms; ratio (cp time / ours) = ${(cpMs / oursMs).toFixed(2)} (goal >= 0.80)`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
