/**
 * Builds an initramfs archive from a description (paths, modes, contents) rather than from a
 * staging directory: device nodes and root ownership need no privileges this way, and the output
 * is reproducible (fixed inode numbers, mtimes and order).
 */
import { CpioError, encodeArchive, S_IFCHR, S_IFBLK, S_IFDIR, S_IFLNK, S_IFREG, type CpioEntry } from './newc.js';

interface Node {
  path: string;
  type: number;
  perm: number;
  data: Uint8Array;
  rdev?: [number, number];
  /** hard links: later names of the same node. */
  links: string[];
}

export interface BuildOptions {
  /** mtime of every entry (SOURCE_DATE_EPOCH); 0 when unset. */
  mtime?: number;
}

function normalize(p: string): string {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (parts.includes('..')) throw new CpioError(`initramfs path must not contain '..': ${p}`);
  if (parts.length === 0) throw new CpioError(`initramfs path is empty: ${JSON.stringify(p)}`);
  return parts.join('/');
}

export class InitramfsBuilder {
  private readonly nodes = new Map<string, Node>();
  /** every name (primary or link) → its node, to refuse duplicates. */
  private readonly names = new Map<string, Node>();

  dir(path: string, perm = 0o755): this {
    const p = normalize(path);
    const existing = this.names.get(p);
    if (existing) {
      if (existing.type !== S_IFDIR) throw new CpioError(`initramfs: ${p} exists and is not a directory`);
      existing.perm = perm;
      return this;
    }
    this.add({ path: p, type: S_IFDIR, perm, data: new Uint8Array(0), links: [] });
    return this;
  }

  file(path: string, data: Uint8Array | string, perm = 0o644): this {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    this.add({ path: normalize(path), type: S_IFREG, perm, data: bytes, links: [] });
    return this;
  }

  symlink(path: string, target: string): this {
    if (target === '') throw new CpioError(`initramfs: symlink ${path} has an empty target`);
    this.add({ path: normalize(path), type: S_IFLNK, perm: 0o777, data: new TextEncoder().encode(target), links: [] });
    return this;
  }

  charDevice(path: string, major: number, minor: number, perm = 0o600): this {
    this.add({ path: normalize(path), type: S_IFCHR, perm, data: new Uint8Array(0), rdev: [major, minor], links: [] });
    return this;
  }

  blockDevice(path: string, major: number, minor: number, perm = 0o600): this {
    this.add({ path: normalize(path), type: S_IFBLK, perm, data: new Uint8Array(0), rdev: [major, minor], links: [] });
    return this;
  }

  /** Adds `path` as another name of the regular file at `existing`. */
  hardlink(path: string, existing: string): this {
    const p = normalize(path);
    const node = this.names.get(normalize(existing));
    if (!node || node.type !== S_IFREG) throw new CpioError(`initramfs: hard link ${p} needs an existing regular file, ${existing} is not one`);
    if (this.names.has(p)) throw new CpioError(`initramfs: ${p} added twice`);
    this.mkparents(p);
    node.links.push(p);
    this.names.set(p, node);
    return this;
  }

  has(path: string): boolean {
    return this.names.has(normalize(path));
  }

  private add(n: Node): void {
    if (this.names.has(n.path)) throw new CpioError(`initramfs: ${n.path} added twice`);
    this.mkparents(n.path);
    this.nodes.set(n.path, n);
    this.names.set(n.path, n);
  }

  private mkparents(p: string): void {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      const e = this.names.get(d);
      if (!e) {
        const n: Node = { path: d, type: S_IFDIR, perm: 0o755, data: new Uint8Array(0), links: [] };
        this.nodes.set(d, n);
        this.names.set(d, n);
      } else if (e.type !== S_IFDIR) throw new CpioError(`initramfs: ${d} is not a directory (needed for ${p})`);
    }
  }

  /** The entries in archive order: sorted by path, so every directory precedes its contents. */
  entries(opts: BuildOptions = {}): CpioEntry[] {
    const mtime = opts.mtime ?? 0;
    const sorted = [...this.nodes.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const inos = new Map<Node, number>();
    sorted.forEach((n, i) => inos.set(n, i + 1));
    // One record per name, names sorted; a link group's data goes with its last name.
    const records = [...this.names.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const lastName = new Map<Node, string>();
    for (const [name, n] of records) lastName.set(n, name);
    return records.map(([name, n]) => {
      const nlink = n.type === S_IFDIR ? 2 : 1 + n.links.length;
      const carries = n.type !== S_IFREG || lastName.get(n) === name;
      return {
        name, ino: inos.get(n)!, mode: n.type | n.perm, uid: 0, gid: 0, nlink, mtime,
        devmajor: 0, devminor: 0, rdevmajor: n.rdev?.[0] ?? 0, rdevminor: n.rdev?.[1] ?? 0,
        data: carries ? n.data : new Uint8Array(0),
      };
    });
  }

  build(opts: BuildOptions = {}): Buffer {
    return encodeArchive(this.entries(opts));
  }
}
