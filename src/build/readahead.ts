/**
 * Read-ahead of source file data while a worker formats: the tools read each file with one
 * synchronous read at a time (queue depth 1, on the worker's core), so on a cold page cache a
 * large tree is bound by the disk's latency. The main thread is idle meanwhile: it reads the
 * tree's host files in the order the tools do (directories depth first, entries in byte order,
 * src/fs/wasm/vtree.ts), several at a time through libuv's thread pool, so that the tool finds
 * them in the page cache. The bytes are thrown away; the tool still reads (and checks) every
 * file itself, so nothing here can change an image.
 *
 * Bounded: at most `window` bytes ahead of what the tool reports it has read (FormatProgress),
 * so the read-ahead cannot evict what it read before the tool gets to it. Files are opened as
 * scanned (src/io/open-verified.ts); one that cannot be is skipped (the tool reports it).
 * Sparse files (fewer blocks than bytes) are skipped: the tool reads around their holes.
 */
import { closeSync, read } from 'node:fs';
import { openScanned, scanIdOf } from '../io/open-verified.js';
import type { DirNode, FileNode } from '../tree/model.js';
import { isPacked, K_DIR, K_FILE, PackedView, SRC_HOST, type AnyTree } from '../tree/packed.js';
import { byteOrder } from '../fs/wasm/vtree.js';

const CHUNK = 1 << 20;

export interface ReadAheadOptions {
  /** bytes read ahead of the tool at most (default 256 MiB) */
  window?: number;
  /** files read at once (default 4: libuv's thread pool) */
  lanes?: number;
}

/** Host files of a tree in the order the tools read them (hard links as often as they are named). */
export function filesOf(tree: AnyTree): Generator<FileNode> {
  return isPacked(tree) ? packedFilesInToolOrder(new PackedView(tree), 0) : filesInToolOrder(tree.root);
}

/** The same from the packed form, whose entries are stored in byte order. */
function* packedFilesInToolOrder(v: PackedView, dir: number): Generator<FileNode> {
  const first = v.first(dir);
  for (let i = first; i < first + v.childCount(dir); i++) {
    const kind = v.kindNo(i);
    if (kind === K_DIR) yield* packedFilesInToolOrder(v, i);
    else if (kind === K_FILE && v.srcKind(i) === SRC_HOST) {
      const size = v.size(i);
      const allocated = v.allocated(i);
      if (size > 0 && !(allocated !== undefined && allocated < size)) yield { kind: 'file', size, source: v.source(i) } as FileNode;
    }
  }
}

function* filesInToolOrder(dir: DirNode): Generator<FileNode> {
  for (const name of byteOrder([...dir.entries.keys()])) {
    const n = dir.entries.get(name)!;
    if (n.kind === 'dir') yield* filesInToolOrder(n);
    else if (n.kind === 'file' && n.source.kind === 'host' && n.size > 0 && !(n.allocated !== undefined && n.allocated < n.size)) yield n;
  }
}

const readAt = (fd: number, buf: Buffer, pos: number): Promise<number> =>
  new Promise((resolve) => read(fd, buf, 0, buf.length, pos, (err, n) => resolve(err ? 0 : n)));

export class ReadAhead {
  private consumed = 0;
  private issued = 0;
  private stopped = false;
  private wake: (() => void) | null = null;
  private readonly window: number;
  private readonly files: Generator<FileNode>;
  readonly done: Promise<void>;

  constructor(tree: AnyTree, o: ReadAheadOptions = {}) {
    this.window = o.window ?? 256 * 2 ** 20;
    this.files = filesOf(tree);
    const lanes = Array.from({ length: o.lanes ?? 4 }, () => this.lane());
    this.done = Promise.all(lanes).then(() => {});
  }

  /** Bytes of files started so far (tests; a file counts once it is started). */
  get issuedBytes(): number {
    return this.issued;
  }

  /** The tool has read `bytes` of file data so far. */
  progress(bytes: number): void {
    this.consumed = bytes;
    this.wake?.();
  }

  /** The tool is done (or failed): read no further. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async lane(): Promise<void> {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      if (this.stopped) return;
      const next = this.files.next();
      if (next.done) return;
      const f = next.value;
      while (!this.stopped && this.issued - this.consumed > this.window) await new Promise<void>((r) => { const prev = this.wake; this.wake = () => { this.wake = null; prev?.(); r(); }; });
      if (this.stopped) return;
      this.issued += f.size;
      await this.readFile(f, buf);
    }
  }

  private async readFile(f: FileNode, buf: Buffer): Promise<void> {
    const src = f.source as { kind: 'host'; path: string; dev?: bigint; ino?: bigint };
    let fd: number;
    try {
      fd = openScanned(src.path, scanIdOf(src));
    } catch {
      return;
    }
    try {
      for (let pos = 0; pos < f.size && !this.stopped; ) {
        const n = await readAt(fd, buf, pos);
        if (n <= 0) return;
        pos += n;
      }
    } finally {
      closeSync(fd);
    }
  }
}
