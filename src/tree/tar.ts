/**
 * A tar archive (ustar, pax, GNU long names) as the source of a partition's tree — repart-ts's
 * `CopyArchive=ARCHIVE[:TARGET]` extension. The archive carries its own metadata (owners, modes,
 * times, xattrs, hard links, device nodes, symlinks), so a tree that cannot exist on this host
 * (no root to chown, no mknod, no POSIX modes, no xattrs) still becomes an image with it.
 *
 * The archive is read in place: only the 512-byte headers (and pax records) are read here; a
 * file's bytes stay in the archive and the tree points at them (FileSource 'archive': path,
 * offset), read by the file system writers when they need them. Nothing is unpacked to disk.
 * Compressed archives cannot be read in place and are refused with a clear message.
 */
import { closeSync, fstatSync, readSync } from 'node:fs';
import { openScanned, SourceChangedError } from '../io/open-verified.js';
import { FsError, type ErrorWhere } from '../errors.js';
import { makedev } from './devices.js';
import type { DirNode, NodeMeta, SourceTree, Timespec, TreeNode } from './model.js';

export interface ArchiveSpec {
  /** host path of the archive */
  source: string;
  /** where its root goes in the tree */
  target: string;
  where?: ErrorWhere;
}

const BLOCK = 512;

interface Header {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: Timespec;
  atime?: Timespec;
  linkname: string;
  rdev: number;
  xattrs: { name: string; value: Uint8Array }[];
  /** where the entry's bytes start in the archive */
  dataOffset: number;
}

function fail(spec: ArchiveSpec, msg: string): never {
  throw new FsError('E_SOURCE', `${spec.source}: ${msg}`, spec.where);
}

/** A numeric header field: octal text, or GNU base-256 (high bit of the first byte set). */
function num(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    let v = BigInt(b[off]! & 0x7f);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(b[off + i]!);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('number too large');
    return Number(v);
  }
  const s = b.toString('latin1', off, off + len).replace(/[\0 ]+$/, '').replace(/^[\0 ]+/, '');
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new RangeError(`not an octal number: ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A member's name: UTF-8 or an error (the tools take names as UTF-8; U+FFFD for the bad bytes would name another file). */
function utf8Name(b: Uint8Array): string {
  try {
    return UTF8.decode(b);
  } catch {
    throw new RangeError('a name that is not valid UTF-8, which repart-ts cannot copy');
  }
}

function str(b: Buffer, off: number, len: number): string {
  const z = b.indexOf(0, off);
  return utf8Name(b.subarray(off, z < 0 || z > off + len ? off + len : z));
}

/** A pax time ("-1.25" is 1.25 s before the epoch: second -2, 0.75e9 ns). */
export function paxTime(v: string): Timespec {
  const m = /^(-?)(\d+)(?:\.(\d{1,9})\d*)?$/.exec(v);
  if (!m) throw new RangeError(`bad time ${v}`);
  const sec = Number(m[2]);
  const nsec = m[3] ? Number(m[3].padEnd(9, '0')) : 0;
  if (m[1] !== '-') return { sec, nsec };
  return nsec === 0 ? { sec: -sec, nsec: 0 } : { sec: -sec - 1, nsec: 1_000_000_000 - nsec };
}

/** pax records: "LEN KEY=VALUE\n", LEN counting the whole record; values are bytes. */
function paxRecords(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let o = 0;
  while (o < data.length) {
    const sp = data.indexOf(0x20, o);
    if (sp < 0) break;
    const len = Number(data.toString('latin1', o, sp));
    if (!Number.isInteger(len) || len <= 0 || o + len > data.length) throw new RangeError('bad pax record length');
    const rec = data.subarray(sp + 1, o + len - 1); // without the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new RangeError('pax record without "="');
    out.set(rec.toString('utf8', 0, eq), Buffer.from(rec.subarray(eq + 1)));
    o += len;
  }
  return out;
}

/** Walk an uncompressed tar's headers, never its file data. */
export function* readTarHeaders(spec: ArchiveSpec): Generator<Header> {
  let fd: number;
  try {
    // not through a final symlink, never blocking on a FIFO (src/io/open-verified.ts)
    fd = openScanned(spec.source, undefined);
  } catch (e) {
    fail(spec, `cannot open CopyArchive= source: ${e instanceof SourceChangedError ? e.errno : (e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) fail(spec, 'not a regular file');
    identity.set(spec, { dev: st.dev, ino: st.ino });
    const total = Number(st.size);
    const h = Buffer.alloc(BLOCK);
    const read = (buf: Buffer, at: number): void => {
      if (readSync(fd, buf, 0, buf.length, at) !== buf.length) fail(spec, `truncated archive at byte ${at}`);
    };
    let pos = 0;
    let global = new Map<string, Buffer>();
    let pax = new Map<string, Buffer>();
    let longName: string | undefined;
    let longLink: string | undefined;
    // compressed archives are recognised by their magic, whatever their size
    const magic = Buffer.alloc(6);
    readSync(fd, magic, 0, 6, 0);
    const compressed = magic[0] === 0x1f && magic[1] === 0x8b ? ['gzip', 'gunzip'] : magic.readUInt32LE(0) === 0xfd2fb528 ? ['zstd', 'unzstd']
      : magic.toString('latin1', 0, 6) === '\xfd7zXZ\0' ? ['xz', 'unxz'] : magic.toString('latin1', 0, 3) === 'BZh' ? ['bzip2', 'bunzip2'] : null;
    if (compressed) fail(spec, `${compressed[0]}-compressed; CopyArchive= reads an uncompressed tar in place (${compressed[1]} it first)`);
    if (total < BLOCK) fail(spec, `not a tar archive (${total} bytes)`);
    while (pos + BLOCK <= total) {
      read(h, pos);
      if (h.every((x) => x === 0)) break; // end-of-archive blocks
      const at = pos;
      let hdr: Header;
      try {
        let sum = 0;
        for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
        let want = -1;
        try {
          want = num(h, 148, 8);
        } catch {
          /* not a number: not a header */
        }
        if (want !== sum) fail(spec, `bad header checksum at byte ${at} (not a tar archive?)`);
        const type = String.fromCharCode(h[156]! || 0x30);
        const size = num(h, 124, 12);
        const dataOffset = at + BLOCK;
        pos = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
        if (pos > total) fail(spec, `truncated archive: entry at byte ${at} runs past the end`);
        if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
          const data = Buffer.alloc(size);
          read(data, dataOffset);
          if (type === 'x') pax = paxRecords(data);
          else if (type === 'g') global = new Map([...global, ...paxRecords(data)]);
          else if (type === 'L') longName = str(data, 0, size);
          else longLink = str(data, 0, size);
          continue;
        }
        if (type === 'S') fail(spec, `GNU sparse entries are not supported (entry at byte ${at})`);
        const ustar = h.toString('latin1', 257, 262) === 'ustar';
        const prefix = ustar ? str(h, 345, 155) : '';
        const recs = new Map([...global, ...pax]);
        const text = (k: string) => recs.get(k)?.toString('utf8');
        const paxName = (k: string) => { const v = recs.get(k); return v === undefined ? undefined : utf8Name(v); };
        const name = paxName('path') ?? longName ?? (prefix ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
        const xattrs: { name: string; value: Uint8Array }[] = [];
        for (const [k, v] of recs) {
          if (k.startsWith('SCHILY.xattr.')) xattrs.push({ name: k.slice(13), value: Uint8Array.from(v) });
          else if (k.startsWith('LIBARCHIVE.xattr.') && !recs.has('SCHILY.xattr.' + decodeURIComponent(k.slice(17))))
            xattrs.push({ name: decodeURIComponent(k.slice(17)), value: Uint8Array.from(Buffer.from(v.toString('latin1'), 'base64')) });
        }
        const major = text('SCHILY.devmajor') !== undefined ? Number(text('SCHILY.devmajor')) : ustar ? num(h, 329, 8) : 0;
        const minor = text('SCHILY.devminor') !== undefined ? Number(text('SCHILY.devminor')) : ustar ? num(h, 337, 8) : 0;
        const realSize = text('size') !== undefined ? Number(text('size')) : size;
        hdr = {
          path: name,
          type,
          mode: num(h, 100, 8) & 0o7777,
          uid: text('uid') !== undefined ? Number(text('uid')) : num(h, 108, 8),
          gid: text('gid') !== undefined ? Number(text('gid')) : num(h, 116, 8),
          size: type === '0' || type === '7' ? realSize : 0,
          mtime: text('mtime') !== undefined ? paxTime(text('mtime')!) : { sec: num(h, 136, 12), nsec: 0 },
          atime: text('atime') !== undefined ? paxTime(text('atime')!) : undefined,
          linkname: type === '1' || type === '2' ? (paxName('linkpath') ?? longLink ?? str(h, 157, 100)) : '',
          rdev: type === '3' || type === '4' ? makedev(major, minor) : 0,
          xattrs,
          dataOffset,
        };
        if (text('size') !== undefined) pos = dataOffset + Math.ceil(realSize / BLOCK) * BLOCK;
      } catch (e) {
        if (e instanceof FsError) throw e;
        fail(spec, `malformed header at byte ${at}: ${(e as Error).message}`);
      }
      pax = new Map();
      longName = longLink = undefined;
      yield hdr;
    }
  } finally {
    closeSync(fd);
  }
}

/** An archive member name as components under the archive root; '..' never leaves it. */
function parts(spec: ArchiveSpec, name: string): string[] {
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') fail(spec, `member "${name}" leaves the archive with ".."`);
    out.push(c);
  }
  return out;
}

export interface ArchiveContext {
  tree: SourceTree;
  /** the target's missing parents: as repart makes them (0755, its owner, now) */
  mkdirP: (parts: string[]) => DirNode;
  now: Timespec;
}

/**
 * Merge an archive into the tree at spec.target, as CopyFiles= merges a directory: existing
 * directories take the archive's metadata and keep their other entries; anything else that
 * exists already is an error. Hard links become the same node (but a symlink's other names are
 * symlinks of their own, as in a CopyFiles= copy: src/tree/identity.ts); entries of the archive's root
 * ("./") give the target directory its metadata.
 */
/** The archive each walk read, as scanned: its members are read later as that inode only. */
const identity = new WeakMap<ArchiveSpec, { dev: bigint; ino: bigint }>();

export function addArchive(spec: ArchiveSpec, ctx: ArchiveContext): { entries: number } {
  const base = parts(spec, spec.target);
  const top = ctx.mkdirP(base);
  const byPath = new Map<string, TreeNode>();
  let entries = 0;
  for (const h of readTarHeaders(spec)) {
    entries++;
    const p = parts(spec, h.path);
    const meta: NodeMeta = {
      perm: h.mode, uid: h.uid, gid: h.gid,
      atime: { ...(h.atime ?? h.mtime) }, mtime: { ...h.mtime }, ctime: { ...ctx.now },
      ...(h.xattrs.length ? { xattrs: h.xattrs } : {}),
    };
    if (p.length === 0) {
      if (h.type === '5') top.meta = meta;
      continue;
    }
    // a member before its directory: the parents made as repart makes missing ones
    let parent: DirNode;
    try {
      parent = ctx.mkdirP([...base, ...p.slice(0, -1)]);
    } catch {
      fail(spec, `member "${h.path}": a parent is not a directory`);
    }
    const name = p[p.length - 1]!;
    const existing = parent.entries.get(name);
    const key = p.join('/');
    let node: TreeNode;
    switch (h.type) {
      case '5':
        if (existing?.kind === 'dir') {
          existing.meta = meta;
          byPath.set(key, existing);
          continue;
        }
        node = { kind: 'dir', ino: ctx.tree.nextIno++, meta, entries: new Map() };
        break;
      case '0': case '7':
        node = { kind: 'file', ino: ctx.tree.nextIno++, meta, size: h.size, source: { kind: 'archive', path: spec.source, offset: h.dataOffset, ...identity.get(spec) } };
        break;
      case '1': {
        const target = byPath.get(parts(spec, h.linkname).join('/'));
        if (!target || target.kind === 'dir') fail(spec, `hard link "${h.path}" to "${h.linkname}", which is not an earlier member`);
        // a symlink's names are symlinks of their own, as CopyFiles= copies them (identity.ts)
        node = target.kind === 'symlink' ? { ...target, ino: ctx.tree.nextIno++, meta: { ...target.meta } } : target;
        break;
      }
      case '2':
        node = { kind: 'symlink', ino: ctx.tree.nextIno++, meta, target: h.linkname };
        break;
      case '3': case '4': case '6':
        node = { kind: h.type === '3' ? 'char' : h.type === '4' ? 'block' : 'fifo', ino: ctx.tree.nextIno++, meta, rdev: h.rdev };
        break;
      default:
        fail(spec, `member "${h.path}" has an unsupported type '${h.type}'`);
    }
    if (existing && existing !== node) {
      // a later member replaces an earlier one (tar's own rule); a directory is not replaced by a non-directory
      if (existing.kind === 'dir') fail(spec, `member "${h.path}" would replace a directory`);
    }
    parent.entries.set(name, node);
    byPath.set(key, node);
  }
  return { entries };
}
