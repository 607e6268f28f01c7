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
 *
 * With a handoff table (a tool that opens every file once: mke2fs -d), a file read to its end
 * at the size the scan recorded is not closed but handed to the worker, which then takes the
 * descriptor instead of opening and checking the file again (src/fs/wasm/fd-handoff.ts). Files
 * the worker got to first are skipped; descriptors never taken are closed once the job is over.
 */
import { closeSync, read } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { openScannedStat, scanIdOf } from '../io/open-verified.js';
import { HandoffGiver, newHandoffTable, type HandoffTable } from '../fs/wasm/fd-handoff.js';
import type { DirNode, FileNode } from '../tree/model.js';
import { isPacked, K_DIR, K_FILE, PackedView, SRC_HOST, type AnyTree } from '../tree/packed.js';
import { byteOrder } from '../fs/wasm/vtree.js';

const CHUNK = 1 << 20;
/** how often the descriptors the worker handed back are checked and closed (fd-handoff.ts) */
const SWEEP_MS = 2;
/** descriptors waiting for the worker at most (well under the usual 1024 open files) */
const HANDOFF_MAX = 256;
/**
 * bytes read ahead into the handoff's arena at most (files up to a quarter of it): the worker
 * copies them instead of reading the files again (fd-handoff.ts). 8 MiB carries 69 % of the
 * bytes of the bench's Debian /usr (files up to 2 MiB). Small on purpose: each page is reused
 * many times, and a new page costs a fault (~12 µs on the bench machine); 32 MiB was slower
 * than none, 4 and 8 MiB equal (bench/results/issue-18.md).
 */
const HANDOFF_ARENA = 8 * 2 ** 20;

/**
 * A handoff table for a job whose tool opens every regular file once, in the order read here
 * (mke2fs -d: ext2/3/4), over a packed tree (the table is indexed by its records); else none.
 */
export function handoffFor(tree: AnyTree, format: string): HandoffTable | undefined {
  if (!isPacked(tree) || !/^ext[234]$/.test(format)) return undefined;
  return newHandoffTable(tree.count, HANDOFF_MAX, HANDOFF_ARENA);
}

export interface ReadAheadOptions {
  /** bytes read ahead of the tool at most (default 256 MiB) */
  window?: number;
  /** files read at once (default 4: libuv's thread pool) */
  lanes?: number;
  /** hand the files read to the worker (a packed tree only: the table is indexed by its records) */
  handoff?: HandoffTable;
}

/** A host file to read ahead, and the packed record holding its data (-1 for an object tree). */
interface Item {
  f: FileNode;
  rec: number;
}

/** Host files of a tree in the order the tools read them (hard links as often as they are named). */
export function* filesOf(tree: AnyTree): Generator<FileNode> {
  for (const it of itemsOf(tree)) yield it.f;
}

function itemsOf(tree: AnyTree): Generator<Item> {
  return isPacked(tree) ? packedFilesInToolOrder(new PackedView(tree), 0) : filesInToolOrder(tree.root);
}

/** The same from the packed form, whose entries are stored in byte order. */
function* packedFilesInToolOrder(v: PackedView, dir: number): Generator<Item> {
  const first = v.first(dir);
  for (let i = first; i < first + v.childCount(dir); i++) {
    const kind = v.kindNo(i);
    if (kind === K_DIR) yield* packedFilesInToolOrder(v, i);
    else if (kind === K_FILE && v.srcKind(i) === SRC_HOST) {
      const size = v.size(i);
      const allocated = v.allocated(i);
      if (size > 0 && !(allocated !== undefined && allocated < size)) yield { f: { kind: 'file', size, source: v.source(i) } as FileNode, rec: v.data(i) };
    }
  }
}

function* filesInToolOrder(dir: DirNode): Generator<Item> {
  for (const name of byteOrder([...dir.entries.keys()])) {
    const n = dir.entries.get(name)!;
    if (n.kind === 'dir') yield* filesInToolOrder(n);
    else if (n.kind === 'file' && n.source.kind === 'host' && n.size > 0 && !(n.allocated !== undefined && n.allocated < n.size)) yield { f: n, rec: -1 };
  }
}

const readAt = (fd: number, buf: Uint8Array, pos: number): Promise<number> =>
  new Promise((resolve) => read(fd, buf, 0, buf.length, pos, (err, n) => resolve(err ? 0 : n)));

export class ReadAhead {
  private consumed = 0;
  private issued = 0;
  private stopped = false;
  private wake: (() => void) | null = null;
  private readonly window: number;
  private readonly files: Generator<Item>;
  private readonly giver: HandoffGiver | null;
  private readonly stopped$: Promise<void>;
  private onStop: () => void = () => {};
  readonly done: Promise<void>;

  constructor(tree: AnyTree, o: ReadAheadOptions = {}) {
    this.window = o.window ?? 256 * 2 ** 20;
    this.files = itemsOf(tree);
    const v = isPacked(tree) ? new PackedView(tree) : null;
    this.giver = o.handoff && v ? new HandoffGiver(o.handoff, closeSync, (rec) => v.size(rec)) : null;
    this.stopped$ = new Promise((r) => (this.onStop = r));
    const lanes = Array.from({ length: o.lanes ?? 4 }, () => this.lane());
    // the worker hands descriptors back when done with them: checked and closed here, soon
    if (this.giver) lanes.push(this.sweeper(this.giver));
    // descriptors handed over stay open for the worker until the job is over (stop())
    this.done = Promise.all(lanes).then(async () => {
      if (!this.giver) return;
      await this.stopped$;
      this.giver.closeRest();
    });
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
    this.onStop();
  }

  private async sweeper(giver: HandoffGiver): Promise<void> {
    while (!this.stopped) {
      giver.sweep();
      await sleep(SWEEP_MS);
    }
  }

  private async lane(): Promise<void> {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      if (this.stopped) return;
      const next = this.files.next();
      if (next.done) return;
      const { f, rec } = next.value;
      const giver = rec >= 0 ? this.giver : null;
      // the worker has opened it already, or it is offered (a hard link's other name)
      if (giver?.settled(rec)) continue;
      while (!this.stopped && this.issued - this.consumed > this.window) await new Promise<void>((r) => { const prev = this.wake; this.wake = () => { this.wake = null; prev?.(); r(); }; });
      // at most so many descriptors wait for the worker
      if (giver) await giver.room(() => this.stopped);
      // ... and its bytes, for a file that fits the arena
      const at = giver?.fitsArena(f.size) ? await giver.reserve(f.size, () => this.stopped) : -1;
      if (this.stopped) return;
      this.issued += f.size;
      await this.readFile(f, at >= 0 ? giver!.arena.subarray(at, at + f.size) : buf, giver, rec, at);
    }
  }

  /** Read `f` through `buf`: a scratch buffer, or (`at` ≥ 0) its region of the arena, exactly its size. */
  private async readFile(f: FileNode, buf: Uint8Array, giver: HandoffGiver | null, rec: number, at: number): Promise<void> {
    const src = f.source as { kind: 'host'; path: string; dev?: bigint; ino?: bigint };
    let fd: number;
    let size: number | undefined;
    try {
      ({ fd, size } = openScannedStat(src.path, scanIdOf(src)));
    } catch {
      if (at >= 0) giver!.release(at);
      return;
    }
    let whole = false;
    try {
      let pos = 0;
      while (pos < f.size && !this.stopped) {
        const n = await readAt(fd, at >= 0 ? buf.subarray(pos) : buf, pos);
        if (n <= 0) break;
        pos += n;
      }
      whole = pos >= f.size;
    } finally {
      // handed over only as the worker would have found it: the scanned inode (checked at the
      // open), the scanned size, read to its end; anything else it opens and judges itself
      if (giver && whole && size === f.size && !this.stopped) giver.offer(rec, fd, at);
      else {
        closeSync(fd);
        if (at >= 0) giver!.release(at);
      }
    }
  }
}
