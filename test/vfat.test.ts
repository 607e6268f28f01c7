import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { decodeBootSector, encodeBootSector } from '../src/fs/vfat/boot-sector.js';
import { decodeFsInfo, encodeFsInfo } from '../src/fs/vfat/fsinfo.js';
import { decodeFat, encodeFat } from '../src/fs/vfat/fat-table.js';
import { decodeDirEntry, encodeDirEntry, fatDateTime, unixFromFat } from '../src/fs/vfat/dirent.js';
import { decodeLfnEntry, encodeLfnEntry, lfnEntriesFor, longNameFrom, shortNameChecksum } from '../src/fs/vfat/lfn.js';
import { autorenameShort, DirNamer, dosName, NamingContext } from '../src/fs/vfat/names.js';
import { mkfs } from '../src/fs/vfat/mkfs.js';
import { formatVfat, mangleFatLabel, vfatDriver, volumeIdFromUuid } from '../src/fs/vfat/index.js';
import { buildTree } from '../src/tree/build.js';
import { FsError } from '../src/errors.js';
import { hostToolSkipReason, openFat } from './vfat-helpers.js';

const fsckSkip = hostToolSkipReason('fsck.fat');
const mtoolsSkip = hostToolSkipReason('mcopy', 'mdir');

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'vfat-test-'));
}

function treeOf(dir: string, epoch = 1700000000) {
  return buildTree({ copySource: '/', copyFiles: [{ source: dir, target: '/' }], excludeFiles: [], excludeFilesTarget: [], makeDirectories: [], makeSymlinks: [], subvolumes: [], owner: { uid: 0, gid: 0 }, now: { sec: epoch, nsec: 0 }, sourceDateEpoch: epoch });
}

function fsck(img: string, offset = 0): void {
  let path = img;
  if (offset) {
    path = img + '.part';
    spawnSync('dd', [`if=${img}`, `of=${path}`, 'bs=1M', `skip=${offset}`, 'iflag=skip_bytes', 'status=none']);
  }
  const r = spawnSync('fsck.fat', ['-n', '-v', path], { encoding: 'utf8' });
  if (offset) rmSync(path);
  assert.equal(r.status, 0, `fsck.fat failed:\n${r.stdout}\n${r.stderr}`);
  assert.doesNotMatch(r.stdout + r.stderr, /(differ|not in|invalid|[Bb]ad |marked as|will be|Orphaned|Dirty|Contains)/, r.stdout);
}

function mtools(args: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(args[0]!, args.slice(1), { encoding: 'buffer', env: { ...process.env, MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C.UTF-8', TZ: 'UTC', ...env } });
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

test('boot sector, FSInfo, FAT, dirent and LFN entries round-trip', () => {
  const img = mkfs({ size: 64 << 20, sectorSize: 512, fatBits: 32, volumeId: 0x1234abcd, label: 'ESP', labelTime: 1700000000 });
  assert.deepEqual(encodeBootSector(decodeBootSector(img.bootBytes)), img.bootBytes);
  const bs = decodeBootSector(img.bootBytes);
  assert.equal(bs.volumeId, 0x1234abcd);
  assert.equal(bs.fat32?.backupBootSector, 6);
  const fi = { freeClusters: 12345, nextFree: 77 };
  assert.deepEqual(decodeFsInfo(encodeFsInfo(fi)), fi);
  for (const bits of [12, 16, 32] as const) {
    const e = Uint32Array.from({ length: 37 }, (_, i) => (i * 2654435761) & (bits === 32 ? 0x0fffffff : (1 << bits) - 1));
    assert.deepEqual(decodeFat(bits, encodeFat(bits, e), e.length), e);
  }
  const de = { name: new Uint8Array(Buffer.from('HELLO   TXT')), attr: 0x20, ntCase: 0x18, ctimeCs: 0, ctime: 0x1234, cdate: 0x5678, adate: 0x5678, time: 0x1234, date: 0x5678, start: 0x12345, size: 99 };
  assert.deepEqual(decodeDirEntry(encodeDirEntry(de)), de);
  const units = Uint16Array.from('A fairly long name.txt', (c) => c.charCodeAt(0));
  const sum = shortNameChecksum(de.name);
  const entries = lfnEntriesFor(units, sum);
  assert.equal(entries.length, 2);
  const back = entries.map((e) => decodeLfnEntry(encodeLfnEntry(e)));
  assert.deepEqual(back, entries);
  assert.deepEqual(longNameFrom(back, sum), units);
  const { date, time } = fatDateTime(1700000000);
  assert.equal(unixFromFat(date, time), 1700000000);
  assert.equal(fatDateTime(1).date, 0xec21, 'pre-1980 years wrap like mtools');
});

test('8.3 names, NT case bits and ~N aliases follow mtools', () => {
  const ctx = new NamingContext();
  const name = (s: string) => {
    const r = dosName(ctx, new Uint8Array(Buffer.from(s)));
    return [Buffer.from(r.name11).toString('latin1'), r.mangled];
  };
  assert.deepEqual(name('readme.txt'), ['README  TXT', 0x18]);
  assert.deepEqual(name('README.TXT'), ['README  TXT', 0]);
  assert.deepEqual(name('Readme.txt')[1], 1);
  assert.deepEqual(name('longfilename.txt'), ['LONGFI~1TXT', 3]);
  assert.deepEqual(name('.bashrc'), ['BASHRC~1   ', 3]);
  const n = new Uint8Array(Buffer.from('LONGFI~9TXT'));
  autorenameShort(n, true);
  assert.equal(Buffer.from(n).toString('latin1'), 'LONGF~10TXT');
  const dir = new DirNamer(ctx, [[0x2e], [0x2e, 0x2e]]);
  assert.equal(Buffer.from(dir.add('Long File Name.txt').name11).toString('latin1'), 'LONGFI~1TXT');
  assert.equal(Buffer.from(dir.add('Long File Name 2.txt').name11).toString('latin1'), 'LONGFI~2TXT');
  assert.throws(() => dir.add('LONG FILE NAME.TXT'), /clashes/);
  assert.throws(() => dir.add('aux'), /reserved/);
  assert.throws(() => dir.add('a:b'), /cannot store/);
  assert.equal(mangleFatLabel('esp'), 'ESP');
  assert.equal(mangleFatLabel('my.boot/part-é and more'), 'MY_BOOT_PAR');
  assert.equal(volumeIdFromUuid('5739c63f-aa2f-465b-b8da-bae50b7d9d59'), 0x5739c63f);
});

test('populated image: fsck.fat clean, mtools reads back the same tree and bytes, bytes outside the window untouched', { skip: fsckSkip ?? mtoolsSkip }, async () => {
  const work = scratch();
  try {
    const src = join(work, 'src');
    let deep = join(src, 'deep');
    for (let i = 0; i < 12; i++) deep = join(deep, `level ${i}`);
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'bottom.txt'), 'bottom');
    mkdirSync(join(src, 'EFI', 'BOOT'), { recursive: true });
    writeFileSync(join(src, 'EFI', 'BOOT', 'BOOTX64.EFI'), Buffer.alloc(300000, 7));
    writeFileSync(join(src, 'empty'), '');
    writeFileSync(join(src, 'x'.repeat(200) + '.conf'), 'long');
    writeFileSync(join(src, 'Mixed Case Name.Txt'), 'mixed');
    linkSync(join(src, 'empty'), join(src, 'hardlink-to-empty'));
    symlinkSync('../Mixed Case Name.Txt', join(src, 'EFI', 'link-to-file'));
    symlinkSync('../deep', join(src, 'EFI', 'link-to-dir'));
    const many = join(src, 'many');
    mkdirSync(many);
    for (let i = 0; i < 2500; i++) writeFileSync(join(many, `entry-${i}.dat`), `${i}\n`);
    const img = join(work, 'disk.img');
    const offset = 1 << 20;
    const size = 64 << 20;
    writeFileSync(img, Buffer.alloc(0));
    truncateSync(img, offset + size + 4096);
    const fd = openSync(img, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xaa), 0, 4096, 0);
    writeSync(fd, Buffer.alloc(4096, 0xbb), 0, 4096, offset + size);
    closeSync(fd);
    const out = await formatVfat({ window: { path: img, offset, size }, label: 'ESP', volumeId: 0xdeadbeef, sectorSize: 512, fatBits: 32, tree: await treeOf(src), sourceDateEpoch: 1700000000 });
    assert.ok(out.warnings.some((w) => w.includes('link-to-dir')), 'symlink to a directory is reported');
    const raw = readFileSync(img);
    assert.ok(raw.subarray(0, 4096).equals(Buffer.alloc(4096, 0xaa)) && raw.subarray(offset + size).equals(Buffer.alloc(4096, 0xbb)), 'bytes outside the window changed');
    fsck(img, offset);
    const spec = `${img}@@${offset}`;
    assert.match(mtools(['mdir', '-i', spec, '::/EFI/BOOT']), /BOOTX64\s+EFI\s+300000/);
    const back = join(work, 'back');
    mkdirSync(back);
    mtools(['mcopy', '-s', '-n', '-i', spec, '::/deep', '::/EFI', '::/many', '::/empty', '::/' + 'x'.repeat(200) + '.conf', '::/Mixed Case Name.Txt', back]);
    const diff = spawnSync('diff', ['-r', '--no-dereference', join(src, 'deep'), join(back, 'deep')], { encoding: 'utf8' });
    assert.equal(diff.status, 0, diff.stdout);
    assert.ok(readFileSync(join(back, 'EFI', 'BOOT', 'BOOTX64.EFI')).equals(Buffer.alloc(300000, 7)));
    assert.equal(readFileSync(join(back, 'EFI', 'link-to-file'), 'utf8'), 'mixed', 'symlink to a file is copied as the file');
    assert.equal(spawnSync('diff', ['-r', many, join(back, 'many')]).status, 0, '2,500-entry directory differs');
    assert.equal(readFileSync(join(back, 'x'.repeat(200) + '.conf'), 'utf8'), 'long');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('Unicode names: utf8 mode round-trips through mtools; default mode matches repart (C locale)', { skip: fsckSkip ?? mtoolsSkip }, async () => {
  const work = scratch();
  try {
    const src = join(work, 'src');
    mkdirSync(join(src, 'Ünïcödé'), { recursive: true });
    writeFileSync(join(src, 'Ünïcödé', 'café.txt'), 'café');
    writeFileSync(join(src, '日本語のファイル名.txt'), 'jp');
    const img = join(work, 'u.img');
    writeFileSync(img, '');
    truncateSync(img, 40 << 20);
    await formatVfat({ window: { path: img, offset: 0, size: 40 << 20 }, label: 'ESP', volumeId: 1, sectorSize: 512, fatBits: 32, tree: await treeOf(src), sourceDateEpoch: 0, nameMode: 'utf8' });
    fsck(img);
    assert.match(mtools(['mdir', '-i', img, '::']), /日本語のファイル名\.txt/);
    assert.match(mtools(['mdir', '-i', img, '::/Ünïcödé']), /café\.txt/, 'non-ASCII lower case needs a long name to come back intact');
    const back = join(work, 'back');
    mkdirSync(back);
    mtools(['mcopy', '-s', '-n', '-i', img, '::/Ünïcödé', '::/日本語のファイル名.txt', back]);
    assert.equal(spawnSync('diff', ['-r', src, back]).status, 0, 'Unicode tree differs after reading back');
    await formatVfat({ window: { path: img, offset: 0, size: 40 << 20 }, label: 'ESP', volumeId: 1, sectorSize: 512, fatBits: 32, tree: await treeOf(src), sourceDateEpoch: 0 });
    fsck(img);
    const f = openFat(img);
    const names = f.walk().map((e) => e.path);
    f.close();
    assert.ok(names.includes('/Ã\u009cnÃ¯cÃ¶dÃ©/cafÃ©.txt'.replace('\u009c', '_')), `C-locale byte mapping: ${names.join(', ')}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('a 1 GiB file (sparse source) copies intact and the image stays sparse', { skip: fsckSkip ?? mtoolsSkip, timeout: 120_000 }, async () => {
  const work = scratch();
  try {
    const src = join(work, 'src');
    mkdirSync(src);
    const big = join(src, 'big.bin');
    writeFileSync(big, '');
    truncateSync(big, 1 << 30);
    const fd = openSync(big, 'r+');
    for (const pos of [0, 123456789, (1 << 30) - 5]) writeSync(fd, Buffer.from('MARK!'), 0, 5, pos);
    closeSync(fd);
    const img = join(work, 'big.img');
    const size = 1100 << 20;
    writeFileSync(img, '');
    truncateSync(img, size);
    await formatVfat({ window: { path: img, offset: 0, size }, label: 'BIG', volumeId: 2, sectorSize: 4096, fatBits: 32, tree: await treeOf(src), sourceDateEpoch: 0 });
    fsck(img);
    const du = Number(spawnSync('du', ['-k', img], { encoding: 'utf8' }).stdout.split('\t')[0]);
    assert.ok(du < 64 * 1024, `image uses ${du} KiB on disk`);
    const back = join(work, 'back.bin');
    mtools(['mcopy', '-i', img, '::/big.bin', back]);
    assert.equal(spawnSync('cmp', [big, back]).status, 0, 'contents differ');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('bad input: clear FsErrors with codes naming the definition file', async () => {
  const work = scratch();
  try {
    const src = join(work, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'data'), Buffer.alloc(3 << 20));
    const img = join(work, 'small.img');
    writeFileSync(img, '');
    truncateSync(img, 2 << 20);
    const job = (tree: Awaited<ReturnType<typeof treeOf>>, size = 2 << 20) => ({
      format: 'vfat', window: { path: img, offset: 0, size }, label: 'esp', fsUuid: '5739c63f-aa2f-465b-b8da-bae50b7d9d59', sectorSize: 512,
      tree, extraOptions: [], discard: true, subvolumes: [], definitionFile: '/etc/repart.d/10-esp.conf',
    });
    await assert.rejects(vfatDriver.format(job(await treeOf(src))), (e: unknown) => e instanceof FsError && e.code === 'E_FS_NO_SPACE' && /10-esp\.conf/.test(e.message) && /are needed/.test(e.message));
    rmSync(join(src, 'data'));
    writeFileSync(join(src, 'a|b'), 'x');
    truncateSync(img, 40 << 20);
    await assert.rejects(vfatDriver.format(job(await treeOf(src), 40 << 20)), (e: unknown) => e instanceof FsError && e.code === 'E_FS_NAME' && /a\|b/.test(e.message));
    rmSync(join(src, 'a|b'));
    writeFileSync(join(src, 'huge'), '');
    truncateSync(join(src, 'huge'), 2 ** 32);
    await assert.rejects(vfatDriver.format(job(await treeOf(src), 40 << 20)), (e: unknown) => e instanceof FsError && e.code === 'E_FS' && /4 GiB/.test(e.message));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test('262: every directory gets "now" (SOURCE_DATE_EPOCH), files their own times; 257: directories keep theirs', { skip: mtoolsSkip ?? false }, async () => {
  const work = scratch();
  try {
    const src = join(work, 'src');
    mkdirSync(join(src, 'kept/sub'), { recursive: true });
    writeFileSync(join(src, 'kept/sub/f'), 'x');
    // before the epoch: nothing clamps them
    spawnSync('touch', ['-d', '@1600000000', join(src, 'kept/sub/f'), join(src, 'kept/sub'), join(src, 'kept')]);
    const img = join(work, 'esp.img');
    const listing = async (systemdVersion: number) => {
      writeFileSync(img, '');
      truncateSync(img, 64 << 20);
      await vfatDriver.format({
        format: 'vfat', window: { path: img, offset: 0, size: 64 << 20 }, label: 'esp', fsUuid: '5739c63f-aa2f-465b-b8da-bae50b7d9d59', sectorSize: 512,
        tree: await treeOf(src), extraOptions: [], discard: true, subvolumes: [], definitionFile: '/etc/repart.d/10-esp.conf', sourceDateEpoch: 1700000000, systemdVersion,
      });
      return mtools(['mdir', '-i', img, '::/kept', '::/kept/sub']);
    };
    const dates = (out: string) => [...out.matchAll(/^(\S+)\s+(?:<DIR>|(?:\S+\s+)?\d+)\s+(\d{4}-\d\d-\d\d)/gm)].map((m) => `${m[1]} ${m[2]}`);
    // 2020-09-13 is the source's time, 2023-11-14 SOURCE_DATE_EPOCH's
    assert.deepEqual(dates(await listing(262)), ['. 2023-11-14', '.. 2023-11-14', 'sub 2023-11-14', '. 2023-11-14', '.. 2023-11-14', 'f 2020-09-13']);
    assert.deepEqual(dates(await listing(257)), ['. 2020-09-13', '.. 2020-09-13', 'sub 2020-09-13', '. 2020-09-13', '.. 2020-09-13', 'f 2020-09-13']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
