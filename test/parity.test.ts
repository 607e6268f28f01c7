/**
 * Fast tier: behaviours matched to systemd-repart 262 in the parity work (the oracle tier compares
 * them with 262 itself: test/oracle/minimize-vfat.test.ts, mkosi-replay.test.ts, sid-tools.test.ts):
 *  - vfat Minimize=guess is what repart's 1 TiB probe measures (numbers measured with 262);
 *  - the table printed before writing shows "TBD" for a pair hashed only when written, and a
 *    second table (no bar) follows with the root hashes; the sum row keeps its separator;
 *  - a read-only file system's verity tree covers its image, not the partition;
 *  - a self-sized tool's failure is reported as its error (exit 1), not a crash.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { vfatRepartGuess } from '../src/plan/minimize/vfat.js';
import { guessSize } from '../src/plan/minimize/index.js';
import { hostTree } from '../test-images/host-tree.js';
import { renderTable } from '../src/report/table.js';
import { emitSummary } from '../src/report/summary.js';
import { parseCommandLine } from '../src/config/cli.js';
import type { PartitionRow } from '../src/report/json.js';
import { hashedLength } from '../src/build/verity.js';
import type { PartitionState, VerityHashRole } from '../src/build/context.js';
import { run } from '../src/cli/run.js';
import { FsError } from '../src/errors.js';

function tree(files: Record<string, string>) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'parity-'));
  for (const [f, c] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), c);
  }
  return { dir, tree: hostTree(dir) };
}

test('vfat Minimize=guess: 1.5 × what mkfs.fat + mcopy write into a 1 TiB probe (262\'s sizes)', () => {
  // TEST-58 `minimize`: CopyFiles=/…/content copies to the same path, so four parent directories
  const a = tree({ 'tmp/par/vf/content/hello': 'hello\n' });
  const b = tree({ hello: 'hello\n' });
  try {
    // 4096-byte sectors (262's default): 256 KiB probe clusters, FATs 2 × 16 MiB
    const g = vfatRepartGuess(a.tree, { sectorSize: 4096, label: 'root-x86-64' });
    assert.deepEqual(g.detail, { probeClusterBytes: 262144, mkfsBytes: 34078720, directoryBytes: 4 * 262144, fileBytes: 4096, written: 35131392 });
    // 262: "Minimal partition size of vfat filesystem … is 50.2M", the partition 52699136 bytes
    assert.equal(Math.ceil(g.bytes / 4096) * 4096, 52699136);
    // 512-byte sectors (FileSystemSectorSize=512): 32 KiB clusters, FATs 2 × 128 MiB; 262: "384.2M"
    assert.equal(vfatRepartGuess(a.tree, { sectorSize: 512, label: 'root-x86-64' }).bytes, 402954240);
    // no parent directories: mkfs.fat's 32.5 MiB plus one 4 KiB block of data
    assert.equal(vfatRepartGuess(b.tree, { sectorSize: 4096, label: 'x' }).bytes, 51124224);
    // the guess is that size (never below what the content needs)
    const gs = guessSize('vfat', a.tree, { sectorSize: 4096, label: 'root-x86-64' });
    assert.equal(gs.bytes, 52699136);
    assert.ok(gs.bytes >= gs.minimal);
  } finally {
    rmSync(a.dir, { recursive: true, force: true });
    rmSync(b.dir, { recursive: true, force: true });
  }
});

test('vfat Minimize=guess: a directory over one probe cluster (8 192 slots) costs two', () => {
  const files: Record<string, string> = {};
  // 3 000 long names: 3 slots each (2 long-name slots + the 8.3 entry), > 8 192 slots in /d
  for (let i = 0; i < 3000; i++) files[`d/a long file name number ${i}`] = '';
  const t = tree(files);
  try {
    const g = vfatRepartGuess(t.tree, { sectorSize: 4096, label: 'x' });
    assert.equal(g.detail.directoryBytes, 2 * 262144);
    assert.equal(g.detail.fileBytes, 0);
  } finally { rmSync(t.dir, { recursive: true, force: true }); }
});

const ROOTHASH = '3df0989402268645049cb37ca16f85120820fa9a9bd776fc3a1c213dc53bf151';

function row(partno: number, type: string, roothash: string, roothashEarly: string): PartitionRow {
  return {
    type, label: type, uuid: '3df09894-0226-8645-049c-b37ca16f8512', partno, file: `/defs/${partno}0-${type}.conf`, node: `img${partno + 1}`,
    offset: BigInt(1 + partno) << 20n, oldSize: 0n, rawSize: 1n << 20n, oldPadding: 0n, rawPadding: 0n, activity: 'create', roothash, roothashEarly,
  } as PartitionRow;
}

test('tables with verity: "TBD" before writing, the root hashes in a second table without the bar', () => {
  const rows = [row(0, 'root-x86-64', ROOTHASH, 'TBD'), row(1, 'root-x86-64-verity', ROOTHASH, 'TBD')];
  let out = '';
  const o = parseCommandLine(['--offline=yes', 'img']);
  emitSummary(o, { stdout: (s: string) => { out += s; }, isTTY: false, env: {} } as Parameters<typeof emitSummary>[1], rows, 4n << 20n, () => {});
  const tables = out.split(/^(?=TYPE )/m).filter(Boolean);
  assert.equal(tables.length, 2, out);
  assert.match(tables[0]!, /TBD\n/);
  assert.doesNotMatch(tables[0]!, new RegExp(ROOTHASH));
  assert.match(tables[0]!, /└─ 00-root-x86-64\.conf/, 'the bar after the first table');
  assert.match(tables[1]!, new RegExp(`${ROOTHASH}\n`));
  assert.doesNotMatch(tables[1]!, /└─/, 'no bar after the second');
  // format-table does not pad the last column: the sum row ends in the separator before the
  // empty ROOTHASH cell
  assert.match(tables[1]!, /Σ = 0B \n$/);
  // without root hashes: one table, the sum row as before
  const plain = renderTable([{ ...row(0, 'home', 'x', 'x'), roothash: undefined, roothashEarly: undefined }], 4n << 20n, { legend: true, compat: 262, width: 80, color: false, glyphs: { arrow: '→', sigma: 'Σ', dark: '▒', light: '░', vertical: '│ ', branch: '├─', right: '└─' } });
  assert.match(plain, /Σ = 0B\n/);
});

test('verity over a read-only file system covers the image the tool made, not the partition', () => {
  const data = (format: string | undefined, used?: number) => ({ def: { format }, formatted: used === undefined ? undefined : { usedBytes: used, warnings: [], passes: 1 } }) as unknown as PartitionState;
  const role = (d: PartitionState, hashedBytes?: bigint): VerityHashRole => ({ data: d, hashedBytes });
  assert.equal(hashedLength(role(data('erofs', 516096)), 1048576n), 516096n);
  assert.equal(hashedLength(role(data('squashfs', 8192)), 1048576n), 8192n);
  // a writable file system fills its partition; Minimize= says what was measured
  assert.equal(hashedLength(role(data('ext4', 4096)), 1048576n), 1048576n);
  assert.equal(hashedLength(role(data('erofs', 516096), 520192n), 1048576n), 520192n);
});

test('a self-sized tool that fails: its error and exit status 1, no stack trace', { timeout: 60_000 }, async () => {
  const t = tree({ 'usr/hello': 'hi\n' });
  try {
    mkdirSync(path.join(t.dir, 'defs'));
    writeFileSync(path.join(t.dir, 'defs/10-usr.conf'), `[Partition]\nType=usr\nFormat=erofs\nMinimize=best\nCopyFiles=${t.dir}/usr:/\n`);
    let err = '';
    const code = await run(['--offline=yes', `--definitions=${t.dir}/defs`, '--empty=create', '--size=auto', '--dry-run=no', path.join(t.dir, 'img')],
      { stdout: () => {}, stderr: (s) => { err += s; }, isTTY: false, env: {} },
      { formatter: async (jobs) => { throw Object.assign(new FsError('E_FS_NO_SPACE', 'mkfs.erofs crashed', { file: jobs[0]!.definitionFile }), { jobIndex: 0 }); } });
    assert.equal(code, 1);
    assert.match(err, /mkfs\.erofs crashed/);
  } finally { rmSync(t.dir, { recursive: true, force: true }); }
});

test('erofs into a window of exactly its image\'s size: the block mkfs.erofs writes past it and truncates away stays out of the image', { timeout: 120_000 }, async () => {
  const { formatInWorkers, closeWorkerPool } = await import('../src/fs/pool.js');
  const { rofsJob } = await import('./erofs-helpers.js');
  const t = tree({});
  try {
    let x = 0x12345678;
    const noise = Buffer.alloc(300_000);
    // (exact 32-bit LCG steps: this content is one where mkfs.erofs 1.9.4 -zzstd overshoots)
    for (let i = 0; i < noise.length; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; noise[i] = x >>> 24; }
    mkdirSync(path.join(t.dir, 'src/usr/share/doc'), { recursive: true });
    writeFileSync(path.join(t.dir, 'src/usr/share/doc/README'), Array.from({ length: 20000 }, (_, i) => `line ${i} of a compressible document\n`).join(''));
    writeFileSync(path.join(t.dir, 'src/usr/share/doc/noise'), noise);
    const src = hostTree(path.join(t.dir, 'src'));
    const MiB = 1 << 20;
    const run = async (name: string, size: number) => {
      const img = path.join(t.dir, name);
      writeFileSync(img, Buffer.alloc(0));
      const fd = await import('node:fs').then((m) => m.openSync(img, 'r+'));
      const { writeSync, closeSync, readFileSync } = await import('node:fs');
      writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 40 * MiB); // a marker after every window
      closeSync(fd);
      try {
        const [o] = await formatInWorkers([rofsJob('erofs', { window: { path: img, offset: MiB, size }, tree: src, systemdVersion: 262, compression: 'zstd' })]);
        return { used: o!.usedBytes!, bytes: readFileSync(img) };
      } catch (e) {
        return { error: e as Error, bytes: readFileSync(img) };
      }
    };
    const big = await run('big.img', 32 * MiB);
    assert.ok('used' in big && big.used! > 0);
    const used = (big as { used: number }).used;
    const exact = await run('exact.img', used);
    assert.equal((exact as { used?: number }).used, used, 'fits in exactly its size, as in a temporary file');
    assert.ok(exact.bytes.subarray(MiB, MiB + used).equals(big.bytes.subarray(MiB, MiB + used)), 'the same image');
    assert.ok(exact.bytes.subarray(MiB + used, 40 * MiB).every((b) => b === 0), 'nothing written past the window');
    assert.ok(exact.bytes.subarray(40 * MiB, 40 * MiB + 4096).every((b) => b === 0x5a), 'the marker is untouched');
    const short = await run('short.img', used - 4096);
    assert.ok('error' in short && short.error instanceof FsError && short.error.code === 'E_FS_NO_SPACE', String((short as { error?: Error }).error));
    assert.ok(short.bytes.subarray(MiB + used - 4096, 40 * MiB).every((b) => b === 0), 'nothing written past the short window');
    await closeWorkerPool();
  } finally { rmSync(t.dir, { recursive: true, force: true }); }
});
