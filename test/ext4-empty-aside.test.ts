/**
 * mke2fs -d with many empty sources: their scan identities are checked on another thread while
 * mke2fs runs (src/fs/wasm/empty-check.ts), not by one lstat each as they are opened. The image
 * must be the one the inline checks give, and a source changed since the scan must still fail
 * the job with its path and the same message as the inline check (hostile test 7b).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FormatJob } from '../src/fs/driver.js';
import { ext4Driver, mke2fsArgs, mke2fsEnv, gnuPermute } from '../src/fs/ext4/index.js';
import { runForJob } from '../src/fs/wasm/common.js';
import { ASIDE_MIN } from '../src/fs/wasm/empty-check.js';
import { buildTree, type TreeSpec } from '../src/tree/build.js';
import { RepartError } from '../src/errors.js';

const MiB = 1024 * 1024;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ext4-aside-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const spec = (src: string): TreeSpec => ({
  copySource: src, copyFiles: [{ source: '/', target: '/' }], excludeFiles: [], excludeFilesTarget: [], makeDirectories: [],
  makeSymlinks: [], subvolumes: [], owner: { uid: 0, gid: 0 }, now: { sec: 0, nsec: 0 },
});

/** ASIDE_MIN + 100 empty files in 4 directories, and a few with bytes. */
function source(name: string): string {
  const src = path.join(work, name);
  for (let d = 0; d < 4; d++) fs.mkdirSync(path.join(src, `d${d}`), { recursive: true });
  for (let i = 0; i < ASIDE_MIN + 100; i++) fs.writeFileSync(path.join(src, `d${i % 4}`, `e${i}`), '');
  fs.writeFileSync(path.join(src, 'data'), 'some bytes\n');
  fs.writeFileSync(path.join(src, 'd2', 'more'), Buffer.alloc(70000, 7));
  return src;
}

function job(img: string, tree: FormatJob['tree']): FormatJob {
  fs.writeFileSync(img, '');
  fs.truncateSync(img, 66 * MiB);
  return {
    format: 'ext4', window: { path: img, offset: MiB, size: 64 * MiB }, label: 'root', fsUuid: '5e0c3a41-8e0f-4a8b-9d52-3f6a1c2b7e90',
    sectorSize: 4096, tree, sourceDateEpoch: 1700000000, extraOptions: [], discard: false, subvolumes: [], definitionFile: '/x/10-root.conf', windowZeroed: true,
  };
}

/** The ext4 driver's run without the other thread: every empty file lstat'ed as mke2fs opens it. */
async function inline(j: FormatJob): Promise<void> {
  await runForJob(j, 'mke2fs', 'mkfs.ext4', gnuPermute(mke2fsArgs(j), 'b:cd:e:g:i:jl:m:no:qr:s:t:vC:DE:FG:I:J:KL:M:N:O:R:ST:U:Vz:'), mke2fsEnv(j), undefined, { seekHoles: true });
}

test('empty sources checked aside: the same image as checked inline, fsck clean', async () => {
  const src = source('same');
  const tree = await buildTree(spec(src));
  const a = path.join(work, 'aside.img');
  const b = path.join(work, 'inline.img');
  await ext4Driver.format(job(a, tree));
  await inline(job(b, tree));
  assert.ok(fs.readFileSync(a).equals(fs.readFileSync(b)), 'images differ');
  const fsck = spawnSync('e2fsck', ['-fn', `${a}?offset=${MiB}`], { encoding: 'utf8' });
  if (fsck.error) return; // no e2fsprogs on this host: the comparison above is the test
  assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
});

const cases: { name: string; change: (f: string) => void; message: RegExp }[] = [
  { name: 'vanished', change: (f) => fs.rmSync(f), message: /e7: vanished since it was scanned \(ENOENT\)$/ },
  { name: 'replaced', change: (f) => { fs.renameSync(f, `${f}.old`); fs.writeFileSync(f, ''); }, message: /e7: changed since it was scanned \(a different file is at this path now\)$/ },
  { name: 'symlink', change: (f) => { fs.rmSync(f); fs.symlinkSync('/etc/hostname', f); }, message: /e7: changed since it was scanned \(now a symbolic link\) \(ELOOP\)$/ },
  // not decided by the lstat: opened on the formatting thread after the run, as before
  { name: 'grown', change: (f) => fs.writeFileSync(f, 'now with data'), message: /e7: changed size since it was scanned \(0 → 13 bytes\) \(EIO\)$/ },
];
for (const c of cases) {
  test(`an empty source ${c.name} since the scan fails the job with its path (checked aside)`, async () => {
    const src = source(c.name);
    const tree = await buildTree(spec(src));
    c.change(path.join(src, 'd3', 'e7'));
    let aside = '';
    await assert.rejects(ext4Driver.format(job(path.join(work, `${c.name}.img`), tree)), (e: unknown) => {
      assert.ok(e instanceof RepartError, String(e));
      assert.equal(e.code, 'E_SOURCE');
      assert.match(e.message, c.message);
      aside = e.message;
      return true;
    });
    // word for word what the inline check (mke2fs stopped at the file) reports
    await assert.rejects(inline(job(path.join(work, `${c.name}-inline.img`), tree)), (e: unknown) => e instanceof RepartError && e.message === aside);
  });
}
