/**
 * Differential tests against the real tools repart runs (Debian trixie: dosfstools 4.2 mkfs.vfat,
 * mtools 4.0.48 mcopy) through reference-repart. Skipped without root or the oracle.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, utimesSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTree } from '../../src/tree/build.js';
import { formatVfat } from '../../src/fs/vfat/index.js';
import { describe, openFat, oracle, oracleSkipReason } from '../vfat-helpers.js';

const skip = oracleSkipReason();
const EPOCH = 1700000000;
const VOLID = 0x5739c63f;

function byteSort(names: string[]): string[] {
  return [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

type Spec = { [name: string]: string | number | Spec };

/** Create the tree on tmpfs in reverse order: tmpfs lists newest first, so mcopy (readdir
 * order below the top level) sees the same sorted order repart-ts uses. */
function materialize(dir: string, spec: Spec, mtime: (p: string) => number): void {
  for (const name of byteSort(Object.keys(spec)).reverse()) {
    const p = join(dir, name);
    const v = spec[name]!;
    if (typeof v === 'object') {
      mkdirSync(p);
      materialize(p, v, mtime);
    } else if (typeof v === 'number') {
      writeFileSync(p, '');
      truncateSync(p, v);
    } else writeFileSync(p, v);
    utimesSync(p, mtime(p), mtime(p));
  }
}

function mkImage(path: string, size: number): void {
  writeFileSync(path, '');
  truncateSync(path, size);
}

function maskLabelTime(lines: string[]): string[] {
  return lines.map((l) => (l.includes('attr=8 ') ? l.replace(/ ct=\S+ ad=\S+ mt=\S+/, ' <time>') : l));
}

async function compare(spec: Spec, size: number, ss: number, exactClusters = true, label = 'ESP'): Promise<void> {
  const work = mkdtempSync('/dev/shm/vfat-oracle-');
  try {
    const src = join(work, 'src');
    mkdirSync(src);
    let n = 0;
    materialize(src, spec, () => (n++ % 7 === 0 ? 1 : 1500000000 + n * 7777));
    const ref = join(work, 'ref.img');
    const ours = join(work, 'ours.img');
    mkImage(ref, size);
    mkImage(ours, size);
    oracle(['mkfs.vfat', '-i', VOLID.toString(16), '-n', label, '-F', '32', '-S', String(ss), ref], { cwd: work, bind: [work] });
    const top = byteSort(Object.keys(spec)).map((x) => join(src, x));
    oracle(['env', '-i', 'MTOOLS_SKIP_CHECK=1', 'TZ=UTC', `SOURCE_DATE_EPOCH=${EPOCH}`, 'mcopy', '-s', '-p', '-Q', '-m', '-i', ref, ...top, '::'], { cwd: work, bind: [work] });

    const tree = await buildTree({
      copySource: '/', copyFiles: [{ source: src, target: '/' }], excludeFiles: [], excludeFilesTarget: [], makeDirectories: [],
      makeSymlinks: [], subvolumes: [], owner: { uid: 0, gid: 0 }, now: { sec: EPOCH, nsec: 0 }, sourceDateEpoch: EPOCH,
    });
    await formatVfat({ window: { path: ours, offset: 0, size }, label, volumeId: VOLID, sectorSize: ss, fatBits: 32, tree, sourceDateEpoch: EPOCH });

    const a = openFat(ref);
    const b = openFat(ours);
    try {
      assert.deepEqual(maskLabelTime(describe(b.walk(), exactClusters)), maskLabelTime(describe(a.walk(), exactClusters)), 'directory entries differ from mcopy');
      if (exactClusters) assert.ok(Buffer.from(b.fat.buffer).equals(Buffer.from(a.fat.buffer)), 'FAT differs from mcopy');
      // boot sector, FSInfo and backups: everything before the FATs
      assert.ok(b.read(0, b.rootStart - 2 * (b.fat.length * 4)).length > 0);
      const reservedEnd = readFileSync(ref).subarray(0, 512).readUInt16LE(14) * ss;
      const ra = a.read(0, reservedEnd);
      const rb = b.read(0, reservedEnd);
      if (!exactClusters) {
        // FSInfo's "last allocated" hint depends on the cluster order; the free count must not
        ra.writeUInt32LE(0, ss + 0x1ec);
        rb.writeUInt32LE(0, ss + 0x1ec);
      }
      assert.ok(rb.equals(ra), 'reserved sectors (boot sector, FSInfo, backups) differ');
      const ours = new Map(b.walk().map((e) => [e.path, e.entry]));
      for (const e of a.walk()) {
        if (e.entry.attr & 0x18) continue;
        assert.ok(b.fileBytes(ours.get(e.path)!).equals(a.fileBytes(e.entry)), `${e.path}: contents differ`);
      }
    } finally {
      a.close();
      b.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const names: Spec = {
  'readme.txt': 'lower 8.3',
  'README2.TXT': 'upper 8.3',
  'MixedCase.Txt': 'mixed',
  'a very long file name with spaces.conf': 'long',
  '.hidden': 'leading dot',
  'archive.tar.gz': 'two dots',
  'a+b,c;d=e[f]g.txt': 'short illegals',
  'con.txt': 'reserved base',
  'x~1.bin': 'tilde',
  'noext': '',
  'UPPERDIR': { 'Inner File.md': 'x', 'inner.c': 'int main;', empty: 0 },
  lowerdir: { sub: { deeper: { 'deepest file name here.txt': 'deep' } } },
  'trailing spaces   ': 'ts',
  'exactly13char': 'exact',
  'ab.cdef': 'long ext',
};
for (let i = 0; i < 14; i++) names[`longfilename${i}.txt`] = `n${i}`;

test('mcopy parity: names, aliases, case bits, times, FAT, FSInfo (512-byte sectors)', { skip }, async () => {
  await compare(names, 100 * 1024 * 1024, 512);
});

test('mcopy parity: 4096-byte sectors, Unicode names (C-locale byte mapping and sticky LFNs)', { skip }, async () => {
  await compare({ ...names, 'zz-café.txt': 'unicode', 'Ünïcödé dir': { '中文.txt': 'cjk', 'plain.txt': 'after unicode' }, 'zzz-after.txt': 'p' }, 300 * 1024 * 1024, 4096);
});

test('mcopy parity: a directory of 800 long names (hash-bitmap alias bumps; cluster order not compared)', { skip, timeout: 300_000 }, async () => {
  const big: Spec = {};
  for (let i = 0; i < 800; i++) big[`Some Long Name ${String(i).padStart(4, '0')}.dat`] = i % 10 === 0 ? 5000 : `${i}`;
  await compare({ many: big, 'top file.txt': 'x' }, 64 * 1024 * 1024, 512, false);
});

test('mkfs.vfat parity: boot sector, FSInfo, backups, FATs and root byte-identical across sizes and sector sizes', { skip }, async () => {
  const work = mkdtempSync('/dev/shm/vfat-mkfs-');
  try {
    const cases: [number, number, (32 | 16 | 12)?][] = [];
    for (const ss of [512, 4096]) for (const mib of [32, 100, 260, 1024]) cases.push([mib << 20, ss, 32]);
    cases.push([1440 << 10, 512], [16 << 20, 512], [200 << 20, 4096, 16], [8 << 20, 512, 12]);
    for (const [size, ss, bits] of cases) {
      const ref = join(work, 'ref.img');
      const ours = join(work, 'ours.img');
      mkImage(ref, size);
      mkImage(ours, size);
      oracle(['mkfs.vfat', '-i', VOLID.toString(16), '-n', 'ESP', ...(bits ? ['-F', String(bits)] : []), '-S', String(ss), ref], { cwd: work, bind: [work] });
      await formatVfat({ window: { path: ours, offset: 0, size }, label: 'ESP', volumeId: VOLID, sectorSize: ss, fatBits: bits, sourceDateEpoch: EPOCH });
      const a = openFat(ref);
      const b = openFat(ours);
      try {
        const len = b.dataStart + b.clusterSize;
        const ra = a.read(0, len);
        const rb = b.read(0, len);
        // the label entry's time is mkfs.fat's clock (dosfstools 4.2 ignores SOURCE_DATE_EPOCH)
        const labelAt = b.bits === 32 ? b.dataStart : b.rootStart;
        for (const k of [14, 15, 16, 17, 18, 19, 22, 23, 24, 25]) ra[labelAt + k] = rb[labelAt + k] = 0;
        const first = ra.findIndex((x, i) => x !== rb[i]);
        assert.equal(first, -1, `size ${size} ss ${ss} FAT${bits ?? 'auto'}: first difference at byte ${first}`);
      } finally {
        a.close();
        b.close();
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
