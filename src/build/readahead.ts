/**
 * Read-ahead of source file data while a worker formats: the tools read each file with one
 * synchronous read at a time (queue depth 1, on the worker's core), so on a cold page cache a
 * large tree is bound by the disk's latency. The main thread is idle meanwhile: it reads the
 * tree's host files in the order the tools do (directories depth first, entries in byte order,
 * src/fs/wasm/vtree.ts), several at a time through libuv's thread pool, so that the tool finds
 * them in the page cache. The bytes are thrown away; the tool still reads (and checks) every
 * file itself, so nothing here can change an image.
 *
 * Warm first: it starts with one lane reading synchronously on this thread, which is what a warm
 * page cache wants (threadpool reads cost 4-5x the CPU of the copy itself on the bench machine:
 * a futex wake and an event-loop wake-up per read), yielding to the event loop every few
 * milliseconds; a file larger than the arena is only sampled (its first MiB: if that came from
 * the cache, so will the rest). Once the process reads from the disk (its block input count
 * grows, checked every slice and after a slow read), the read-ahead turns into the parallel
 * one described above. A network file system's reads are not block inputs: there it stays on
 * its one lane (the tool still reads whatever the lane has not reached).
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
import { closeSync, read, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import { openScannedStat, scanIdOf } from '../io/open-verified.js';
import { HandoffGiver, newHandoffTable, type HandoffTable } from '../fs/wasm/fd-handoff.js';
import { byteOrder, type DirNode, type FileNode } from '../tree/model.js';
import { isPacked, K_DIR, K_FILE, PackedView, SRC_HOST, type AnyTree } from '../tree/packed.js';

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
  /** the process's block inputs so far (default: getrusage's, process.resourceUsage().fsRead; tests) */
  blockInputs?: () => number;
  /** the synchronous lane yields to the event loop, and checks the block inputs, this often (default SLICE_MS) */
  sliceMs?: number;
}

const processBlockInputs = (): number => process.resourceUsage().fsRead;

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

function readAtNow(fd: number, buf: Uint8Array, pos: number): number {
  try {
    return readSync(fd, buf, 0, buf.length, pos);
  } catch {
    return 0;
  }
}

/**
 * A read that took this long for its size may have waited for the disk (the page cache gives
 * ~1 GB/s; this is 250 MB/s + 0.5 ms): then the process's block input count says whether it did.
 * Wall time alone cannot tell: on the bench machine, where four threads share two cores, reads of
 * a few hundred cached bytes took milliseconds when this thread was preempted.
 */
const mayHaveWaited = (ms: number, bytes: number): boolean => ms > 0.5 + bytes / 250_000;
/** block inputs (512 bytes: getrusage's ru_inblock) since the last check that make the cache cold */
const COLD_BLOCKS = 256;
/** the synchronous lane gives the event loop a turn this often (ms): progress, handed-back descriptors */
const SLICE_MS = 4;

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
  /** a read had to wait for the disk: read in parallel from now on */
  private cold = false;
  private readonly blockInputs: () => number;
  private readonly sliceMs: number;
  /** the process's block inputs at the last check */
  private blocksIn: number;
  private onCold: () => void = () => {};
  private sliceStart = 0;
  readonly done: Promise<void>;

  constructor(tree: AnyTree, o: ReadAheadOptions = {}) {
    this.window = o.window ?? 256 * 2 ** 20;
    this.blockInputs = o.blockInputs ?? processBlockInputs;
    this.sliceMs = o.sliceMs ?? SLICE_MS;
    this.blocksIn = this.blockInputs();
    this.files = itemsOf(tree);
    const v = isPacked(tree) ? new PackedView(tree) : null;
    this.giver = o.handoff && v ? new HandoffGiver(o.handoff, closeSync, (rec) => v.size(rec)) : null;
    this.stopped$ = new Promise((r) => (this.onStop = r));
    // one synchronous lane; the others start if the page cache turns out cold (or to find nothing left)
    const cold = new Promise<void>((r) => (this.onCold = r));
    const first = this.lane(true).finally(() => this.onCold());
    const lanes = [first, ...Array.from({ length: Math.max(0, (o.lanes ?? 4) - 1) }, () => cold.then(() => this.lane(false)))];
    // the worker hands descriptors back when done with them: checked and closed here, soon
    if (this.giver) lanes.push(this.sweeper(this.giver));
    // descriptors handed over stay open for the worker until the job is over (stop())
    this.done = Promise.all(lanes).then(async () => {
      if (!this.giver) return;
      await this.stopped$;
      this.giver.closeRest();
    });
  }

  /** Whether the parallel lanes read (the page cache was found cold; tests). */
  get parallel(): boolean {
    return this.cold;
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
    this.onCold();
  }

  private goneCold(): void {
    this.cold = true;
    this.onCold();
  }

  /** Whether the process (this read-ahead, or the tool on its thread) has been reading from the disk since the last check. */
  private checkDisk(): void {
    const n = this.blockInputs();
    if (n - this.blocksIn >= COLD_BLOCKS) this.goneCold();
    this.blocksIn = n;
  }

  private async sweeper(giver: HandoffGiver): Promise<void> {
    while (!this.stopped) {
      giver.sweep();
      await sleep(SWEEP_MS);
    }
  }

  private async lane(startSync: boolean): Promise<void> {
    const buf = Buffer.allocUnsafe(CHUNK);
    if (startSync) this.sliceStart = performance.now();
    for (;;) {
      if (this.stopped) return;
      const sync = startSync && !this.cold;
      if (sync && performance.now() - this.sliceStart >= this.sliceMs) {
        this.checkDisk();
        await yieldToLoop();
        this.sliceStart = performance.now();
        if (this.stopped) return;
      }
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
      await this.readFile(f, at >= 0 ? giver!.arena.subarray(at, at + f.size) : buf, giver, rec, at, sync);
    }
  }

  /**
   * Read `f` through `buf`: a scratch buffer, or (`at` ≥ 0) its region of the arena, exactly its
   * size; `sync`: on this thread (see the header).
   */
  private async readFile(f: FileNode, buf: Uint8Array, giver: HandoffGiver | null, rec: number, at: number, sync: boolean): Promise<void> {
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
        const into = at >= 0 ? buf.subarray(pos) : buf;
        let n: number;
        if (sync && !this.cold) {
          const t = performance.now();
          n = readAtNow(fd, into, pos);
          if (mayHaveWaited(performance.now() - t, n)) this.checkDisk();
          // not in the arena: read only to warm the cache, which it is
          if (at < 0 && n > 0 && !this.cold) {
            whole = true;
            break;
          }
        } else n = await readAt(fd, into, pos);
        if (n <= 0) break;
        pos += n;
      }
      whole ||= pos >= f.size;
    } finally {
      // handed over only as the worker would have found it: the scanned inode (checked at the
      // open), the scanned size, its bytes read to the end (or found in the page cache, for a
      // file read by the tool itself); anything else it opens and judges itself
      if (giver && whole && size === f.size && !this.stopped) giver.offer(rec, fd, at);
      else {
        closeSync(fd);
        if (at >= 0) giver!.release(at);
      }
    }
  }
}
