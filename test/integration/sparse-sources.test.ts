/**
 * Sparse source files through Format=ext4 CopyFiles= (issue 15, item 11): a 100 GiB file with a
 * little data at its start, middle and end goes through in seconds (mke2fs -d asks SEEK_DATA/
 * SEEK_HOLE, wasm/patches/e2fsprogs-create-inode-seek-data.patch; the host finds the holes with
 * O_DIRECT reads, src/io/holes.ts), Minimize=guess sizes the partition by the data, and the file
 * reads back from the image with its holes kept: e2fsck is clean, the extents are exactly the
 * data runs, and the bytes at each run are the source's. Before, the same build read and
 * compared 100 GiB (10 minutes on a loaded 2-core machine): the run timeout makes that a failure.
 * The same file through squashfs: mksquashfs asks SEEK_DATA once it sees st_blocks short of the
 * size (the host shows the host's), and unsquashfs gives the file back with its holes.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { CLI } from '../helpers/reference.js';
import { allocationOf } from '../../src/io/holes.js';
import { writeSparseFile } from '../helpers/fs-jobs.js';

const GiB = 2 ** 30;
const SIZE = 100 * GiB;
const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';
/** the whole run (two scans of 100 GiB of holes and mke2fs): ~25 s on a loaded 2-core machine */
const RUN_TIMEOUT = 240_000;

const work = mkdtempSync(path.join(os.tmpdir(), 'sparse-sources-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** [offset, bytes] of the data: at the start, unaligned in the middle, at the very end */
const RUNS: [number, Buffer][] = [[0, randomBytes(1 << 20)], [50 * GiB + 12345, randomBytes(300_000)], [SIZE - 100_000, randomBytes(100_000)]];

function sparseSource(): string | null {
  const dir = path.join(work, 'src');
  mkdirSync(dir, { recursive: true });
  const f = path.join(dir, 'big');
  writeSparseFile(f, SIZE, RUNS);
  const fd = openSync(f, 'r');
  try {
    // holes are found from st_blocks only where it counts data blocks (ext4, xfs, tmpfs)
    return allocationOf(fd, SIZE) ? f : null;
  } finally {
    closeSync(fd);
  }
}

/** logical → physical block runs of a file, from debugfs stat's EXTENTS section */
function extentsOf(part: string, file: string): { logical: number; physical: number; count: number }[] {
  const out = execFileSync('debugfs', ['-R', `stat ${file}`, part], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const text = out.split('EXTENTS:')[1] ?? '';
  const runs = [];
  for (const m of text.matchAll(/\((\d+)(?:-(\d+))?\):(\d+)(?:-(\d+))?/g)) {
    const l0 = Number(m[1]);
    const l1 = Number(m[2] ?? m[1]);
    runs.push({ logical: l0, physical: Number(m[3]), count: l1 - l0 + 1 });
  }
  return runs;
}

const sourceFile = sparseSource();

test('a 100 GiB sparse file through ext4 CopyFiles= with Minimize=guess: fast, sized by its data, holes kept', {
  skip: sourceFile ? false : `${os.tmpdir()}: a file system whose st_blocks does not count data blocks (holes are not looked for there)`,
  timeout: RUN_TIMEOUT + 60_000,
}, () => {
  const defs = path.join(work, 'defs');
  mkdirSync(defs, { recursive: true });
  writeFileSync(path.join(defs, '10-root.conf'), '[Partition]\nType=root\nFormat=ext4\nCopyFiles=/big:/big\nMinimize=guess\n');
  const r = spawnSync(process.execPath, [CLI, '--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--root=${path.dirname(sourceFile!)}`, `--seed=${SEED}`,
    '--dry-run=no', '--json=short', '--no-progress', 'out.img'], { cwd: work, encoding: 'utf8', timeout: RUN_TIMEOUT, killSignal: 'SIGKILL', env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
  assert.notEqual(r.signal, 'SIGKILL', `repart-ts did not finish in ${RUN_TIMEOUT / 1000} s: the holes were read`);
  assert.equal(r.status, 0, r.stderr);
  const row = (JSON.parse(r.stdout) as { offset: number; raw_size: number }[])[0]!;
  // Minimize=guess by the data (1.4 MiB): ext4's 32 MiB floor, not anything near 100 GiB
  assert.ok(row.raw_size <= 64 * 2 ** 20, `partition of ${row.raw_size} bytes`);

  const part = path.join(work, 'part.img');
  execFileSync('dd', [`if=${path.join(work, 'out.img')}`, `of=${part}`, 'bs=1M', 'iflag=skip_bytes,count_bytes', `skip=${row.offset}`, `count=${row.raw_size}`, 'conv=sparse', 'status=none']);
  const fsck = spawnSync('e2fsck', ['-fn', part], { encoding: 'utf8' });
  assert.equal(fsck.status, 0, `e2fsck -fn:\n${fsck.stdout}${fsck.stderr}`);
  const stat = execFileSync('debugfs', ['-R', 'stat /big', part], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.match(stat, new RegExp(`Size: ${SIZE}\\b`));

  // the extents are the data runs in whole 4 KiB blocks, nothing else
  const BS = 4096;
  const want = RUNS.map(([off, b]) => ({ first: Math.floor(off / BS), last: Math.floor((off + b.length - 1) / BS) }));
  const got = extentsOf(part, '/big');
  const blocks = got.reduce((n, e) => n + e.count, 0);
  assert.equal(blocks, want.reduce((n, w) => n + w.last - w.first + 1, 0), `extents ${JSON.stringify(got)}`);
  // and the bytes of each run are the source's
  const fd = openSync(part, 'r');
  try {
    for (const [off, b] of RUNS) {
      const back = Buffer.alloc(b.length);
      let done = 0;
      while (done < b.length) {
        const pos = off + done;
        const lb = Math.floor(pos / BS);
        const e = got.find((x) => lb >= x.logical && lb < x.logical + x.count);
        assert.ok(e, `no extent holds byte ${pos}`);
        const n = Math.min(b.length - done, (e.logical + e.count) * BS - pos);
        readSync(fd, back, done, n, (e.physical + lb - e.logical) * BS + (pos % BS));
        done += n;
      }
      assert.ok(back.equals(b), `data at ${off} differs`);
    }
  } finally {
    closeSync(fd);
  }
});

test('the same file through squashfs (Minimize=best): mksquashfs skips the holes, unsquashfs gives the file back', {
  skip: sourceFile ? false : `${os.tmpdir()}: a file system whose st_blocks does not count data blocks`,
  timeout: RUN_TIMEOUT + 120_000,
}, () => {
  const dir = path.join(work, 'sq');
  mkdirSync(path.join(dir, 'defs'), { recursive: true });
  writeFileSync(path.join(dir, 'defs/10-root.conf'), '[Partition]\nType=root\nFormat=squashfs\nCopyFiles=/big:/big\nMinimize=best\n');
  const r = spawnSync(process.execPath, [CLI, '--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--root=${path.dirname(sourceFile!)}`, `--seed=${SEED}`,
    '--dry-run=no', '--json=short', '--no-progress', 'out.img'], { cwd: dir, encoding: 'utf8', timeout: RUN_TIMEOUT, killSignal: 'SIGKILL', env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
  assert.notEqual(r.signal, 'SIGKILL', `repart-ts did not finish in ${RUN_TIMEOUT / 1000} s: the holes were read`);
  assert.equal(r.status, 0, r.stderr);
  const row = (JSON.parse(r.stdout) as { offset: number; raw_size: number }[])[0]!;
  assert.ok(row.raw_size <= 8 * 2 ** 20, `partition of ${row.raw_size} bytes`);
  // unsquashfs writes sparse blocks as holes: the file comes back 100 GiB long, ~1.4 MiB allocated
  const u = spawnSync('unsquashfs', ['-no-progress', '-o', String(row.offset), '-d', path.join(dir, 'x'), path.join(dir, 'out.img')], { encoding: 'utf8', timeout: RUN_TIMEOUT });
  assert.equal(u.status, 0, u.stderr);
  const back = path.join(dir, 'x/big');
  const fd = openSync(back, 'r');
  try {
    for (const [off, b] of RUNS) {
      const got = Buffer.alloc(b.length);
      assert.equal(readSync(fd, got, 0, b.length, off), b.length);
      assert.ok(got.equals(b), `data at ${off} differs`);
    }
  } finally {
    closeSync(fd);
  }
  const st = statSync(back);
  assert.equal(st.size, SIZE);
  assert.ok(st.blocks * 512 < 64 * 2 ** 20, `unpacked with ${st.blocks * 512} bytes allocated`);
});
