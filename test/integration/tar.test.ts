/**
 * CopyArchive= (src/tree/tar.ts): a tar archive read in place as a partition's tree. A tree with
 * owners, a setuid file with a capability, a user xattr, hard links, device nodes, a fifo and a
 * symlink is archived by GNU tar (pax); the archive built as an unprivileged user must give the
 * same file system as the tree built from the directory as root — byte for byte for ext4, erofs
 * and squashfs, read back with debugfs for the facts. Then GNU and ustar headers, the NixOS JSON
 * `archive` contents, and the mistakes (compressed, '..', truncated, not a tar).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI } from '../helpers/reference.js';
import { readTarHeaders } from '../../src/tree/tar.js';
import { FsError } from '../../src/errors.js';
import { major, minor, makedev, treeRdev } from '../../src/tree/devices.js';
import { ext4Xattrs, xattrView } from '../wasm-helpers.js';

const isRoot = process.getuid?.() === 0;
const UID = 1000;
const has = (cmd: string, arg = '--version') => spawnSync(cmd, [arg], { stdio: 'ignore' }).error === undefined;
// under /tmp, world-readable: the unprivileged user reads the archive
const work = fs.mkdtempSync('/tmp/tar-test-');
fs.chmodSync(work, 0o755);
after(() => fs.rmSync(work, { recursive: true, force: true }));
const SEED = '0867da16-f251-457d-a9e8-c31f9a3c220b';
const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000' };

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

function repart(defs: string, img: string, asUser = false): { status: number; stdout: string; stderr: string } {
  const args = [CLI, '--empty=create', '--size=auto', '--dry-run=no', '--json=short', '--no-pager', `--seed=${SEED}`, `--definitions=${defs}`, img];
  const r = asUser
    ? spawnSync('setpriv', [`--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', process.execPath, ...args], { encoding: 'utf8', env })
    : spawnSync(process.execPath, args, { encoding: 'utf8', env });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function defsFor(name: string, format: string, line: string, extra = ''): string {
  const d = path.join(work, `defs-${name}`);
  fs.mkdirSync(d, { recursive: true });
  fs.writeFileSync(path.join(d, '10-root.conf'), `[Partition]\nType=root\nFormat=${format}\n${line}\n${extra}`);
  fs.chmodSync(d, 0o755);
  return d;
}

test('device numbers: glibc\'s makedev, and st_rdev of macOS and the BSDs decoded to it', () => {
  for (const [ma, mi] of [[1, 3], [8, 0], [300, 70000], [4095, 1048575], [259, 65536]] as const) {
    const d = makedev(ma, mi);
    assert.deepEqual([major(d), minor(d)], [ma, mi]);
  }
  assert.equal(makedev(8, 1), 0x801);
  assert.equal(makedev(300, 70000), 0x11112c70, 'the kernel\'s new_encode_dev for 300:70000');
  assert.equal(treeRdev(0x801, 'linux'), 0x801);
  assert.equal(treeRdev((8 << 24) | 1, 'darwin'), makedev(8, 1));
  assert.equal(treeRdev((14 << 24) | 70000, 'darwin'), makedev(14, 70000));
  assert.equal(treeRdev(0x0801, 'openbsd'), makedev(8, 1));
  assert.equal(treeRdev(0x0801, 'freebsd'), makedev(8, 1));
});

/** The tree, as root (owners, setuid, capability, devices), and its pax archive by GNU tar. */
function fixture(): { tree: string; tar: string } {
  const tree = path.join(work, 'tree');
  for (const d of ['usr/bin', 'etc', 'nodes', 'home/user']) fs.mkdirSync(path.join(tree, d), { recursive: true });
  fs.writeFileSync(path.join(tree, 'usr/bin/ping'), 'ping\n');
  fs.chmodSync(path.join(tree, 'usr/bin/ping'), 0o4755);
  sh('setcap', ['cap_net_raw+ep', path.join(tree, 'usr/bin/ping')]);
  fs.writeFileSync(path.join(tree, 'etc/data'), 'data\n'.repeat(1000));
  fs.linkSync(path.join(tree, 'etc/data'), path.join(tree, 'etc/hardlink'));
  sh('setfattr', ['-n', 'user.test', '-v', 'hello', path.join(tree, 'etc/data')]);
  fs.symlinkSync('../etc/data', path.join(tree, 'usr/link'));
  // a hard-linked symlink: tar keeps it as a hard link member; both sides make two symlinks
  fs.linkSync(path.join(tree, 'usr/link'), path.join(tree, 'usr/link2'));
  sh('mknod', [path.join(tree, 'nodes/null'), 'c', '1', '3']);
  sh('mknod', [path.join(tree, 'nodes/sda'), 'b', '8', '0']);
  sh('mknod', [path.join(tree, 'nodes/big'), 'c', '300', '70000']);
  sh('mkfifo', [path.join(tree, 'nodes/fifo')]);
  fs.writeFileSync(path.join(tree, 'home/user/file'), 'secret\n');
  fs.chmodSync(path.join(tree, 'home/user/file'), 0o600);
  for (const p of ['home/user', 'home/user/file']) fs.chownSync(path.join(tree, p), 1234, 2345);
  fs.utimesSync(path.join(tree, 'etc/data'), 1600000000, 1600000000);
  const tar = path.join(work, 'rootfs.tar');
  // --atime-preserve: reading for the archive must not change the atimes the directory side sees
  sh('tar', ['--format=pax', '--xattrs', "--xattrs-include=*", '--numeric-owner', '--atime-preserve=replace', '-cf', tar, '-C', tree, '.']);
  fs.chmodSync(tar, 0o644);
  return { tree, tar };
}

const rootSkip = !isRoot ? 'needs root: the directory side has owners, devices and a capability' : !has('setcap', '-v') || !has('setfattr') ? 'libcap2-bin/attr missing' : false;
const fx = rootSkip ? null : fixture();

for (const format of ['ext4', 'erofs', 'squashfs']) {
  test(`${format}: the archive, built as uid ${UID}, gives the file system the directory gives as root`, { skip: rootSkip, timeout: 5 * 60 * 1000 }, () => {
    const extra = format === 'ext4' ? '' : 'Minimize=best\n';
    const dirImg = path.join(work, `${format}-dir.raw`);
    const tarImg = path.join(work, `${format}-tar.raw`);
    const out = path.join(work, 'out');
    fs.mkdirSync(out, { recursive: true, mode: 0o777 });
    fs.chmodSync(out, 0o777);
    const a = repart(defsFor(`${format}-dir`, format, `CopyFiles=${fx!.tree}:/`, extra), dirImg);
    assert.equal(a.status, 0, a.stderr);
    const b = repart(defsFor(`${format}-tar`, format, `CopyArchive=${fx!.tar}:/`, extra), path.join(out, `${format}.raw`), true);
    assert.equal(b.status, 0, b.stderr);
    fs.renameSync(path.join(out, `${format}.raw`), tarImg);
    const rows = (s: string) => JSON.parse(s).map((r: Record<string, unknown>) => ({ ...r, file: undefined, node: undefined }));
    assert.deepEqual(rows(b.stdout), rows(a.stdout));
    assert.ok(fs.readFileSync(tarImg).equals(fs.readFileSync(dirImg)), 'the two images are byte-identical');
    if (format !== 'ext4') return;
    // and the facts, read back from the archive's image
    const dev = `${tarImg}?offset=${JSON.parse(b.stdout)[0].offset}`;
    const stat = (p: string) => sh('debugfs', ['-R', `stat "${p}"`, dev]);
    assert.match(stat('/home/user/file'), /User:\s+1234\s+Group:\s+2345/);
    assert.match(stat('/home/user/file'), /Mode:\s+0600/);
    assert.match(stat('/usr/bin/ping'), /Mode:\s+04755/);
    assert.match(stat('/nodes/big'), /Device major\/minor number: 300:70000/);
    assert.match(stat('/nodes/sda'), /Type: block/);
    assert.match(stat('/etc/hardlink'), /Links: 2/);
    for (const l of ['/usr/link', '/usr/link2']) assert.match(stat(l), /Links: 1[\s\S]*Fast link dest: "\.\.\/etc\/data"/, l);
    assert.deepEqual(xattrView(ext4Xattrs(dev, '/etc/data', path.join(work, 's'))), ['user.test=68656c6c6f']);
    assert.deepEqual(xattrView(ext4Xattrs(dev, '/usr/bin/ping', path.join(work, 's'))), ['security.capability=0100000200200000000000000000000000000000']);
    const fsck = spawnSync('e2fsck', ['-fn', dev], { encoding: 'utf8' });
    assert.equal(fsck.status, 0, fsck.stdout);
  });
}

test('GNU and ustar headers: long names and link targets, prefix fields, numeric owners', () => {
  const t = path.join(work, 'long');
  const deep = path.join(t, 'a'.repeat(60), 'b'.repeat(60));
  fs.mkdirSync(deep, { recursive: true });
  const name = 'c'.repeat(90);
  fs.writeFileSync(path.join(deep, name), 'x'.repeat(1234));
  fs.symlinkSync('t'.repeat(150), path.join(t, 'longlink'));
  for (const format of ['gnu', 'ustar', 'pax']) {
    const tar = path.join(work, `long-${format}.tar`);
    // ustar cannot hold a 150-byte link target: that one only in gnu and pax
    const members = format === 'ustar' ? ['./' + path.relative(t, path.join(deep, name))] : ['.'];
    sh('tar', [`--format=${format}`, '--owner=4321', '--group=8765', '--numeric-owner', '-cf', tar, '-C', t, ...members]);
    const hs = [...readTarHeaders({ source: tar, target: '/' })];
    const file = hs.find((h) => h.path.endsWith(name))!;
    assert.equal(file.path.replace(/^\.\//, ''), path.relative(t, path.join(deep, name)), format);
    assert.equal(file.size, 1234);
    assert.equal(file.uid, 4321);
    assert.equal(file.gid, 8765);
    // the member's bytes are where the tree will read them
    const fd = fs.openSync(tar, 'r');
    const b = Buffer.alloc(file.size);
    fs.readSync(fd, b, 0, b.length, file.dataOffset);
    fs.closeSync(fd);
    assert.equal(b.toString(), 'x'.repeat(1234));
    if (format !== 'ustar') assert.equal(hs.find((h) => h.path.endsWith('longlink'))!.linkname, 't'.repeat(150));
  }
});

test('a member name that is not UTF-8 is a clear error (U+FFFD in its place would name another file), in every header format', () => {
  const t = path.join(work, 'notutf8');
  fs.mkdirSync(t);
  fs.writeFileSync(Buffer.concat([Buffer.from(t + '/bad'), Buffer.from([0xff]), Buffer.from('name')]), 'x');
  fs.writeFileSync(path.join(t, 'ok-\uFFFD'), 'y');
  for (const format of ['gnu', 'ustar', 'pax']) {
    const tar = path.join(work, `notutf8-${format}.tar`);
    sh('tar', [`--format=${format}`, '-cf', tar, '-C', t, '.']);
    assert.throws(() => [...readTarHeaders({ source: tar, target: '/' })], (e: unknown) => e instanceof FsError && e.code === 'E_SOURCE' && /not valid UTF-8/.test(e.message), format);
  }
  fs.rmSync(Buffer.concat([Buffer.from(t + '/bad'), Buffer.from([0xff]), Buffer.from('name')]));
  const tar = path.join(work, 'utf8-ok.tar');
  sh('tar', ['-cf', tar, '-C', t, '.']);
  assert.ok([...readTarHeaders({ source: tar, target: '/' })].some((h) => h.path.endsWith('ok-\uFFFD')), 'a real U+FFFD is a name');
});

test('vfat: archive members are read from their offsets (same image as from the directory)', () => {
  const t = path.join(work, 'esp');
  fs.mkdirSync(path.join(t, 'EFI/BOOT'), { recursive: true });
  fs.writeFileSync(path.join(t, 'EFI/BOOT/BOOTX64.EFI'), Buffer.alloc(3 * 1024 * 1024 + 17, 0x4d));
  fs.writeFileSync(path.join(t, 'small.txt'), 'small\n');
  for (const p of ['EFI/BOOT/BOOTX64.EFI', 'small.txt', 'EFI/BOOT', 'EFI']) fs.utimesSync(path.join(t, p), 1650000000, 1650000000);
  const tar = path.join(work, 'esp.tar');
  sh('tar', ['--format=pax', '-cf', tar, '-C', t, '.']);
  const esp = (line: string, name: string) => {
    const d = path.join(work, `defs-${name}`);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, '00-esp.conf'), `[Partition]\nType=esp\nFormat=vfat\nSizeMinBytes=64M\n${line}\n`);
    const img = path.join(work, `${name}.raw`);
    const r = repart(d, img);
    assert.equal(r.status, 0, r.stderr);
    return fs.readFileSync(img);
  };
  assert.ok(esp(`CopyArchive=${tar}:/`, 'esp-tar').equals(esp(`CopyFiles=${t}:/`, 'esp-dir')));
});

test('CopyArchive= into a sub-directory merges with CopyFiles= and MakeDirectories=', () => {
  const t = path.join(work, 'sub');
  fs.mkdirSync(path.join(t, 'opt/app'), { recursive: true });
  fs.writeFileSync(path.join(t, 'opt/app/run'), 'run\n');
  const tar = path.join(work, 'sub.tar');
  sh('tar', ['--format=pax', '-cf', tar, '-C', t, 'opt']);
  const host = path.join(work, 'host');
  fs.mkdirSync(path.join(host, 'opt'), { recursive: true });
  fs.writeFileSync(path.join(host, 'opt/other'), 'other\n');
  const d = defsFor('merge', 'ext4', `CopyFiles=${host}:/\nCopyArchive=${tar}:/srv/x`, 'MakeDirectories=/srv/x/opt/made\n');
  const img = path.join(work, 'merge.raw');
  const r = repart(d, img);
  assert.equal(r.status, 0, r.stderr);
  const dev = `${img}?offset=${JSON.parse(r.stdout)[0].offset}`;
  const ls = (p: string) => sh('debugfs', ['-R', `ls "${p}"`, dev]);
  assert.match(ls('/opt'), /other/);
  assert.match(ls('/srv/x/opt'), /app/);
  assert.match(ls('/srv/x/opt'), /made/);
  assert.match(sh('debugfs', ['-R', 'cat /srv/x/opt/app/run', dev]), /^run$/m);
});

test('mistakes: a compressed archive, a member leaving with "..", a truncated archive, not a tar — each a clear error and no image', () => {
  const t = path.join(work, 'bad');
  fs.mkdirSync(t, { recursive: true });
  fs.writeFileSync(path.join(t, 'f'), 'f'.repeat(2000));
  const good = path.join(work, 'good.tar');
  sh('tar', ['-cf', good, '-C', t, 'f']);
  const gz = path.join(work, 'bad.tar.gz');
  sh('sh', ['-c', `gzip -c < ${good} > ${gz}`]);
  const truncated = path.join(work, 'trunc.tar');
  fs.writeFileSync(truncated, fs.readFileSync(good).subarray(0, 1024));
  const dotdot = path.join(work, 'dotdot.tar');
  sh('tar', ['-cPf', dotdot, '-C', t, '--transform=s,^f,../escape,', 'f']);
  const notTar = path.join(work, 'not.tar');
  fs.writeFileSync(notTar, Buffer.alloc(4096, 0x41));
  for (const [file, why] of [[gz, /gzip-compressed; CopyArchive= reads an uncompressed tar in place/], [dotdot, /leaves the archive with "\.\."/], [truncated, /truncated archive/], [notTar, /bad header checksum at byte 0/], [path.join(work, 'missing.tar'), /cannot open CopyArchive= source: ENOENT/]] as const) {
    const img = path.join(work, 'bad.raw');
    const r = repart(defsFor('bad', 'ext4', `CopyArchive=${file}:/`), img);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, why);
    assert.match(r.stderr, /10-root\.conf:4/, 'the line of the definition');
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(fs.existsSync(img), false, 'no image');
  }
});

test('NixOS JSON: contents with an archive become CopyArchive=', () => {
  const t = path.join(work, 'nix');
  fs.mkdirSync(path.join(t, 'etc'), { recursive: true });
  fs.writeFileSync(path.join(t, 'etc/os-release'), 'ID=test\n');
  const tar = path.join(work, 'nix.tar');
  sh('tar', ['--format=pax', '--owner=7', '--group=8', '--numeric-owner', '-cf', tar, '-C', t, '.']);
  const cfg = path.join(work, 'nix.json');
  fs.writeFileSync(cfg, JSON.stringify({ name: 'arch', partitions: { root: { contents: { '/': { archive: tar } }, repartConfig: { Type: 'root', Format: 'ext4' } } } }));
  const out = path.join(work, 'nix-out');
  const r = spawnSync(process.execPath, [CLI, 'build', cfg, '--out', out, '--no-progress'], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  const dev = `${path.join(out, 'arch.raw')}?offset=${JSON.parse(r.stdout)[0].offset}`;
  // the archive's owners are its own (mapOwnersToRoot is about host files)
  assert.match(sh('debugfs', ['-R', 'stat /etc/os-release', dev]), /User:\s+7\s+Group:\s+8/);
  fs.writeFileSync(cfg, JSON.stringify({ name: 'arch', partitions: { root: { contents: { '/': { archive: tar, source: t } }, repartConfig: { Type: 'root' } } } }));
  const both = spawnSync(process.execPath, [CLI, 'build', cfg, '--out', path.join(work, 'nix-out2')], { encoding: 'utf8', env });
  assert.equal(both.status, 1);
  assert.match(both.stderr, /partitions\.root\.contents\."\/": give either source .* or archive/);
});
