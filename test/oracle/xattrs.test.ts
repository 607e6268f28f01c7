/**
 * Source xattrs beside systemd-repart 262: a host tree with user.* attributes (names and values
 * with every byte), a file capability set with setcap, a trusted.* attribute on a symlink, built
 * by the reference and by repart-ts into ext4, btrfs, erofs and squashfs partitions of one image
 * each (same definitions, seed and SOURCE_DATE_EPOCH); the attributes of every path read back
 * from both images must be equal (ext4: debugfs; btrfs: the leaves; erofs and squashfs: the
 * sid's fsck.erofs extracting without chown; squashfs: the xattr table itself, and unsquashfs).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { REFERENCE, referenceSkipReason, runOurs, runReference } from '../helpers/reference.js';
import { parseGetfattr } from '../../src/tree/xattrs.js';
import { btrfsXattrs, copyWindow, ext4Xattrs, xattrView } from '../wasm-helpers.js';

const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).error === undefined;
const skip = referenceSkipReason('sid') ?? (has('setfattr') && has('getfattr') && spawnSync('setcap', ['-v'], { stdio: 'ignore' }).error === undefined ? null : 'attr/libcap2-bin (setfattr, getfattr, setcap) missing');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'xattrs-oracle-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const SEED = '0867da16-f251-457d-a9e8-c31f9a3c220b';

function setx(p: string, name: string, hex: string): void {
  const r = spawnSync('setfattr', ['-h', '-n', name, '-v', '0x' + hex, p], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

const PATHS = ['/', '/usr', '/usr/bin', '/usr/bin/ping', '/usr/data', '/usr/link', '/plain'];

function fixture(): string {
  const src = path.join(work, 'src');
  fs.mkdirSync(path.join(src, 'usr/bin'), { recursive: true });
  fs.writeFileSync(path.join(src, 'usr/bin/ping'), 'ping\n');
  fs.chmodSync(path.join(src, 'usr/bin/ping'), 0o755);
  fs.writeFileSync(path.join(src, 'usr/data'), 'data\n');
  fs.writeFileSync(path.join(src, 'plain'), 'none\n');
  fs.symlinkSync('data', path.join(src, 'usr/link'));
  setx(src, 'user.root', '746f70');
  // set out of name order: the tools see the host's list order, getfattr sorts
  for (const n of ['zz', 'aa', 'mm']) setx(path.join(src, 'usr'), `user.${n}`, Buffer.from(n).toString('hex'));
  setx(path.join(src, 'usr/data'), 'user.binary', Buffer.from(Uint8Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff)).toString('hex'));
  // an empty value: sid's fsck.erofs cannot extract it (and skips the file's later xattrs), so
  // it sits alone on a file the erofs test checks through the image bytes
  setx(path.join(src, 'plain'), 'user.empty', '');
  setx(path.join(src, 'usr/link'), 'trusted.link', '0102');
  const cap = spawnSync('setcap', ['cap_net_raw+ep', path.join(src, 'usr/bin/ping')], { encoding: 'utf8' });
  assert.equal(cap.status, 0, cap.stderr);
  return src;
}

interface Built { img: string; rows: { offset: number; raw_size: number }[] }

function build(src: string, format: string): { ours: Built; theirs: Built } {
  const defs = path.join(work, `defs-${format}`);
  fs.mkdirSync(defs, { recursive: true });
  const extra = format === 'erofs' || format === 'squashfs' ? 'Minimize=best\n' : format === 'btrfs' ? 'SizeMinBytes=128M\n' : '';
  fs.writeFileSync(path.join(defs, '10-root.conf'), `[Partition]\nType=root\nFormat=${format}\nCopyFiles=${src}:/\n${extra}`);
  const args = (img: string) => ['--offline=yes', '--empty=create', '--size=auto', '--dry-run=no', '--json=short', `--seed=${SEED}`, `--definitions=${defs}`, img];
  const env = { SOURCE_DATE_EPOCH: '1700000000' };
  const out: Record<string, Built> = {};
  for (const who of ['ours', 'theirs'] as const) {
    const img = path.join(work, `${format}-${who}.raw`);
    const r = who === 'ours' ? runOurs(args(img), work, env) : runReference('sid', args(img), work, { ...env, REFERENCE_BIND: work });
    assert.equal(r.status, 0, `${who}: ${r.stderr}`);
    out[who] = { img, rows: JSON.parse(r.stdout) };
  }
  assert.deepEqual(out.ours!.rows, out.theirs!.rows.map((r, i) => ({ ...r, node: (out.ours!.rows[i] as unknown as { node: string }).node })));
  return { ours: out.ours!, theirs: out.theirs! };
}

function partition(b: Built, name: string): string {
  const p = path.join(work, name);
  copyWindow(b.img, b.rows[0]!.offset, b.rows[0]!.raw_size, p);
  return p;
}

const src = skip ? '' : fixture();

test('ext4: every path\'s xattrs equal to systemd-repart 262\'s', { skip: skip ?? false, timeout: 10 * 60 * 1000 }, () => {
  const { ours, theirs } = build(src, 'ext4');
  const dev = (b: Built) => `${b.img}?offset=${b.rows[0]!.offset}`;
  for (const p of PATHS) {
    const want = xattrView(ext4Xattrs(dev(theirs), p, path.join(work, 's')));
    assert.deepEqual(xattrView(ext4Xattrs(dev(ours), p, path.join(work, 's'))), want, p);
  }
  assert.ok(xattrView(ext4Xattrs(dev(theirs), '/usr/bin/ping', path.join(work, 's'))).some((x) => x.startsWith('security.capability=01000002')), 'the reference kept the capability');
});

test('btrfs: every path\'s xattrs equal to systemd-repart 262\'s', { skip: skip ?? false, timeout: 10 * 60 * 1000 }, () => {
  const { ours, theirs } = build(src, 'btrfs');
  const view = (m: Map<string, { name: string; value: Uint8Array }[]>) => Object.fromEntries([...m].map(([p, xs]) => [p, xattrView(xs)]).sort());
  const want = view(btrfsXattrs(partition(theirs, 'theirs.btrfs')));
  assert.ok(want['/usr/bin/ping']?.some((x: string) => x.startsWith('security.capability=')), 'the reference kept the capability');
  assert.deepEqual(view(btrfsXattrs(partition(ours, 'ours.btrfs'))), want);
});

/** Extract with the reference's own tool (sid's), in the chroot. */
function extract(tool: string, args: string[]): void {
  const r = spawnSync(REFERENCE, ['--exec', tool, ...args], { cwd: work, encoding: 'utf8', env: { ...process.env, REFERENCE_SUITE: 'sid', REFERENCE_BIND: work }, timeout: 5 * 60 * 1000 });
  assert.equal(r.status, 0, `${tool}: ${r.stdout}${r.stderr}`);
}

/** getfattr's view of an extracted path (name=hex, sorted). */
function hostView(p: string): string[] {
  const r = spawnSync('getfattr', ['-d', '-m', '-', '-e', 'hex', '--absolute-names', '-h', p], { encoding: 'latin1' });
  return xattrView([...parseGetfattr(r.stdout).values()][0] ?? []);
}

test('erofs: every path\'s xattrs equal to systemd-repart 262\'s (sid\'s fsck.erofs --extract --xattrs, no chown)', { skip: skip ?? false, timeout: 10 * 60 * 1000 }, () => {
  const { ours, theirs } = build(src, 'erofs');
  const views: Record<string, Record<string, string[]>> = {};
  for (const [who, b] of [['ours', ours], ['theirs', theirs]] as const) {
    const dir = path.join(work, `erofs-ex-${who}`);
    // without --preserve-owner no chown follows, so the kernel keeps security.capability
    extract('fsck.erofs', [`--extract=${dir}`, '--xattrs', '--no-preserve-owner', partition(b, `${who}.erofs`)]);
    views[who] = Object.fromEntries(PATHS.filter((p) => p !== '/plain').map((p) => [p, hostView(path.join(dir, p))]));
    const empty = Buffer.concat([Buffer.from([5, 1, 0, 0]), Buffer.from('empty')]);
    assert.ok(fs.readFileSync(path.join(work, `${who}.erofs`)).includes(empty), `${who}: user.empty of /plain`);
  }
  assert.ok(views.theirs!['/usr/bin/ping']!.some((x) => x.startsWith('security.capability=01000002')), 'the reference kept the capability');
  assert.deepEqual(views.ours, views.theirs);
});

/** A squashfs's xattr sets through its xattr id table (each set and the sets sorted): the
 * table itself, since unsquashfs chowns after setting xattrs and the kernel then drops
 * security.capability. gzip (mksquashfs' default) or uncompressed metadata blocks. */
function squashfsXattrSets(part: string): string[] {
  const img = fs.readFileSync(part);
  if (img.readBigInt64LE(56) === -1n) return [];
  const idTable = Number(img.readBigUInt64LE(56));
  const kvStart = Number(img.readBigUInt64LE(idTable));
  const ids = img.readUInt32LE(idTable + 8);
  const block = (o: number): { data: Buffer; next: number } => {
    const h = img.readUInt16LE(o);
    const raw = img.subarray(o + 2, o + 2 + (h & 0x7fff));
    return { data: h & 0x8000 ? raw : zlib.inflateSync(raw), next: o + 2 + (h & 0x7fff) };
  };
  // the key/value area: block start (relative to kvStart) -> where its bytes begin in `kv`
  const kvEnd = Number(img.readBigUInt64LE(idTable + 16));
  const starts = new Map<number, number>();
  const chunks: Buffer[] = [];
  let len = 0;
  for (let o = kvStart; o < kvEnd; ) {
    const b = block(o);
    starts.set(o - kvStart, len);
    chunks.push(b.data);
    len += b.data.length;
    o = b.next;
  }
  const kv = Buffer.concat(chunks);
  const at = (ref: bigint) => starts.get(Number(ref >> 16n))! + Number(ref & 0xffffn);
  const idBytes = Buffer.concat(Array.from({ length: Math.ceil((ids * 16) / 8192) }, (_, i) => block(Number(img.readBigUInt64LE(idTable + 16 + 8 * i))).data));
  const prefix = ['user.', 'trusted.', 'security.'];
  const sets: string[] = [];
  for (let i = 0; i < ids; i++) {
    let o = at(idBytes.readBigUInt64LE(i * 16));
    const count = idBytes.readUInt32LE(i * 16 + 8);
    const set: string[] = [];
    for (let k = 0; k < count; k++) {
      const type = kv.readUInt16LE(o);
      const nameLen = kv.readUInt16LE(o + 2);
      const name = prefix[type & 0xff] + kv.toString('latin1', o + 4, o + 4 + nameLen);
      o += 4 + nameLen;
      let v = o;
      if (type & 0x100) v = at(kv.readBigUInt64LE(o + 4));
      const vlen = kv.readUInt32LE(v);
      set.push(`${name}=${kv.toString('hex', v + 4, v + 4 + vlen)}`);
      o += 4 + kv.readUInt32LE(o);
    }
    // each set by name: the order within a file is the host's listing order, which the 262
    // stack's temporary copies change (e.g. validatefs' on the root), and is not compared here
    sets.push(set.sort().join(' '));
  }
  return sets.sort();
}

test('squashfs: the xattr sets and every path\'s user.* xattrs equal to systemd-repart 262\'s', { skip: skip ?? false, timeout: 10 * 60 * 1000 }, () => {
  const { ours, theirs } = build(src, 'squashfs');
  const want = squashfsXattrSets(partition(theirs, 'theirs.squashfs'));
  assert.ok(want.some((x) => x.includes('security.capability=01000002')), `the reference kept the capability: ${want.join(' ')}`);
  assert.deepEqual(squashfsXattrSets(partition(ours, 'ours.squashfs')), want);
  const views: Record<string, Record<string, string[]>> = {};
  for (const [who, b] of [['ours', ours], ['theirs', theirs]] as const) {
    const dir = path.join(work, `squashfs-ex-${who}`);
    extract('unsquashfs', ['-no-progress', '-d', dir, partition(b, `${who}.squashfs`)]);
    views[who] = Object.fromEntries(PATHS.map((p) => [p, hostView(path.join(dir, p))]));
  }
  assert.deepEqual(views.ours, views.theirs);
});
