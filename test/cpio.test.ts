/**
 * The newc cpio codec and the initramfs builder, judged by GNU cpio: archives GNU cpio writes are
 * decoded and re-encoded byte for byte, and archives we write are extracted by `cpio -i` with the
 * contents, modes, symlinks and hard links intact. Plus the module resolver on synthetic modules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  CpioError, decodeArchive, decodeHeader, encodeArchive, encodeHeader, HEADER_SIZE, newcChecksum,
  S_IFCHR, S_IFDIR, S_IFLNK, S_IFREG, type CpioEntry,
} from '../src/initramfs/newc.js';
import { InitramfsBuilder } from '../src/initramfs/builder.js';
import { readModinfo, resolveModules } from '../src/initramfs/kmod.js';

const hasCpio = spawnSync('cpio', ['--version']).status === 0;
const NO_CPIO = 'GNU cpio is not installed (Debian: cpio)';

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'repart-cpio-'));
}

test('newc header: golden bytes of a GNU cpio header, both ways', () => {
  // The entry for "d/l" (a symlink to "f") as `cpio -o -H newc --reproducible` writes it.
  const golden = '070701' + '00000002' + '0000A1FF' + '00000000' + '00000000' + '00000001' + '6B0735A5' +
    '00000001' + '00000000' + '00000000' + '00000000' + '00000000' + '00000004' + '00000000';
  const h = decodeHeader(new TextEncoder().encode(golden));
  assert.deepEqual(h, {
    magic: '070701', ino: 2, mode: S_IFLNK | 0o777, uid: 0, gid: 0, nlink: 1, mtime: 0x6b0735a5, filesize: 1,
    devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0, namesize: 4, check: 0,
  });
  // We write lower-case hex, which readers accept alike; GNU cpio writes upper case.
  assert.equal(new TextDecoder().decode(encodeHeader(h)), golden.toLowerCase());
  assert.equal(encodeHeader(h).length, HEADER_SIZE);
});

test('newc header: refuses values that do not fit and malformed input', () => {
  const h = decodeHeader(encodeHeader({ magic: '070701', ino: 1, mode: S_IFREG | 0o644, uid: 0, gid: 0, nlink: 1, mtime: 0, filesize: 0, devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0, namesize: 2, check: 0 }));
  assert.throws(() => encodeHeader({ ...h, filesize: 2 ** 32 }), (e: unknown) => e instanceof CpioError && e.code === 'E_INITRAMFS' && /filesize/.test(e.message));
  assert.throws(() => encodeHeader({ ...h, mtime: -1 }), CpioError);
  assert.throws(() => decodeHeader(new TextEncoder().encode('070707' + '0'.repeat(104))), /bad cpio magic/);
  assert.throws(() => decodeHeader(new TextEncoder().encode('070701' + 'g'.repeat(104))), /not hex/);
  assert.throws(() => decodeHeader(new Uint8Array(50)), /truncated/);
});

const entry = (name: string, mode: number, data: string | Uint8Array = '', extra: Partial<CpioEntry> = {}): CpioEntry => ({
  name, ino: 0, mode, uid: 0, gid: 0, nlink: 1, mtime: 1700000000, devmajor: 0, devminor: 0, rdevmajor: 0, rdevminor: 0,
  data: typeof data === 'string' ? new TextEncoder().encode(data) : data, ...extra,
});

test('archive round trip: every name and data length hits each padding case', () => {
  const entries: CpioEntry[] = [];
  for (let n = 1; n <= 8; n++) for (let d = 0; d <= 8; d++) entries.push(entry('x'.repeat(n) + d, S_IFREG | 0o640, 'y'.repeat(d), { ino: entries.length + 1, uid: 1000, gid: 100 }));
  entries.push(entry('dev/console', S_IFCHR | 0o600, '', { ino: 999, rdevmajor: 5, rdevminor: 1 }));
  entries.push(entry('ünïcode/名前', S_IFDIR | 0o755, '', { ino: 1000, nlink: 2 }));
  for (const crc of [false, true]) {
    const bytes = encodeArchive(entries, { crc });
    assert.equal(bytes.length % 4, 0);
    const back = decodeArchive(bytes);
    assert.deepEqual(back.entries, entries);
    assert.equal(back.end, bytes.length);
  }
});

test('archive decoding: truncation, checksum and name errors are reported', () => {
  const a = encodeArchive([entry('f', S_IFREG | 0o644, 'content')], { crc: true });
  assert.throws(() => decodeArchive(a.subarray(0, a.length - 130)), /truncated cpio data of "f"/);
  const bad = Buffer.from(a);
  bad[HEADER_SIZE + 4] ^= 1; // first data byte
  assert.throws(() => decodeArchive(bad), /checksum mismatch for "f"/);
  assert.throws(() => encodeArchive([entry('a\0b', S_IFREG)]), /NUL byte/);
  assert.equal(newcChecksum(new Uint8Array([255, 255, 1])), 511);
});

test('GNU cpio archives decode, and re-encode byte for byte', { skip: hasCpio ? false : NO_CPIO }, () => {
  const dir = tmp();
  try {
    const d = path.join(dir, 'tree');
    mkdirSync(path.join(d, 'sub'), { recursive: true });
    writeFileSync(path.join(d, 'sub/file'), 'hello\n');
    linkSync(path.join(d, 'sub/file'), path.join(d, 'sub/link'));
    symlinkSync('file', path.join(d, 'sub/sym'));
    writeFileSync(path.join(d, 'odd'), Buffer.alloc(5, 7), { mode: 0o751 });
    for (const p of ['sub/file', 'odd', 'sub', '.']) utimesSync(path.join(d, p), 1700000000, 1700000000);
    const r = spawnSync('sh', ['-c', 'find . | LC_ALL=C sort | cpio -o -H newc --reproducible --quiet'], { cwd: d });
    assert.equal(r.status, 0, r.stderr.toString());
    const gnu = r.stdout;
    const { entries, end } = decodeArchive(gnu);
    const byName = new Map(entries.map((e) => [e.name, e]));
    assert.deepEqual([...byName.keys()], ['.', 'odd', 'sub', 'sub/file', 'sub/link', 'sub/sym']);
    const f = byName.get('sub/file')!, l = byName.get('sub/link')!;
    assert.equal(f.ino, l.ino);
    assert.equal(f.nlink, 2);
    // GNU cpio puts a link group's data on its last member, as our builder does.
    assert.equal(f.data.length, 0);
    assert.equal(new TextDecoder().decode(l.data), 'hello\n');
    assert.equal(byName.get('sub/sym')!.mode, S_IFLNK | 0o777);
    assert.equal(new TextDecoder().decode(byName.get('sub/sym')!.data), 'file');
    assert.equal(byName.get('odd')!.mode & 0o7777, 0o751);
    assert.equal(byName.get('odd')!.mtime, 1700000000);
    // GNU cpio pads the archive to 512-byte blocks after the trailer.
    assert.ok(gnu.subarray(end).every((b) => b === 0));
    const ours = encodeArchive(entries);
    assert.equal(ours.toString('latin1').toLowerCase(), gnu.subarray(0, ours.length).toString('latin1').toLowerCase());
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('builder: parents first, hard links carry data once, device nodes; GNU cpio extracts it', () => {
  const b = new InitramfsBuilder()
    .file('bin/busybox', 'ELF-ish', 0o755)
    .symlink('bin/sh', 'busybox')
    .file('usr/share/a', 'shared\n')
    .hardlink('usr/share/b', 'usr/share/a')
    .hardlink('etc/c', '/usr/share/a')
    .charDevice('dev/console', 5, 1)
    .dir('proc', 0o555)
    .file('init', '#!/bin/sh\n', 0o700);
  assert.throws(() => b.file('bin/sh', 'x'), /added twice/);
  assert.throws(() => b.file('init/x', 'x'), /not a directory/);
  assert.throws(() => b.hardlink('x', 'bin'), /needs an existing regular file/);
  assert.throws(() => b.file('../escape', 'x'), /\.\./);
  const entries = b.entries({ mtime: 1234 });
  const names = entries.map((e) => e.name);
  assert.deepEqual(names, ['bin', 'bin/busybox', 'bin/sh', 'dev', 'dev/console', 'etc', 'etc/c', 'init', 'proc', 'usr', 'usr/share', 'usr/share/a', 'usr/share/b']);
  const group = entries.filter((e) => ['etc/c', 'usr/share/a', 'usr/share/b'].includes(e.name));
  assert.equal(new Set(group.map((e) => e.ino)).size, 1);
  assert.ok(group.every((e) => e.nlink === 3));
  assert.deepEqual(group.map((e) => e.data.length), [0, 0, 7], 'data on the last name only');
  assert.equal(new Set(entries.map((e) => e.ino)).size, entries.length - 2, 'other inodes are unique');
  const con = entries.find((e) => e.name === 'dev/console')!;
  assert.deepEqual([con.mode, con.rdevmajor, con.rdevminor], [S_IFCHR | 0o600, 5, 1]);
  assert.ok(entries.every((e) => e.mtime === 1234 && e.uid === 0));
  assert.deepEqual(decodeArchive(b.build({ mtime: 1234 })).entries, entries);
  assert.deepEqual(b.build({ mtime: 1234 }), b.build({ mtime: 1234 }), 'reproducible');

  if (!hasCpio) return;
  const dir = tmp();
  try {
    // Without the device node: creating one needs privileges the test may not have.
    const nodev = new InitramfsBuilder().file('bin/busybox', 'ELF-ish', 0o755).symlink('bin/sh', 'busybox')
      .file('usr/share/a', 'shared\n').hardlink('usr/share/b', 'usr/share/a').file('init', '#!/bin/sh\n', 0o700);
    const r = spawnSync('cpio', ['-i', '-d', '-m', '--quiet', '--no-absolute-filenames'], { cwd: dir, input: nodev.build({ mtime: 1700000000 }) });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.equal(readFileSync(path.join(dir, 'bin/busybox'), 'utf8'), 'ELF-ish');
    assert.equal(lstatSync(path.join(dir, 'bin/busybox')).mode & 0o7777, 0o755);
    assert.equal(lstatSync(path.join(dir, 'init')).mode & 0o7777, 0o700);
    assert.equal(readlinkSync(path.join(dir, 'bin/sh')), 'busybox');
    const a = lstatSync(path.join(dir, 'usr/share/a')), bb = lstatSync(path.join(dir, 'usr/share/b'));
    assert.equal(a.ino, bb.ino);
    assert.equal(a.nlink, 2);
    assert.equal(readFileSync(path.join(dir, 'usr/share/b'), 'utf8'), 'shared\n');
    assert.equal(a.mtimeMs, 1700000000 * 1000);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

/** A minimal ELF64 relocatable object with a .modinfo section holding `info`. */
function fakeModule(info: string[]): Buffer {
  const modinfo = Buffer.from(info.map((s) => s + '\0').join(''));
  const shstr = Buffer.from('\0.modinfo\0.shstrtab\0');
  const ehdr = Buffer.alloc(64);
  const modOff = 64, strOff = modOff + modinfo.length, shOff = (strOff + shstr.length + 7) & ~7;
  ehdr.writeUInt32BE(0x7f454c46, 0);
  ehdr[4] = 2; ehdr[5] = 1; ehdr[6] = 1;
  ehdr.writeUInt16LE(1, 16); // ET_REL
  ehdr.writeUInt16LE(62, 18); // x86-64
  ehdr.writeBigUInt64LE(BigInt(shOff), 0x28);
  ehdr.writeUInt16LE(64, 0x34);
  ehdr.writeUInt16LE(64, 0x3a);
  ehdr.writeUInt16LE(3, 0x3c);
  ehdr.writeUInt16LE(2, 0x3e);
  const sh = Buffer.alloc(64 * 3);
  const section = (i: number, name: number, type: number, off: number, size: number): void => {
    sh.writeUInt32LE(name, i * 64);
    sh.writeUInt32LE(type, i * 64 + 4);
    sh.writeBigUInt64LE(BigInt(off), i * 64 + 0x18);
    sh.writeBigUInt64LE(BigInt(size), i * 64 + 0x20);
  };
  section(1, 1, 1, modOff, modinfo.length);
  section(2, 10, 3, strOff, shstr.length);
  return Buffer.concat([ehdr, modinfo, shstr, Buffer.alloc(shOff - strOff - shstr.length), sh]);
}

test('kernel modules: .modinfo is read from the ELF, dependencies load first, built-ins are skipped', () => {
  const dir = tmp();
  try {
    const mod = (rel: string, deps: string): void => {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), fakeModule(['license=GPL', `depends=${deps}`, `name=${path.basename(rel, '.ko')}`]));
    };
    mod('kernel/fs/btrfs/btrfs.ko', 'xor,raid6_pq,libcrc32c');
    mod('kernel/crypto/xor.ko', '');
    mod('kernel/lib/raid6/raid6_pq.ko', '');
    mod('kernel/lib/libcrc32c.ko', 'crc32c-generic');
    mod('kernel/fs/fat/vfat.ko', 'fat');
    mod('kernel/fs/fat/fat.ko', '');
    mod('kernel/x/loop-a.ko', 'loop_b');
    mod('kernel/x/loop_b.ko', 'loop-a');
    writeFileSync(path.join(dir, 'modules.builtin'), 'kernel/crypto/crc32c_generic.ko\nkernel/fs/ext4/ext4.ko\n');
    const info = readModinfo(readFileSync(path.join(dir, 'kernel/fs/btrfs/btrfs.ko')));
    assert.deepEqual(info.get('depends'), ['xor,raid6_pq,libcrc32c']);
    assert.deepEqual(info.get('license'), ['GPL']);

    const got = resolveModules(dir, ['vfat', 'btrfs', 'ext4'], ['fat', 'absent']);
    assert.deepEqual(got.map((m) => m.name), ['fat', 'vfat', 'xor', 'raid6_pq', 'libcrc32c', 'btrfs']);
    assert.ok(got.every((m) => !m.optional), 'modules something requires are not optional');
    assert.equal(got.find((m) => m.name === 'btrfs')!.path, 'kernel/fs/btrfs/btrfs.ko');
    assert.deepEqual(resolveModules(dir, [], ['vfat']).map((m) => [m.name, m.optional]), [['fat', true], ['vfat', true]]);
    assert.throws(() => resolveModules(dir, ['nonesuch']), /module nonesuch .* is neither built into the kernel nor in/);
    assert.throws(() => resolveModules(dir, ['loop_a']), /dependency cycle: loop_a → loop_b → loop_a/);
    assert.throws(() => readModinfo(Buffer.from('\x28\xb5\x2f\xfd compressed')), /not an ELF file/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
