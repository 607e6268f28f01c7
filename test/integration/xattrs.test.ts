/**
 * Extended attributes of source files (src/tree/xattrs.ts): getfattr's quoting parsed back to the
 * exact bytes; a host tree with user.* xattrs (and, as root, a file capability and a trusted.*
 * attribute on a symlink) built through the CLI into ext4, btrfs, erofs, squashfs and vfat, and
 * read back from each image with the host's own tools; without getfattr the run says so, once.
 * The comparison with systemd-repart 262 is test/oracle/xattrs.test.ts.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setx, userXattrSkip } from '../helpers/host-xattrs.js';
import { parseGetfattr, readHostXattrs, unquote } from '../../src/tree/xattrs.js';
import { runOurs } from '../helpers/reference.js';
import { btrfsXattrs, copyWindow, ext4Xattrs, xattrView, type Xattr } from '../wasm-helpers.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'xattrs-test-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;
const has = (cmd: string, arg = '--version') => spawnSync(cmd, [arg], { stdio: 'ignore' }).error === undefined;

test('getfattr quoting: octal escapes become bytes, the first "=" ends the name, values are hex', () => {
  assert.deepEqual([...unquote('a\\012b\\134c\\075')], [...Buffer.from('a\nb\\c=')]);
  assert.equal(unquote('plain\\x').toString(), 'plain\\x', 'a backslash not followed by three octal digits stays');
  const dump = [
    '# file: /t/new\\012line', 'user.a=0x68656c6c6f', 'user.we ird\\075x=0x00ff', 'user.e=0x', '',
    '# file: /t/caf\xc3\xa9', 'security.capability=0x0100000200200000000000000000000000000000', 'user.b64=0sAAE=', '',
  ].join('\n');
  const m = parseGetfattr(dump);
  assert.deepEqual([...m.keys()], ['/t/new\nline', '/t/café']);
  assert.deepEqual(m.get('/t/new\nline')!.map((x) => [x.name, Buffer.from(x.value).toString('hex')]), [['user.a', '68656c6c6f'], ['user.we ird=x', '00ff'], ['user.e', '']]);
  assert.deepEqual(m.get('/t/café')!.map((x) => [x.name, Buffer.from(x.value).toString('hex')]), [
    ['security.capability', '0100000200200000000000000000000000000000'], ['user.b64', '0001'],
  ]);
  assert.throws(() => parseGetfattr('# file: /x\nuser.a="text"\n'), /cannot parse/);
});

const skip = userXattrSkip(work);

test('readHostXattrs: names with newlines, backslashes, "=" and UTF-8 come back exact, in batches', { skip }, async () => {
  const d = path.join(work, 'names');
  fs.mkdirSync(d);
  const names = ['new\nline', 'back\\slash', 'sp ace', 'café', 'eq=ual'];
  for (const n of names) fs.writeFileSync(path.join(d, n), '');
  names.forEach((n, i) => setx(path.join(d, n), `user.k${i}=\n`.slice(0, i % 2 ? 9 : 8), Uint8Array.of(i, 0, 255)));
  fs.writeFileSync(path.join(d, 'none'), '');
  const r = await readHostXattrs([...names, 'none', 'vanished'].map((n) => path.join(d, n)));
  assert.equal(r.unavailable, undefined);
  assert.equal(r.problems.length, 1, r.problems.join('\n'));
  assert.match(r.problems[0]!, /vanished/);
  names.forEach((n, i) => assert.deepEqual(r.byPath.get(path.join(d, n))?.map((x) => [x.name, [...x.value]]), [[`user.k${i}=\n`.slice(0, i % 2 ? 9 : 8), [i, 0, 255]]], n));
  assert.equal(r.byPath.has(path.join(d, 'none')), false);
});

const CAP = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep
interface Want { path: string; xattrs: Xattr[] }

function sourceTree(): { src: string; want: Want[] } {
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'usr/bin'), { recursive: true });
  fs.writeFileSync(path.join(src, 'usr/bin/ping'), 'ping\n');
  fs.writeFileSync(path.join(src, 'plain'), 'no xattrs\n');
  fs.writeFileSync(path.join(src, 'usr/data'), 'data\n');
  fs.symlinkSync('data', path.join(src, 'usr/link'));
  const want: Want[] = [
    { path: '/', xattrs: [{ name: 'user.root', value: Buffer.from('top') }] },
    { path: '/usr', xattrs: [{ name: 'user.dir', value: Buffer.from('d') }] },
    { path: '/usr/data', xattrs: [{ name: 'user.binary', value: Uint8Array.from({ length: 64 }, (_, i) => (i * 37) & 0xff) }, { name: 'user.empty', value: new Uint8Array(0) }] },
    { path: '/usr/bin/ping', xattrs: [{ name: 'user.mime_type', value: Buffer.from('application/x-executable') }] },
  ];
  if (isRoot) {
    want[3]!.xattrs.push({ name: 'security.capability', value: CAP });
    want.push({ path: '/usr/link', xattrs: [{ name: 'trusted.link', value: Buffer.from([1, 2]) }] });
  }
  for (const w of want) for (const x of w.xattrs) setx(path.join(src, w.path), x.name, x.value);
  return { src, want };
}

const VALIDATEFS = ['user.validatefs.gpt_label', 'user.validatefs.gpt_type_uuid', 'user.validatefs.mount_point'];

function build(src: string, format: string, env: NodeJS.ProcessEnv = {}): { img: string; offset: number; size: number; stderr: string } {
  const defs = path.join(work, `defs-${format}`);
  fs.mkdirSync(defs, { recursive: true });
  const minimize = format === 'erofs' || format === 'squashfs' ? 'Minimize=best\n' : '';
  fs.writeFileSync(path.join(defs, '10-p.conf'), `[Partition]\nType=linux-generic\nLabel=p\nFormat=${format}\nCopyFiles=${src}:/\n${minimize}${format === 'btrfs' ? 'SizeMinBytes=128M\n' : ''}`);
  const img = path.join(work, `${format}.raw`);
  fs.rmSync(img, { force: true });
  const r = runOurs(['--empty=create', '--size=auto', '--dry-run=no', '--json=short', '--no-pager', '--seed=0867da16-f251-457d-a9e8-c31f9a3c220b', `--definitions=${defs}`, img], work, { SOURCE_DATE_EPOCH: '1700000000', ...env });
  assert.equal(r.status, 0, r.stderr);
  const row = JSON.parse(r.stdout)[0] as { offset: number; raw_size: number };
  return { img, offset: row.offset, size: row.raw_size, stderr: r.stderr };
}

const view = (xs: Xattr[]) => xattrView(xs.filter((x) => !VALIDATEFS.includes(x.name)));

test('ext4, btrfs, erofs, squashfs: the source xattrs are in the image; vfat ignores them', { skip, timeout: 5 * 60 * 1000 }, async (t) => {
  const { src, want } = sourceTree();
  await t.test('ext4 (debugfs ea_list/ea_get)', () => {
    const b = build(src, 'ext4');
    const dev = `${b.img}?offset=${b.offset}`;
    for (const w of want) assert.deepEqual(view(ext4Xattrs(dev, w.path, path.join(work, 's'))), xattrView(w.xattrs), w.path);
    assert.deepEqual(ext4Xattrs(dev, '/plain', path.join(work, 's')), []);
    // the root keeps its own xattrs and gets validatefs' (v258+) beside them
    // (linux-generic has no mount point)
    assert.deepEqual(ext4Xattrs(dev, '/', path.join(work, 's')).map((x) => x.name).filter((n) => VALIDATEFS.includes(n)).sort(), VALIDATEFS.slice(0, 2));
    const fsck = spawnSync('e2fsck', ['-fn', dev], { encoding: 'utf8' });
    assert.equal(fsck.status, 0, fsck.stdout);
  });
  await t.test('btrfs (the leaves\' XATTR_ITEMs)', { skip: has('btrfs') ? false : 'btrfs-progs missing' }, () => {
    const b = build(src, 'btrfs');
    const part = path.join(work, 'part.btrfs');
    copyWindow(b.img, b.offset, b.size, part);
    const got = btrfsXattrs(part);
    for (const w of want) assert.deepEqual(view(got.get(w.path) ?? []), xattrView(w.xattrs), w.path);
    assert.equal(got.has('/plain'), false);
  });
  await t.test('erofs (the inline xattr entries in the image)', () => {
    const b = build(src, 'erofs');
    const bytes = Buffer.alloc(b.size);
    const fd = fs.openSync(b.img, 'r');
    fs.readSync(fd, bytes, 0, b.size, b.offset);
    fs.closeSync(fd);
    // erofs_xattr_entry: name length, name index (1 user, 4 trusted, 6 security), value size
    // (LE16), the name without its prefix, the value
    const index: Record<string, number> = { user: 1, trusted: 4, security: 6 };
    for (const w of want) for (const x of w.xattrs) {
      const ns = x.name.slice(0, x.name.indexOf('.'));
      const suffix = Buffer.from(x.name.slice(ns.length + 1));
      const entry = Buffer.concat([Buffer.from([suffix.length, index[ns]!, x.value.length & 0xff, x.value.length >> 8]), suffix, x.value]);
      assert.ok(bytes.includes(entry), `${w.path}: ${x.name}`);
    }
    if (has('fsck.erofs', '-V')) {
      const part = path.join(work, 'part.erofs');
      fs.writeFileSync(part, bytes);
      const r = spawnSync('fsck.erofs', [part], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
  });
  await t.test('squashfs (unsquashfs -xattrs)', { skip: has('unsquashfs', '-version') ? false : 'squashfs-tools missing' }, () => {
    const b = build(src, 'squashfs');
    const ex = path.join(work, 'sq-ex');
    const r = spawnSync('unsquashfs', ['-no-progress', '-xattrs', '-o', String(b.offset), '-d', ex, b.img], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // unsquashfs sets the xattrs before it chowns, and the kernel drops security.capability on
    // chown: the capability is compared through the whole image in test/oracle/xattrs.test.ts
    for (const w of want) {
      const got = [...(parseGetfattr(spawnSync('getfattr', ['-d', '-m', '-', '-e', 'hex', '--absolute-names', '-h', path.join(ex, w.path)], { encoding: 'latin1' }).stdout).values())][0] ?? [];
      assert.deepEqual(view(got).filter((x) => !x.startsWith('security.capability=')), xattrView(w.xattrs).filter((x) => !x.startsWith('security.capability=')), w.path);
    }
  });
  await t.test('vfat: no xattrs, no complaint, a clean file system', () => {
    const b = build(src, 'vfat');
    assert.doesNotMatch(b.stderr, /xattr|Extended attributes/i);
    if (has('fsck.fat')) {
      const part = path.join(work, 'part.vfat');
      copyWindow(b.img, b.offset, b.size, part);
      const r = spawnSync('fsck.fat', ['-n', part], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout);
    }
  });
});

test('without getfattr the run says once that source xattrs are not copied, and still builds', { skip }, () => {
  const src = path.join(work, 'src2');
  fs.mkdirSync(path.join(src, 'a'), { recursive: true });
  fs.writeFileSync(path.join(src, 'a/f'), 'x');
  const defs = path.join(work, 'defs-nogetfattr');
  fs.mkdirSync(defs);
  // two partitions: still one notice
  fs.writeFileSync(path.join(defs, '10-a.conf'), `[Partition]\nType=linux-generic\nFormat=ext4\nCopyFiles=${src}:/\n`);
  fs.writeFileSync(path.join(defs, '20-b.conf'), `[Partition]\nType=linux-generic\nFormat=ext4\nCopyFiles=${src}/a:/\n`);
  const bin = path.join(work, 'bin'); // PATH without getfattr
  fs.mkdirSync(bin);
  const r = runOurs(['--empty=create', '--size=auto', '--dry-run=no', '--json=off', '--no-pager', `--definitions=${defs}`, path.join(work, 'nogetfattr.raw')], work, { PATH: bin });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => /Extended attributes of source files/.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /getfattr \(package "attr"\) is not installed/);
});
