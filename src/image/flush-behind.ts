/**
 * Flush-behind: while the workers format, the image's dirty pages are written back in the
 * background, so that the fsync that commits the image (build.ts, in-place.ts) finds little
 * left to write. Without it all of a partition's bytes (hundreds of MiB) reach the disk in that
 * one fsync, on the critical path, after the last tool has finished; the main thread is idle
 * meanwhile, and an fdatasync() of the image runs in libuv's thread pool.
 *
 * This changes no byte and no ordering guarantee: the commit still fsyncs before the image is
 * linked into place (or before the tables, in place). What it must not do is lose a write-back
 * error: Linux reports one to a single fsync per open file, so an error seen here is kept and
 * thrown by the commit (takeError()), never dropped.
 */
import { fdatasync } from 'node:fs';

/** How often a write-back is started while the tools run (if the last one has finished). */
const INTERVAL_MS = 100;

/** fs.fdatasync's shape (tests pass one that fails). */
export type DataSync = (fd: number, done: (e: NodeJS.ErrnoException | null) => void) => void;

export class FlushBehind {
  private inFlight: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null;
  private error: NodeJS.ErrnoException | null = null;

  constructor(private readonly fd: number, intervalMs = INTERVAL_MS, private readonly sync: DataSync = fdatasync) {
    this.timer = setInterval(() => this.flush(), intervalMs);
    // a pending timer must not keep a finished process alive
    this.timer.unref();
  }

  /** Starts a write-back of everything written so far, unless one is still running. */
  flush(): void {
    if (this.inFlight || !this.timer) return;
    this.inFlight = new Promise((resolve) => {
      this.sync(this.fd, (e) => {
        if (e && !this.error) this.error = e;
        this.inFlight = null;
        resolve();
      });
    });
  }

  /** No more write-backs; resolves once none is running (the fd may be closed then). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    while (this.inFlight) await this.inFlight;
  }

  /** The first write-back error (the commit must fail with it), once; null if none. */
  takeError(): NodeJS.ErrnoException | null {
    const e = this.error;
    this.error = null;
    return e;
  }
}
