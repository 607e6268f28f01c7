/**
 * Extended attributes of host source files, without a native addon: Node has no xattr API, so on
 * Linux the system's `getfattr` (package attr) reads them, a batch of paths per process (never one
 * process per file), and they are put on the tree's nodes (NodeMeta.xattrs), from where the
 * WebAssembly tools' llistxattr/lgetxattr (wasm/shim/xattr.c) hand them to mke2fs, mkfs.btrfs,
 * mkfs.erofs and mksquashfs. systemd-repart copies all of them (COPY_ALL_XATTRS): user.*,
 * security.* (file capabilities, SELinux labels), system.posix_acl_* and, as root, trusted.*.
 *
 * getfattr's output (`-d -m - -e hex --absolute-names -h`):
 *
 *   # file: /path/with\012newline
 *   user.name=0x68656c6c6f
 *   user.empty=0x
 *   (blank line)
 *
 * Paths and names are quoted: a byte that is a control character, a backslash, a non-ASCII byte
 * or (in names) '=' becomes a backslash and three octal digits; values are hex. Files without
 * attributes print nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeSync } from 'node:fs';
import { posix } from 'node:path';
import type { SourceTree, TreeNode } from './model.js';

export interface Xattr {
  name: string;
  value: Uint8Array;
}

/** a millisecond's sleep of this thread while the pipe to getfattr is full */
const PAUSE = new Int32Array(new SharedArrayBuffer(4));

/** How many bytes of paths one getfattr process gets (Linux: 2 MiB of argv+env in all). */
const ARGV_BYTES = 256 * 1024;

/** Undo getfattr's quoting (\ooo octal escapes) into the bytes it stands for. */
export function unquote(s: string): Buffer {
  const raw = Buffer.from(s, 'latin1');
  const out = Buffer.alloc(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === 0x5c && i + 3 < raw.length && /^[0-7]{3}$/.test(raw.toString('latin1', i + 1, i + 4))) {
      out[n++] = parseInt(raw.toString('latin1', i + 1, i + 4), 8);
      i += 3;
    } else out[n++] = c;
  }
  return out.subarray(0, n);
}

/** Parse getfattr's dump: path (as the host path string) → attributes, in the order listed. */
export function parseGetfattr(text: string): Map<string, Xattr[]> {
  const out = new Map<string, Xattr[]>();
  let cur: Xattr[] | null = null;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      const p = unquote(line.slice(8)).toString('utf8');
      cur = [];
      out.set(p, cur);
      continue;
    }
    if (line === '' || cur === null) continue;
    // names have '=' quoted, so the first '=' ends the name
    const eq = line.indexOf('=');
    const name = unquote(eq < 0 ? line : line.slice(0, eq)).toString('utf8');
    const v = eq < 0 ? '' : line.slice(eq + 1);
    let value: Uint8Array;
    if (v === '') value = new Uint8Array(0);
    else if (/^0x[0-9a-fA-F]*$/.test(v) && v.length % 2 === 0) value = Uint8Array.from(Buffer.from(v.slice(2), 'hex'));
    else if (v.startsWith('0s')) value = Uint8Array.from(Buffer.from(v.slice(2), 'base64'));
    else throw new Error(`getfattr: cannot parse the value of ${name}: ${v.slice(0, 40)}`);
    cur.push({ name, value });
  }
  return out;
}

export interface ReadResult {
  byPath: Map<string, Xattr[]>;
  /** set when the attributes could not be read at all (no getfattr, not Linux) */
  unavailable?: string;
  /** getfattr's complaints about single files (unreadable, vanished) */
  problems: string[];
}

/** getfattr's arguments before the paths: every attribute, hex values, no symlink followed. */
const GETFATTR = ['getfattr', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '-h', '--'];

interface ChildOutput { stdout: string; stderr: string; status: number | null; missing: boolean }

/** What a child prints, once it is done; `missing` when its program is not installed. */
function outputOf(child: ReturnType<typeof spawn>): Promise<ChildOutput> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (b: Buffer) => out.push(b));
  child.stderr!.on('data', (b: Buffer) => err.push(b));
  return new Promise((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') resolve({ stdout: '', stderr: '', status: null, missing: true });
      else reject(e);
    });
    child.on('close', (status) => resolve({ stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('utf8'), status, missing: false }));
  });
}

function runGetfattr(paths: string[], env: NodeJS.ProcessEnv): Promise<ChildOutput> {
  return outputOf(spawn(GETFATTR[0]!, [...GETFATTR.slice(1), ...paths], { env: { ...env, LC_ALL: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Read the xattrs of host paths (symlinks themselves, not their targets). */
export async function readHostXattrs(paths: string[], env: NodeJS.ProcessEnv = process.env, platform: string = process.platform): Promise<ReadResult> {
  const byPath = new Map<string, Xattr[]>();
  const problems: string[] = [];
  if (paths.length === 0) return { byPath, problems };
  if (platform !== 'linux') return { byPath, problems, unavailable: `extended attributes of source files are not read on ${platform}` };
  const batches: string[][] = [[]];
  let bytes = 0;
  for (const p of paths) {
    const len = Buffer.byteLength(p) + 1;
    if (bytes + len > ARGV_BYTES && batches[batches.length - 1]!.length > 0) {
      batches.push([]);
      bytes = 0;
    }
    batches[batches.length - 1]!.push(p);
    bytes += len;
  }
  for (const batch of batches) {
    const r = await runGetfattr(batch, env);
    if (r.missing) return { byPath, problems, unavailable: 'getfattr (package "attr") is not installed' };
    // the latin1 round trip keeps every byte; paths are decoded as UTF-8 after unquoting
    for (const [p, xs] of parseGetfattr(r.stdout)) byPath.set(posix.normalize(p), xs);
    for (const l of r.stderr.split('\n')) if (l.trim() !== '') problems.push(l.trim());
  }
  return { byPath, problems };
}

/**
 * getfattr sorts the names; the tools store them in llistxattr's order (erofs, squashfs and
 * ext4's in-inode area keep it), so for a file with several the host's order is asked of
 * `attr -l` (same package), which lists it with the namespace prefix cut off: each listed name is
 * matched to the first unmatched attribute with that suffix and value size. Anything that does
 * not add up keeps getfattr's order.
 */
export function hostListOrder(p: string, xs: Xattr[], env: NodeJS.ProcessEnv = process.env): Xattr[] {
  const r = spawnSync('attr', ['-l', p], { env: { ...env, LC_ALL: 'C' }, encoding: 'latin1', timeout: 30000 });
  if (r.status !== 0 || typeof r.stdout !== 'string') return xs;
  const left = [...xs];
  const out: Xattr[] = [];
  for (const m of r.stdout.matchAll(/^Attribute "(.*)" has a (\d+) byte value for /gm)) {
    const short = Buffer.from(m[1]!, 'latin1').toString('utf8');
    const i = left.findIndex((x) => x.name.slice(x.name.indexOf('.') + 1) === short && x.value.length === Number(m[2]));
    if (i < 0) return xs;
    out.push(left.splice(i, 1)[0]!);
  }
  return left.length === 0 ? out : xs;
}

/**
 * The attributes of whole source directories (copied with nothing excluded below them), read
 * beside the tree scan in another process: the scan hands every path it lists below such a
 * directory (add) to one `xargs -0 getfattr …` through its stdin, and getfattr reads them while
 * the scan goes on (the pipe takes the writes of this synchronous thread as they come: libuv
 * writes at once while the pipe has room).
 *
 * Paths, never `getfattr -R`: a walk reads every directory, and reading a directory moves its
 * atime to now (relatime: when it is older than a day), so a directory getfattr reached before the
 * scan stat'ed it got "now" in the image instead of its own atime, depending on which process won
 * (found with systemd-repart 262 keeping the source's; test/integration/xattr-prefetch.test.ts).
 * Reading a path's attributes reads no directory.
 *
 * Without xargs (findutils), or when it dies, every path is read in argv batches after the scan
 * (covering() then answers for none).
 */
export class XattrPrefetch {
  private readonly roots: string[] = [];
  private child: ReturnType<typeof spawn> | null = null;
  private done: Promise<ChildOutput> | null = null;
  private pending: string[] = [];
  private pendingBytes = 0;
  private broken = false;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env, private readonly platform: string = process.platform) {}

  /** Read the attributes of `root` (a normalised absolute directory path) and of every path below it the scan lists. */
  start(root: string): void {
    if (this.platform !== 'linux' || this.covering(root) !== undefined) return;
    this.roots.push(root);
    this.child ??= this.spawn();
    this.add(root);
  }

  private spawn(): ReturnType<typeof spawn> {
    const child = spawn('xargs', ['-0', '-r', '-s', String(ARGV_BYTES * 2), '--', ...GETFATTR], {
      env: { ...this.env, LC_ALL: 'C' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // a child that could not start (or died) closes the pipe: what is left to write is dropped
    child.stdin!.on('error', () => {});
    this.done = outputOf(child);
    this.done.catch(() => {}); // awaited in results(); a rejection before then is not unhandled
    return child;
  }

  /** The scan's hooks (TreeSpec): whole directories start, listed paths are added. */
  scanHooks(): { onWholeDirectory: (dir: string) => void; onListed: (path: string) => void } {
    return { onWholeDirectory: (d) => this.start(d), onListed: (p) => this.add(p) };
  }

  /** A host path the scan listed: read with the rest if it lies below a root. */
  add(path: string): void {
    if (this.child === null || this.covering(path) === undefined) return;
    this.pending.push(path);
    this.pendingBytes += path.length + 1;
    if (this.pendingBytes >= 64 * 1024) this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const data = Buffer.from(this.pending.join('\0') + '\0');
    this.pending = [];
    this.pendingBytes = 0;
    if (this.broken) return;
    // The scan is synchronous: a write the pipe has no room for would wait in the stream until
    // the scan is over, and getfattr with it. Written here, waiting for room (the pipe's fd is
    // non-blocking) while getfattr reads; the stream's own write when the fd is not to be had.
    const fd = (this.child!.stdin as unknown as { _handle?: { fd?: number } })._handle?.fd;
    if (typeof fd !== 'number' || fd < 0) {
      this.child!.stdin!.write(data);
      return;
    }
    let off = 0;
    while (off < data.length) {
      try {
        off += writeSync(fd, data, off);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') {
          this.broken = true; // xargs is gone: results() falls back to the batches
          return;
        }
        Atomics.wait(PAUSE, 0, 0, 1);
      }
    }
  }

  /** The root `path` lies in, if any. */
  covering(path: string): string | undefined {
    for (const r of this.roots) if (path === r || path.startsWith(r === '/' ? '/' : r + '/')) return r;
    return undefined;
  }

  /**
   * Every attribute read, by path (the scan is over); `unavailable` when getfattr is missing.
   * Without xargs, nothing was read and nothing is covered: the caller reads every path itself.
   */
  async results(): Promise<ReadResult> {
    const byPath = new Map<string, Xattr[]>();
    const problems: string[] = [];
    if (!this.child || !this.done) return { byPath, problems };
    this.flush();
    this.child.stdin!.end();
    const out = await this.done;
    // xargs: 127 when it cannot find the command, 123 when a getfattr run said something was
    // wrong (stderr: files gone or unreadable, as with the batches)
    if (out.status === 127) return { byPath, problems, unavailable: 'getfattr (package "attr") is not installed' };
    if (out.missing || this.broken || (out.status !== 0 && out.status !== 123)) {
      // no xargs, or it died: what it read may be partial; every path is read in batches instead
      this.roots.length = 0;
      return { byPath, problems };
    }
    for (const [p, xs] of parseGetfattr(out.stdout)) byPath.set(posix.normalize(p), xs);
    for (const l of out.stderr.split('\n')) if (l.trim() !== '') problems.push(l.trim());
    return { byPath, problems };
  }

  /** Stop what is still running (the build failed). */
  abort(): void {
    this.child?.kill();
  }
}

/** The host path a node was copied from, if any. */
function hostPathOf(n: TreeNode): string | undefined {
  if (n.kind === 'file') return n.source.kind === 'host' ? n.source.path : undefined;
  return n.hostPath;
}

/** A path as getfattr prints it (normalised), without a normalising pass for the usual clean path. */
const clean = (p: string): string => (p.includes('//') || p.includes('/.') || (p.length > 1 && p.endsWith('/')) ? posix.normalize(p) : p);

/**
 * Every node of the tree copied from the host, with its host path (a hard link once per name),
 * but those whose path `skip` answers true for (each node holds its own path: nothing below is
 * left out with it).
 */
function eachHostNode(tree: SourceTree, f: (n: TreeNode, path: string) => void, skip?: (path: string) => boolean): void {
  const visit = (n: TreeNode): void => {
    const p = hostPathOf(n);
    if (p !== undefined && !skip?.(p)) f(n, p);
    if (n.kind === 'dir') for (const c of n.entries.values()) visit(c);
  };
  visit(tree.root);
}

/**
 * Put the host xattrs on every node copied from the host (from `prefetch` for the paths it
 * covers, from batches of paths for the rest). Returns what the run should say once. Few files
 * have attributes: the tree is walked for the paths to ask about and, if any answer, once more
 * to put them on, rather than holding a map of every path.
 */
export async function attachHostXattrs(tree: SourceTree, env: NodeJS.ProcessEnv = process.env, platform: string = process.platform, prefetch?: XattrPrefetch): Promise<{ unavailable?: string; problems: string[] }> {
  return attachHostXattrsWith<TreeNode>((f, skip) => eachHostNode(tree, f, skip), (n, xs) => {
    n.meta.xattrs = [...xs.map((x) => ({ name: x.name, value: x.value })), ...(n.meta.xattrs ?? []).filter((o) => !xs.some((x) => x.name === o.name))];
  }, env, platform, prefetch);
}

/**
 * attachHostXattrs for any tree form: `each` visits every node copied from the host with its host
 * path (src/tree/scanpack.ts: records), `put` puts the attributes found on one. Given `skip`,
 * `each` leaves out the nodes it answers true for, and may leave out those below them whose paths
 * derive from theirs.
 */
export async function attachHostXattrsWith<N>(each: (f: (n: N, path: string) => void, skip?: (path: string) => boolean) => void, put: (n: N, xs: Xattr[]) => void, env: NodeJS.ProcessEnv = process.env, platform: string = process.platform, prefetch?: XattrPrefetch): Promise<{ unavailable?: string; problems: string[] }> {
  const visit = (f: (n: N, path: string) => void, skip?: (path: string) => boolean): void => each((n, p) => f(n, clean(p)), skip && ((p) => skip(clean(p))));
  // the paths getfattr is not reading already; a walk that can leaves out whole prefetched
  // directories (a packed scan's names below one: their paths are not even built)
  const pre = prefetch ? await prefetch.results() : undefined;
  const rest: string[] = [];
  const covered = prefetch ? (p: string) => prefetch.covering(p) !== undefined : undefined;
  visit((_n, p) => rest.push(p), covered);
  const r = pre?.unavailable ? pre : await readHostXattrs([...new Set(rest)], env, platform);
  const problems = [...(pre?.problems ?? []), ...(pre === r ? [] : r.problems)];
  const found = new Map<string, Xattr[]>();
  for (const byPath of pre && !pre.unavailable ? [pre.byPath, r.byPath] : [r.byPath]) {
    for (const [p, xs] of byPath) if (xs.length > 0) found.set(p, xs.length > 1 ? hostListOrder(p, xs, env) : xs);
  }
  // putting the same attributes on a node twice (a hard link met again) changes nothing
  if (found.size > 0) {
    visit((n, p) => {
      const xs = found.get(p);
      if (xs) put(n, xs);
    });
  }
  return { unavailable: r.unavailable, problems };
}
