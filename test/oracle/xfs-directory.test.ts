/**
 * Oracle tier for Format=xfs under 262: systemd-repart 262 passes sid's mkfs.xfs 7.2.0 the
 * directory (`-p <dir>`); our 6.13.0 build reads the tree the same way (wasm/xfs/ext/
 * populate_dir.c). Compared inode by inode with the reference trees' own xfs_db: times (source
 * mtime with nanoseconds, clamped to SOURCE_DATE_EPOCH, which is also the clock), sticky/setuid/setgid bits,
 * hard links (one inode, its link count, one parent pointer per name), xattrs on every type and
 * the root directory's (validatefs, autofsck), and the free inode/block counters. Inode numbers
 * follow readdir order: 262 reads its staging copy in the order of the file system under
 * /var/tmp (ext4: hash order), we read the tree in strcmp order, so they are compared where a
 * directory has one entry, and there the whole partition outside the inode chunks (and an
 * attribute block holding a parent's random generation number) too.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isRoot, makeFixture } from '../wasm-helpers.js';
import { referenceSkipReason, REFERENCE, runOurs, runReference } from '../helpers/reference.js';

const SEED = '0b9a3c6e-1f27-4d8e-9a55-6c2d3e4f5a6b';
const EPOCH = '1700000000';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'xfs-dir-oracle-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const skip = (): string | false => (!isRoot ? 'needs root (reference-repart chroots)' : referenceSkipReason('sid') ?? false);

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
}

/** mtime with nanoseconds (Node's utimes takes float seconds), not following symlinks. */
const touch = (p: string, when: string) => sh('touch', ['-h', '-d', when, p]);

function xfsDb(dir: string, part: string, cmds: string[]): string {
  const r = spawnSync(REFERENCE, ['--exec', 'xfs_db', '-r', ...cmds.flatMap((c) => ['-c', c]), part], {
    cwd: dir, encoding: 'utf8', env: { ...process.env, REFERENCE_SUITE: 'sid' }, timeout: 5 * 60 * 1000, maxBuffer: 1 << 28,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return r.stdout;
}

function repairClean(dir: string, part: string): void {
  const r = spawnSync(REFERENCE, ['--exec', 'xfs_repair', '-n', '-f', part], { cwd: dir, encoding: 'utf8', env: { ...process.env, REFERENCE_SUITE: 'sid' }, timeout: 5 * 60 * 1000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
}

/** Both images from the same definitions, seed and SOURCE_DATE_EPOCH; their partitions cut out. */
function build(name: string, tree: (src: string) => void): { dir: string; ours: string; ref: string } {
  const dir = path.join(work, name);
  fs.mkdirSync(path.join(dir, 'defs'), { recursive: true });
  tree(path.join(dir, 'src'));
  fs.writeFileSync(path.join(dir, 'defs', '10-root.conf'), '[Partition]\nType=root\nFormat=xfs\nCopyFiles=/src:/\nMinimize=guess\n');
  const args = (img: string) => ['--offline=yes', '--empty=create', '--size=auto', `--seed=${SEED}`, '--definitions=defs', `--root=${dir}`, '--json=short', img];
  const env = { SOURCE_DATE_EPOCH: EPOCH };
  const r = runReference('sid', args('ref.img'), dir, env);
  assert.equal(r.status, 0, r.stderr);
  const o = runOurs(args('ours.img'), dir, env);
  assert.equal(o.status, 0, o.stderr);
  assert.deepEqual(JSON.parse(o.stdout), JSON.parse(r.stdout.replaceAll('ref.img', 'ours.img')));
  for (const [img, json] of [['ours', o.stdout], ['ref', r.stdout]] as const) {
    const [p] = JSON.parse(json) as { offset: number; raw_size: number }[];
    const buf = Buffer.alloc(p!.raw_size);
    const fd = fs.openSync(path.join(dir, `${img}.img`), 'r');
    fs.readSync(fd, buf, 0, buf.length, p!.offset);
    fs.closeSync(fd);
    fs.writeFileSync(path.join(dir, `${img}.part`), buf);
  }
  return { dir, ours: 'ours.part', ref: 'ref.part' };
}

/** path → inode number, and each directory's entries in on-disk order, by xfs_db's ls. */
function walk(dir: string, part: string): { inos: Map<string, number>; order: Map<string, string[]> } {
  const inos = new Map<string, number>([['/', 128]]);
  const order = new Map<string, string[]>();
  const stack: string[] = ['/'];
  while (stack.length) {
    const d = stack.pop()!;
    const names: string[] = [];
    for (const line of xfsDb(dir, part, [`inode ${inos.get(d)}`, 'ls']).split('\n')) {
      const m = /^\d+\s+(\d+)\s+(\S+)\s+0x[0-9a-f]+\s+\d+ (.*) \(good\)$/.exec(line);
      if (!m || m[3] === '.' || m[3] === '..') continue;
      const p = d === '/' ? `/${m[3]}` : `${d}/${m[3]}`;
      names.push(m[3]!);
      inos.set(p, Number(m[1]));
      if (m[2] === 'directory') stack.push(p);
    }
    order.set(d, names);
  }
  return { inos, order };
}

/**
 * One inode as xfs_db prints it, without what only says where it is or what random numbers it
 * got (generation, CRC, LSN, its number, extent start blocks), and with its directory entries
 * and xattrs as sorted sets, parent pointers and entries naming paths instead of numbers.
 */
function inodeView(text: string, pathOf: Map<number, string>, placement: boolean): string {
  const keep: string[] = [];
  const sets = new Map<string, Record<string, string>>();
  for (const line of text.split('\n')) {
    const m = /^(u3\.sfdir3\.list|a\.sfattr\.list)\[(\d+)\]\.(\S+) = (.*)$/.exec(line);
    if (m) {
      const rec = sets.get(`${m[1]}${m[2]}`) ?? {};
      rec[m[3]!] = /inumber/.test(m[3]!) ? pathOf.get(Number(m[4])) ?? m[4]! : m[4]!;
      sets.set(`${m[1]}${m[2]}`, rec);
      continue;
    }
    if (/^(core\.gen|v3\.crc|v3\.lsn|v3\.inumber|next_unlinked|u3\.sfdir3\.hdr\.parent|u3\.bmx|u3\.sfdir3\.list|a\.sfattr\.list)/.test(line)) continue;
    if (/parent_dir\.gen|\.offset = /.test(line)) continue;
    if (!placement) {
      // What follows the order entries are made in: where extents ([startoff,startblock,
      // blockcount,flag]) start (the inode's AG), and the change counter (the entry whose
      // creation converts its directory's format rolls that transaction, re-logging the inode).
      if (/^v3\.change_count = /.test(line)) continue;
      keep.push(line.replace(/(\d+):\[(\d+),(\d+),(\d+),(\d+)\]/g, '$1:[$2,-,$4,$5]'));
      continue;
    }
    keep.push(line);
  }
  const entries = [...sets.values()].map((r) => {
    delete r['offset'];
    delete r['parent_dir.gen'];
    return JSON.stringify(Object.entries(r).sort());
  }).sort();
  return [...keep, ...entries].join('\n');
}

/** Every path whose inode differs, with the lines that differ (all of them, not the first). */
function sameInodes(ours: Map<string, string>, ref: Map<string, string>): void {
  const diffs: string[] = [];
  for (const [p, r] of ref) {
    const o = ours.get(p) ?? '';
    if (o === r) continue;
    const ol = new Set(o.split('\n'));
    const rl = new Set(r.split('\n'));
    diffs.push(`${p}:\n${[...rl].filter((l) => !ol.has(l)).map((l) => `  262:  ${l}`).join('\n')}\n${[...ol].filter((l) => !rl.has(l)).map((l) => `  ours: ${l}`).join('\n')}`);
  }
  assert.equal(diffs.join('\n'), '');
}

function inodeViews(dir: string, part: string, inos: Map<string, number>, placement: boolean): Map<string, string> {
  // an inode with several names is named by the first in strcmp order
  const pathOf = new Map([...inos].sort((a, b) => (a[0] < b[0] ? 1 : -1)).map(([p, i]) => [i, p] as const));
  const paths = [...inos.keys()].sort();
  const out = xfsDb(dir, part, paths.flatMap((p) => [`inode ${inos.get(p)}`, 'print']));
  const prints = out.split(/^(?=core\.magic = )/m).filter((s) => s.startsWith('core.magic'));
  assert.equal(prints.length, paths.length);
  return new Map(paths.map((p, k) => [p, inodeView(prints[k]!, pathOf, placement)]));
}

const counters = (dir: string, part: string) => xfsDb(dir, part, ['sb 0', 'print icount ifree fdblocks']);

test('262 xfs: every inode as 7.2.0 writes it: source mtimes to the ns, SOURCE_DATE_EPOCH clock, sticky bits, hard links, xattrs, counters', { skip: skip(), timeout: 15 * 60 * 1000 }, () => {
  const b = build('rich', (src) => {
    fs.mkdirSync(path.join(src, 'etc/sub'), { recursive: true });
    // a sticky directory other than /tmp, whose content neither image keeps
    fs.mkdirSync(path.join(src, 'pub'));
    fs.chmodSync(path.join(src, 'pub'), 0o1777);
    fs.mkdirSync(path.join(src, 'shared'));
    fs.chmodSync(path.join(src, 'shared'), 0o3775);
    fs.writeFileSync(path.join(src, 'etc/hostname'), 'repart\n');
    fs.writeFileSync(path.join(src, 'etc/sub/big'), Buffer.alloc(300_000, 7));
    fs.writeFileSync(path.join(src, 'suid'), 'x');
    fs.chmodSync(path.join(src, 'suid'), 0o4755);
    fs.writeFileSync(path.join(src, 'sgid'), 'y');
    fs.chmodSync(path.join(src, 'sgid'), 0o2711);
    // one file under three names in three directories, one under two in one directory
    fs.linkSync(path.join(src, 'etc/hostname'), path.join(src, 'pub/hostname-link'));
    fs.linkSync(path.join(src, 'etc/hostname'), path.join(src, 'etc/sub/hostname-link'));
    fs.linkSync(path.join(src, 'etc/sub/big'), path.join(src, 'etc/sub/big2'));
    fs.symlinkSync('../etc/hostname', path.join(src, 'shared/rel'));
    fs.symlinkSync('target with spaces', path.join(src, 'shared/spaced'));
    sh('mkfifo', [path.join(src, 'etc/fifo')]);
    // a socket: 7.2.0 makes a socket inode of it (257's protofile leaves it out)
    sh('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path.join(src, 'etc/sock')]);
    sh('setfattr', ['-n', 'user.file', '-v', 'f', path.join(src, 'etc/hostname')]);
    sh('setfattr', ['-n', 'user.dir', '-v', 'd', path.join(src, 'etc/sub')]);
    sh('setfattr', ['-n', 'trusted.link', '-v', 'l', '-h', path.join(src, 'shared/rel')]);
    sh('setfattr', ['-n', 'user.root', '-v', 'r', src]);
    // after the epoch (262 clamps it) and before it, with nanoseconds
    touch(path.join(src, 'etc/hostname'), '@1800000000.123456789');
    touch(path.join(src, 'etc/sub/big'), '@981173106.5');
    touch(path.join(src, 'shared/rel'), '@1000000000.000000001');
    for (const d of ['etc/sub', 'etc', 'pub', 'shared', '.']) touch(path.join(src, d), '@1600000000.987654321');
  });
  repairClean(b.dir, b.ours);
  assert.equal(counters(b.dir, b.ours), counters(b.dir, b.ref), 'icount, ifree, fdblocks');
  const wo = walk(b.dir, b.ours);
  const wr = walk(b.dir, b.ref);
  assert.deepEqual([...wo.inos.keys()].sort(), [...wr.inos.keys()].sort(), 'the same names');
  const vo = inodeViews(b.dir, b.ours, wo.inos, false);
  const vr = inodeViews(b.dir, b.ref, wr.inos, false);
  sameInodes(vo, vr);
  // and what that comparison covers, spelled out
  const one = vr.get('/etc/hostname')!;
  assert.match(one, /core\.nlinkv2 = 3/);
  assert.match(vr.get('/etc/sub/big')!, /core\.mtime\.nsec = 500000000/);
  assert.match(vr.get('/pub')!, /core\.mode = 041777/);
  assert.match(vr.get('/')!, /"name","\\"xfs:autofsck\\""/);
  assert.match(vr.get('/')!, /"name","\\"root\\""/);
  assert.match(vr.get('/shared/rel')!, /"name","\\"link\\""/);
  assert.equal(wo.inos.get('/etc/hostname'), wo.inos.get('/etc/sub/hostname-link'));
  assert.match(vr.get('/etc/sock')!, /core\.mode = 0140/);
});

test('262 xfs: one entry per directory (no readdir order to differ): same inode numbers, and every byte outside the inode chunks', { skip: skip(), timeout: 15 * 60 * 1000 }, () => {
  const b = build('chain', (src) => {
    fs.mkdirSync(path.join(src, 'usr/lib/sticky'), { recursive: true });
    fs.chmodSync(path.join(src, 'usr/lib/sticky'), 0o1777);
    fs.writeFileSync(path.join(src, 'usr/lib/sticky/data'), Buffer.alloc(100_000, 1));
    sh('setfattr', ['-n', 'user.x', '-v', 'y'.repeat(300), path.join(src, 'usr/lib/sticky/data')]);
    sh('setfattr', ['-n', 'user.d', '-v', 'z', path.join(src, 'usr/lib')]);
    touch(path.join(src, 'usr/lib/sticky/data'), '@1234567890.111111111');
    for (const d of ['usr/lib/sticky', 'usr/lib', 'usr']) touch(path.join(src, d), '@1234567890.222222222');
  });
  repairClean(b.dir, b.ours);
  const wo = walk(b.dir, b.ours);
  const wr = walk(b.dir, b.ref);
  assert.deepEqual([...wo.inos].sort(), [...wr.inos].sort(), 'same names at the same inode numbers');
  const vo = inodeViews(b.dir, b.ours, wo.inos, true);
  const vr = inodeViews(b.dir, b.ref, wr.inos, true);
  sameInodes(vo, vr);
  const a = fs.readFileSync(path.join(b.dir, b.ours));
  const r = fs.readFileSync(path.join(b.dir, b.ref));
  assert.equal(a.length, r.length);
  let differing = 0;
  let attrBlocks = 0;
  for (let i = 0; i < a.length; i += 4096) {
    if (a.subarray(i, i + 4096).equals(r.subarray(i, i + 4096))) continue;
    differing++;
    // an attribute leaf block (xfs_attr3_leaf magic at 8): its parent pointers hold the parent
    // directory's random generation number, so the value and the CRC (12..15) differ
    if (r.readUInt16BE(i + 8) === 0x3bee) {
      attrBlocks++;
      continue;
    }
    for (let k = 0; k < 4096; k += 512) assert.equal(r.readUInt16BE(i + k), 0x494e, `block ${i / 4096} differs and is neither an inode chunk nor an attribute block`);
  }
  // inode chunks in three AGs (8 blocks each) and the file's attribute block
  assert.equal(attrBlocks, 1);
  assert.ok(differing > 0 && differing <= 3 * 8 + 1, `only inode and attribute blocks differ (generation numbers, CRCs): ${differing}`);
});

test('262 xfs: the shared fixture tree (sparse file, hard links, long and dangling symlinks, names with spaces and Unicode): same inodes, same counters', { skip: skip(), timeout: 15 * 60 * 1000 }, () => {
  const b = build('fixture', (src) => {
    makeFixture(src);
    fs.rmSync(path.join(src, 'fifo'), { force: true });
  });
  repairClean(b.dir, b.ours);
  assert.equal(counters(b.dir, b.ours), counters(b.dir, b.ref), 'icount, ifree, fdblocks');
  const wo = walk(b.dir, b.ours);
  const wr = walk(b.dir, b.ref);
  assert.ok(wr.inos.size > 100, 'the reference tree was read');
  assert.deepEqual([...wo.inos.keys()].sort(), [...wr.inos.keys()].sort(), 'the same names');
  sameInodes(inodeViews(b.dir, b.ours, wo.inos, false), inodeViews(b.dir, b.ref, wr.inos, false));
});
