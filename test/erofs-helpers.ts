/**
 * Shared by test/erofs.test.ts and test/squashfs.test.ts: a fixture tree on the host (with
 * xattrs) and the same tree as a SourceTree; describing an extracted directory the way
 * describeTree() describes the source; the native tools of the oracle's Debian trixie tree.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SourceTree, DirNode } from '../src/tree/model.js';
import type { FormatJob } from '../src/fs/driver.js';
import { REFERENCE, referenceSkipReason } from './helpers/reference.js';
import { WASM_DIR } from '../src/fs/wasm/host.js';
import { type Xattr, describeTree, FILE_XATTRS, hostTree, isRoot, makeFixture, ROOT_XATTRS, setHostXattrs, sha256File, xattrView, type Entry } from './wasm-helpers.js';

export const MiB = 1024 * 1024;
export const EPOCH = 1700000000;
export const UUID = '5e0c3a41-8e0f-4a8b-9d52-3f6a1c2b7e90';

/** The wasm fixture plus xattrs on the root and one file (on the host too, when we can set them). */
export function fixture(dir: string, opts: { noSparse?: boolean } = {}): { tree: SourceTree; hostXattrs: boolean } {
  makeFixture(dir);
  // mksquashfs marks a file sparse (an extended inode with a `sparse` count) only when the
  // source's st_blocks says it is; the virtual tree reports st_blocks = size/512 (it does not
  // know the allocation), so for such a file the wasm image is 24 bytes of inode smaller.
  if (opts.noSparse) fs.rmSync(path.join(dir, 'sparse.img'));
  describeTree(hostTree(dir)); // read every file once, so atimes are settled before the tree is taken
  let hostXattrs = false;
  if (isRoot && spawnSync('setfattr', ['--version']).status === 0) {
    setHostXattrs(dir, ROOT_XATTRS);
    setHostXattrs(path.join(dir, 'etc/hostname'), FILE_XATTRS);
    hostXattrs = true;
  }
  const tree = hostTree(dir);
  // in the order the host lists them (llistxattr): erofs and squashfs store them in the order
  // they are listed, so the byte comparison with the native tools needs the same order
  tree.root.meta.xattrs = hostXattrs ? listOrder(dir, ROOT_XATTRS) : ROOT_XATTRS;
  (tree.root.entries.get('etc') as DirNode).entries.get('hostname')!.meta.xattrs =
    hostXattrs ? listOrder(path.join(dir, 'etc/hostname'), FILE_XATTRS) : FILE_XATTRS;
  return { tree, hostXattrs };
}

/** `xs` in the host's llistxattr order (`attr -l` prints that order, without namespaces). */
function listOrder(p: string, xs: Xattr[]): Xattr[] {
  const out = execFileSync('attr', ['-l', p], { encoding: 'utf8' });
  const names = [...out.matchAll(/^Attribute "(.*)" has/gm)].map((m) => m[1]!);
  return names.map((n) => xs.find((x) => x.name.slice(x.name.indexOf('.') + 1) === n)!).filter(Boolean);
}

/** xattrs of a host path (getfattr, all namespaces), comparable with xattrView(). */
export function hostXattrView(p: string): string[] {
  const r = spawnSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', p], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout.split('\n').filter((l) => !l.startsWith('#') && l.includes('=')).map((l) => {
    const i = l.indexOf('=');
    return `${l.slice(0, i)}=${l.slice(i + 1).replace(/^0x/, '')}`;
  }).sort();
}

/** An extracted directory described like describeTree(); hard links by (dev, ino). */
export function describeDir(root: string): { entries: Map<string, Entry>; links: string[][] } {
  const entries = new Map<string, Entry>();
  const byIno = new Map<string, string[]>();
  const visit = (dir: string, prefix: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const rel = prefix + '/' + name;
      const st = fs.lstatSync(p);
      const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo'
        : st.isSocket() ? 'socket' : st.isCharacterDevice() ? 'char' : 'block';
      const e: Entry = { type, perm: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000), size: type === 'file' ? st.size : 0 };
      if (type === 'file') {
        e.sha = sha256File(p);
        const k = `${st.dev}:${st.ino}`;
        byIno.set(k, [...(byIno.get(k) ?? []), rel]);
      }
      if (type === 'symlink') e.target = fs.readlinkSync(p);
      entries.set(rel, e);
      if (type === 'dir') visit(p, rel);
    }
  };
  visit(root, '');
  return { entries, links: [...byIno.values()].filter((g) => g.length > 1).map((g) => g.sort()) };
}

/** null when trixie's tools (the oracle's chroot) can run, else why not. */
export function nativeSkipReason(): string | null {
  return referenceSkipReason('trixie');
}

/** Run a tool of the oracle's trixie tree with `dirs` visible inside. */
export function native(tool: string, args: string[], dirs: string[], env: Record<string, string> = {}): { status: number; out: string } {
  const r = spawnSync(REFERENCE, ['--exec', tool, ...args], {
    cwd: dirs[0], encoding: 'utf8', timeout: 5 * 60 * 1000,
    env: { ...process.env, ...env, REFERENCE_BIND: dirs.join(':') },
  });
  return { status: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

export { xattrView, describeTree, execFileSync };

/** wasm/<dir>/SHA256SUMS matches the committed files, SOURCES pins the Debian versions, the
 * license texts are there, our patches explain themselves; and package.json never builds. */
export function checkArtifacts(dir: string, files: string[], versions: RegExp[], licenses: string[]): void {
  const base = path.resolve(WASM_DIR, dir);
  const sums = fs.readFileSync(path.join(base, 'SHA256SUMS'), 'utf8').trim().split('\n');
  const names = new Set<string>();
  for (const line of sums) {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new Error(`bad SHA256SUMS line: ${line}`);
    names.add(m[2]!);
    const actual = crypto.createHash('sha256').update(fs.readFileSync(path.join(base, m[2]!))).digest('hex');
    if (actual !== m[1]) throw new Error(`wasm/${dir}/${m[2]} does not match SHA256SUMS (rebuild: tools/build-rofs-wasm.sh)`);
  }
  for (const f of files) if (!names.has(f)) throw new Error(`${f} missing from wasm/${dir}/SHA256SUMS`);
  const src = fs.readFileSync(path.join(base, 'SOURCES'), 'utf8');
  for (const v of versions) if (!v.test(src)) throw new Error(`wasm/${dir}/SOURCES lacks ${v}`);
  for (const f of licenses) if (!(fs.statSync(path.join(base, 'licenses', f)).size > 500)) throw new Error(`license ${f}`);
  const patches = path.resolve(WASM_DIR, 'rofs/patches');
  for (const p of fs.existsSync(patches) ? fs.readdirSync(patches) : []) {
    if (!/^Subject: /.test(fs.readFileSync(path.join(patches, p), 'utf8'))) throw new Error(`${p} does not explain itself`);
    if (!src.includes(`rofs/patches/${p}`)) throw new Error(`SOURCES does not record ${p}`);
  }
  const pkg = fs.readFileSync(path.resolve(WASM_DIR, '../package.json'), 'utf8');
  if (pkg.includes('build-rofs-wasm')) throw new Error('package.json must not run the wasm build');
}

/** A job for the read-only formats, with the fixture's UUID and time. */
export function rofsJob(format: 'erofs' | 'squashfs', over: Partial<FormatJob> & Pick<FormatJob, 'window'>): FormatJob {
  return {
    format, label: 'usr-x86-64', fsUuid: UUID, sectorSize: 4096, tree: null, sourceDateEpoch: EPOCH,
    // trixie's builds, compared with trixie's native tools (sid's: test/oracle/sid-tools.test.ts)
    systemdVersion: 257,
    extraOptions: [], discard: true, subvolumes: [], definitionFile: '/etc/repart.d/20-usr.conf', windowZeroed: true, ...over,
  };
}

/** A sparse image in `dir` with marker MiBs (0x5a) at `marks`, to prove a tool stays in its window. */
export function markedImage(dir: string, name: string, size: number, marks: number[] = []): string {
  const p = path.join(dir, name);
  fs.rmSync(p, { force: true });
  fs.writeFileSync(p, '');
  fs.truncateSync(p, size);
  const fd = fs.openSync(p, 'r+');
  for (const o of marks) fs.writeSync(fd, Buffer.alloc(MiB, 0x5a), 0, MiB, o);
  fs.closeSync(fd);
  return p;
}

export const marked = (img: string, o: number): boolean => {
  const b = Buffer.alloc(MiB);
  const fd = fs.openSync(img, 'r');
  fs.readSync(fd, b, 0, MiB, o);
  fs.closeSync(fd);
  return b.every((x) => x === 0x5a);
};

export const same = (a: string[], b: string[]): boolean => JSON.stringify(a) === JSON.stringify(b);
