/**
 * Test helpers for the ext4/btrfs drivers: a host directory as a SourceTree (test-images/host-tree.ts),
 * a fixture tree with every awkward case, and
 * readers that take an image apart again with the real e2fsprogs / btrfs-progs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as crypto from 'node:crypto';
import assert from 'node:assert/strict';
import type { FormatProgress } from '../src/fs/driver.js';
import type { DirNode, FileNode, SourceTree, TreeNode } from '../src/tree/model.js';
import { hostTree } from '../test-images/host-tree.js';

export { hostTree };

export const isRoot = process.getuid?.() === 0;

/** A fixture tree with the cases the judges look at. `big` adds a 2 GiB sparse file. */
export function makeFixture(dir: string, opts: { big?: boolean } = {}): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const w = (p: string, data: string | Buffer, mode = 0o644) => {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.writeFileSync(path.join(dir, p), data);
    fs.chmodSync(path.join(dir, p), mode);
  };
  const rnd = (n: number, seed: number) => {
    const out = Buffer.alloc(n);
    let x = seed >>> 0 || 1;
    for (let i = 0; i < n; i++) {
      x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
      out[i] = x & 0xff;
    }
    return out;
  };
  w('etc/hostname', 'repart\n');
  w('etc/os-release', 'ID=test\n');
  for (let i = 0; i < 120; i++) w(`usr/share/data/file-${String(i).padStart(3, '0')}.bin`, rnd((i * 7919) % 70000, i + 1));
  w('usr/bin/tool', rnd(150000, 99), 0o755);
  w('usr/bin/suid', rnd(5000, 7), 0o4755);
  w('usr/bin/sgid', rnd(100, 8), 0o2711);
  fs.mkdirSync(path.join(dir, 'tmp'));
  fs.chmodSync(path.join(dir, 'tmp'), 0o1777);
  fs.mkdirSync(path.join(dir, 'empty/nested'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'private'), { mode: 0o700 });
  w('private/secret', 'x', 0o600);
  w('name with spaces/ça va ✓ 日本語.txt', 'unicode\n');
  w('name with spaces/emoji-😀', 'astral\n');
  fs.symlinkSync('../etc/hostname', path.join(dir, 'usr/rel-link'));
  fs.symlinkSync('/etc/os-release', path.join(dir, 'abs-link'));
  fs.symlinkSync('x'.repeat(200), path.join(dir, 'long-link'));
  fs.symlinkSync('does/not/exist', path.join(dir, 'dangling'));
  fs.linkSync(path.join(dir, 'usr/bin/tool'), path.join(dir, 'usr/bin/tool-hardlink'));
  fs.linkSync(path.join(dir, 'etc/hostname'), path.join(dir, 'usr/hostname-link'));
  // holes: data, 1 MiB hole, data, trailing hole
  const fd = fs.openSync(path.join(dir, 'sparse.img'), 'w');
  fs.writeSync(fd, rnd(10000, 3), 0, 10000, 0);
  fs.writeSync(fd, rnd(5000, 4), 0, 5000, 3 * 1024 * 1024);
  fs.ftruncateSync(fd, 8 * 1024 * 1024);
  fs.closeSync(fd);
  w('empty-file', '');
  if (opts.big) {
    const bfd = fs.openSync(path.join(dir, 'big-sparse'), 'w');
    fs.writeSync(bfd, Buffer.from('head'), 0, 4, 0);
    fs.writeSync(bfd, Buffer.from('tail'), 0, 4, 2 * 1024 ** 3 - 4);
    fs.closeSync(bfd);
  }
  if (isRoot) {
    fs.chownSync(path.join(dir, 'private'), 1234, 5678);
    fs.chownSync(path.join(dir, 'private/secret'), 1234, 5678);
    fs.lchownSync(path.join(dir, 'abs-link'), 42, 43);
  }
  spawnSync('mkfifo', [path.join(dir, 'fifo')]);
  // fixed times (also for symlinks) so reruns give the same trees
  const t = new Date('2001-02-03T04:05:06Z');
  const walkAll = (p: string): void => {
    const st = fs.lstatSync(p);
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) walkAll(path.join(p, n));
    fs.lutimesSync(p, t, t);
  };
  walkAll(dir);
  fs.utimesSync(path.join(dir, 'etc/hostname'), new Date('2030-01-01T00:00:00Z'), new Date('2024-06-01T12:34:56Z'));
}

/** One entry as both sides describe it. */
export interface Entry {
  type: string;
  perm: number;
  uid: number;
  gid: number;
  mtime: number;
  size: number;
  sha?: string;
  target?: string;
}

const TYPE: Record<number, string> = { 0o04: 'dir', 0o10: 'file', 0o12: 'symlink', 0o01: 'fifo', 0o14: 'socket', 0o02: 'char', 0o06: 'block' };

/** The source side: path -> Entry, plus hardlink groups (paths sharing a node). */
/** An archive member's bytes (FileSource 'archive'). */
function archiveBytes(p: string, offset: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  const fd = fs.openSync(p, 'r');
  try {
    fs.readSync(fd, b, 0, size, offset);
  } finally {
    fs.closeSync(fd);
  }
  return b;
}

export function describeTree(tree: SourceTree, clampTo?: number): { entries: Map<string, Entry>; links: string[][] } {
  const entries = new Map<string, Entry>();
  const byNode = new Map<TreeNode, string[]>();
  const visit = (dir: DirNode, prefix: string): void => {
    for (const [name, node] of dir.entries) {
      const p = prefix + '/' + name;
      const e: Entry = {
        type: node.kind,
        perm: node.meta.perm,
        uid: node.meta.uid,
        gid: node.meta.gid,
        mtime: clampTo !== undefined ? Math.min(node.meta.mtime.sec, clampTo) : node.meta.mtime.sec,
        size: node.kind === 'file' ? node.size : 0,
      };
      if (node.kind === 'file') {
        const src = node.source;
        e.sha = src.kind === 'host' ? sha256File(src.path)
          : crypto.createHash('sha256').update(src.kind === 'bytes' ? src.data : archiveBytes(src.path, src.offset, node.size)).digest('hex');
        byNode.set(node, [...(byNode.get(node) ?? []), p]);
      }
      if (node.kind === 'symlink') e.target = node.target;
      entries.set(p, e);
      if (node.kind === 'dir') visit(node, p);
    }
  };
  visit(tree.root, '');
  return { entries, links: [...byNode.values()].filter((g) => g.length > 1).map((g) => g.sort()) };
}

export function sha256File(p: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(p, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 1 << 28, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** ext4 read-back with debugfs: `ls -p` walk for metadata + inode numbers, `stat` for mtimes
 * and symlink targets, `dump` for contents. `dev` may carry `?offset=N`. */
export function describeExt4(dev: string, scratch: string): { entries: Map<string, Entry>; links: string[][] } {
  const entries = new Map<string, Entry>();
  const inodes = new Map<string, string[]>();
  const list: { p: string; ino: string; mode: number }[] = [];
  const stack = ['/'];
  while (stack.length) {
    const d = stack.pop()!;
    const txt = run('debugfs', ['-R', `ls -p "${d}"`, dev]);
    for (const line of txt.split('\n')) {
      if (!line.startsWith('/')) continue;
      // /ino/mode/uid/gid/name/size/  (names may contain '/': never in ours)
      const parts = line.split('/');
      const [ino, mode, uid, gid, name, size] = parts.slice(1, 7) as [string, string, string, string, string, string];
      if (name === '.' || name === '..' || ino === '0') continue;
      if (d === '/' && name === 'lost+found') continue;
      const p = (d === '/' ? '' : d) + '/' + name;
      const m = parseInt(mode, 8);
      list.push({ p, ino, mode: m });
      entries.set(p, { type: TYPE[m >> 12] ?? '?', perm: m & 0o7777, uid: +uid, gid: +gid, mtime: 0, size: +size });
      if ((m & 0o170000) === 0o040000) stack.push(p);
      else inodes.set(ino, [...(inodes.get(ino) ?? []), p]);
    }
  }
  // stat in one batch: mtime and fast/slow symlink targets
  const script = list.map((e) => `stat "${e.p}"`).join('\n');
  const stats = run('debugfs', ['-f', '-', dev], script).split(/^Inode: /m).slice(1);
  if (stats.length !== list.length) throw new Error(`debugfs stat: ${stats.length} answers for ${list.length} paths`);
  fs.mkdirSync(scratch, { recursive: true });
  list.forEach((e, i) => {
    const s = stats[i]!;
    const ent = entries.get(e.p)!;
    const mt = /^ *mtime: 0x([0-9a-f]+)(?::[0-9a-f]+)?/m.exec(s);
    if (mt) ent.mtime = parseInt(mt[1]!, 16) | 0;
    if (ent.type === 'symlink') {
      const fast = /Fast link dest: "(.*)"/.exec(s);
      ent.target = fast ? fast[1] : undefined;
      if (!fast) {
        const out = path.join(scratch, 'link');
        run('debugfs', ['-R', `dump "${e.p}" ${out}`, dev]);
        ent.target = fs.readFileSync(out, 'utf8');
      }
      ent.size = 0;
    }
    if (ent.type === 'file') {
      const out = path.join(scratch, 'f');
      run('debugfs', ['-R', `dump "${e.p}" ${out}`, dev]);
      ent.sha = sha256File(out);
      fs.rmSync(out);
    }
    if (ent.type !== 'file') ent.size = 0;
  });
  return { entries, links: [...inodes.values()].filter((g) => g.length > 1).map((g) => g.sort()) };
}

export function copyWindow(image: string, offset: number, size: number, out: string): void {
  // a sparse copy of one partition, for tools that cannot take an offset (btrfs)
  const src = fs.openSync(image, 'r');
  const dst = fs.openSync(out, 'w');
  const buf = Buffer.alloc(1 << 20);
  try {
    for (let p = 0; p < size; p += buf.length) {
      const n = fs.readSync(src, buf, 0, Math.min(buf.length, size - p), offset + p);
      if (n === 0) break;
      if (buf.subarray(0, n).some((b) => b !== 0)) fs.writeSync(dst, buf, 0, n, p);
    }
    fs.ftruncateSync(dst, size);
  } finally {
    fs.closeSync(src);
    fs.closeSync(dst);
  }
}

interface BtrfsInode { mode: number; uid: number; gid: number; size: number; mtime: number }
interface BtrfsDirent { name: string; ino: number; root?: number }

/** Parse `btrfs inspect-internal dump-tree -t <tree>`: inode items and directory entries. */
function dumpFsTree(dev: string, tree: number): { inodes: Map<number, BtrfsInode>; dirs: Map<number, BtrfsDirent[]> } {
  const txt = execFileSync('btrfs', ['inspect-internal', 'dump-tree', '-t', String(tree), dev], { maxBuffer: 1 << 28 }).toString('utf8');
  const inodes = new Map<number, BtrfsInode>();
  const dirs = new Map<number, BtrfsDirent[]>();
  const items = txt.split(/\n\titem \d+ /).slice(1);
  for (const it of items) {
    let m = /^key \((\d+) INODE_ITEM 0\)/.exec(it);
    if (m) {
      const ino = +m[1]!;
      const f = /size (\d+) .*\n.*mode (\d+) links \d+ uid (\d+) gid (\d+)[\s\S]*?\n\s*mtime (-?\d+)\./.exec(it)!;
      inodes.set(ino, { size: +f[1]!, mode: parseInt(f[2]!, 8), uid: +f[3]!, gid: +f[4]!, mtime: +f[5]! });
      continue;
    }
    m = /^key \((\d+) DIR_INDEX \d+\)[^\n]*\n\s*location key \((\d+) (INODE_ITEM|ROOT_ITEM) [^\n]*\n[^\n]*\n\s*name: (.*)/.exec(it);
    if (m) {
      const parent = +m[1]!;
      const e: BtrfsDirent = m[3] === 'ROOT_ITEM' ? { name: m[4]!, ino: 256, root: +m[2]! } : { name: m[4]!, ino: +m[2]! };
      dirs.set(parent, [...(dirs.get(parent) ?? []), e]);
    }
  }
  return { inodes, dirs };
}

/** btrfs read-back: metadata and names from dump-tree (every subvolume), file bytes and
 * symlink targets from `btrfs restore` of each subvolume tree. `dev` is a whole-fs image. */
export function describeBtrfs(dev: string, scratch: string): { entries: Map<string, Entry>; links: string[][]; subvolumes: Map<string, number> } {
  const entries = new Map<string, Entry>();
  const byInode = new Map<string, string[]>();
  const subvolumes = new Map<string, number>();
  const trees = new Map<number, ReturnType<typeof dumpFsTree>>();
  const restored = new Map<number, string>();
  const treeOf = (id: number) => {
    let t = trees.get(id);
    if (!t) {
      t = dumpFsTree(dev, id);
      trees.set(id, t);
      const out = path.join(scratch, `restore-${id}`);
      fs.rmSync(out, { recursive: true, force: true });
      fs.mkdirSync(out, { recursive: true });
      execFileSync('btrfs', ['restore', '-S', ...(id === 5 ? [] : ['-r', String(id)]), dev, out], { stdio: 'pipe' });
      restored.set(id, out);
    }
    return t;
  };
  const visit = (tree: number, dirIno: number, prefix: string, inTree: string): void => {
    const t = treeOf(tree);
    for (const d of t.dirs.get(dirIno) ?? []) {
      const p = prefix + '/' + d.name;
      const rel = inTree + '/' + d.name;
      if (d.root !== undefined) {
        subvolumes.set(p, d.root);
        const sub = treeOf(d.root);
        const ino = sub.inodes.get(256)!;
        entries.set(p, { type: 'dir', perm: ino.mode & 0o7777, uid: ino.uid, gid: ino.gid, mtime: ino.mtime, size: 0 });
        visit(d.root, 256, p, '');
        continue;
      }
      const ino = t.inodes.get(d.ino)!;
      const type = TYPE[ino.mode >> 12] ?? '?';
      const e: Entry = { type, perm: ino.mode & 0o7777, uid: ino.uid, gid: ino.gid, mtime: ino.mtime, size: type === 'file' ? ino.size : 0 };
      const local = path.join(restored.get(tree)!, rel);
      if (type === 'file') {
        e.sha = sha256File(local);
        const k = `${tree}:${d.ino}`;
        byInode.set(k, [...(byInode.get(k) ?? []), p]);
      }
      if (type === 'symlink') e.target = fs.readlinkSync(local);
      entries.set(p, e);
      if (type === 'dir') visit(tree, d.ino, p, rel);
    }
  };
  visit(5, 256, '', '');
  return { entries, links: [...byInode.values()].filter((g) => g.length > 1).map((g) => g.sort()), subvolumes };
}

/** Differences between the source and an image, as readable lines (empty = identical). */
export function diffDescriptions(
  want: { entries: Map<string, Entry>; links: string[][] },
  got: { entries: Map<string, Entry>; links: string[][] },
  skip: (p: string, e: Entry) => boolean = () => false,
): string[] {
  const out: string[] = [];
  for (const [p, e] of want.entries) {
    if (skip(p, e)) continue;
    const g = got.entries.get(p);
    if (!g) out.push(`missing ${p}`);
    else if (JSON.stringify(e) !== JSON.stringify(g)) out.push(`${p}: want ${JSON.stringify(e)} got ${JSON.stringify(g)}`);
  }
  for (const p of got.entries.keys()) if (!want.entries.has(p)) out.push(`extra ${p}`);
  const key = (l: string[][]) => JSON.stringify(l.map((g) => g.join('|')).sort());
  if (key(want.links) !== key(got.links)) out.push(`hardlinks: want ${key(want.links)} got ${key(got.links)}`);
  return out;
}

export interface Xattr { name: string; value: Uint8Array }

const nulstr = (...s: string[]) => Buffer.from(s.map((x) => x + '\0').join(''));
/** What systemd-repart ≥ 258 puts on a root partition's top directory (formatting.md §5.6). */
export const ROOT_XATTRS: Xattr[] = [
  { name: 'user.validatefs.gpt_label', value: nulstr('root-x86-64') },
  { name: 'user.validatefs.gpt_type_uuid', value: nulstr('4f68bce3-e8cd-4db1-96e7-fbcaf984b709') },
  { name: 'user.validatefs.mount_point', value: nulstr('/') },
];
/** Binary values (every byte value, NULs), a file capability, and one too big for the inode. */
export const FILE_XATTRS: Xattr[] = [
  { name: 'user.binary', value: Uint8Array.from({ length: 256 }, (_, i) => (i * 37) & 0xff) },
  { name: 'security.capability', value: Buffer.from('0100000200140000000000000000000000000000', 'hex') },
  { name: 'trusted.big', value: Buffer.alloc(2000, 0xa5) },
];

/** setfattr on a host path (native tools read them there); needs the attr package, and root
 * for trusted.* / security.*. */
export function setHostXattrs(p: string, xs: Xattr[]): void {
  for (const x of xs) execFileSync('setfattr', ['-h', '-n', x.name, '-v', '0x' + Buffer.from(x.value).toString('hex'), p]);
}

const byName = (xs: Xattr[]) => [...xs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
/** Comparable form: sorted by name (both file systems store them in their own order), values as hex. */
export function xattrView(xs: Xattr[] | undefined): string[] {
  return byName(xs ?? []).map((x) => `${x.name}=${Buffer.from(x.value).toString('hex')}`);
}

/** An ext4 inode's xattrs, byte for byte: names from `ea_list`, each value through `ea_get -f`. */
export function ext4Xattrs(dev: string, p: string, scratch: string): Xattr[] {
  const list = run('debugfs', ['-R', `ea_list "${p}"`, dev]);
  const names = [...list.matchAll(/^ {2}(\S+) \(\d+\)/gm)].map((m) => m[1]!);
  fs.mkdirSync(scratch, { recursive: true });
  const out = path.join(scratch, 'ea');
  return names.map((name) => {
    fs.rmSync(out, { force: true });
    run('debugfs', ['-R', `ea_get -f ${out} "${p}" ${name}`, dev]);
    return { name, value: fs.readFileSync(out) };
  });
}

/** Every inode's xattrs in the top-level subvolume of a btrfs image, by path, byte for byte.
 * dump-tree prints at most 255 bytes of a value and stops at NUL, so the values are read from
 * the leaves themselves: chunk tree (logical -> physical), then the XATTR_ITEMs' dir items. */
export function btrfsXattrs(dev: string): Map<string, Xattr[]> {
  const chunks = [...execFileSync('btrfs', ['inspect-internal', 'dump-tree', '-t', 'chunk', dev], { encoding: 'utf8' })
    .matchAll(/key \(FIRST_CHUNK_TREE CHUNK_ITEM (\d+)\)[^\n]*\n\s*length (\d+)[\s\S]*?stripe 0 devid \d+ offset (\d+)/g)]
    .map((m) => ({ logical: +m[1]!, length: +m[2]!, physical: +m[3]! }));
  const phys = (l: number) => {
    const c = chunks.find((k) => l >= k.logical && l < k.logical + k.length);
    if (!c) throw new Error(`logical ${l} is in no chunk`);
    return c.physical + l - c.logical;
  };
  const txt = execFileSync('btrfs', ['inspect-internal', 'dump-tree', '-t', '5', dev], { maxBuffer: 1 << 28 }).toString('latin1');
  const fd = fs.openSync(dev, 'r');
  const byIno = new Map<number, Xattr[]>();
  const names = new Map<number, { parent: number; name: string }>();
  try {
    let leaf = -1;
    for (const m of txt.matchAll(/^leaf (\d+) |^\titem \d+ key \((\d+) (XATTR_ITEM|DIR_INDEX) \d+\) itemoff (\d+) itemsize (\d+)(?:\n[^\n]*location key \((\d+) INODE_ITEM[^\n]*\n[^\n]*\n\s*name: ([^\n]*))?/gm)) {
      if (m[1]) {
        leaf = +m[1];
        continue;
      }
      const ino = +m[2]!;
      if (m[3] === 'DIR_INDEX') {
        if (m[6]) names.set(+m[6], { parent: ino, name: Buffer.from(m[7]!, 'latin1').toString('utf8') });
        continue;
      }
      const item = Buffer.alloc(+m[5]!);
      fs.readSync(fd, item, 0, item.length, phys(leaf) + 101 + +m[4]!);
      // btrfs_dir_item: key (17) transid (8) data_len (2) name_len (2) type (1), then name, data
      for (let o = 0; o < item.length; ) {
        const dataLen = item.readUInt16LE(o + 25);
        const nameLen = item.readUInt16LE(o + 27);
        const name = item.subarray(o + 30, o + 30 + nameLen).toString('utf8');
        const value = Uint8Array.from(item.subarray(o + 30 + nameLen, o + 30 + nameLen + dataLen));
        byIno.set(ino, [...(byIno.get(ino) ?? []), { name, value }]);
        o += 30 + nameLen + dataLen;
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  const pathOf = (ino: number): string => {
    if (ino === 256) return '/';
    const n = names.get(ino)!;
    const parent = pathOf(n.parent);
    return (parent === '/' ? '' : parent) + '/' + n.name;
  };
  return new Map([...byIno].map(([ino, xs]) => [pathOf(ino), xs]));
}

/** Progress as the drivers report it: totals are the tree's distinct files and their bytes,
 * counts never go back, the last report is complete, and some came before the end. */
export function assertProgress(seen: FormatProgress[], tree: SourceTree): void {
  const files = new Set<FileNode>();
  const visit = (d: DirNode): void => {
    for (const n of d.entries.values()) if (n.kind === 'dir') visit(n);
    else if (n.kind === 'file') files.add(n);
  };
  visit(tree.root);
  const totalBytes = [...files].reduce((s, f) => s + f.size, 0);
  assert.ok(seen.length >= 2, `${seen.length} progress reports`);
  for (const p of seen) assert.deepEqual([p.totalFiles, p.totalBytes], [files.size, totalBytes]);
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i]!.files >= seen[i - 1]!.files && seen[i]!.bytes >= seen[i - 1]!.bytes, 'progress never goes back');
  }
  assert.deepEqual(seen.at(-1), { files: files.size, bytes: totalBytes, totalFiles: files.size, totalBytes });
  assert.ok(seen[0]!.bytes < totalBytes, 'a report before the end');
}
