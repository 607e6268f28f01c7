/**
 * A full, memory-reducing garbage collection, now (issue 18: peak RSS). V8 collects when the
 * thread allocates; the main thread allocates next to nothing while the workers format, so
 * whatever the scan and the Minimize= models left behind (a hundred MB and more at a million
 * files) would otherwise stay resident through the whole format stage, where the peak is.
 *
 * The collection is the one V8 makes on a low-memory notification (the inspector's
 * HeapProfiler.collectGarbage, on an in-process session: no port, no debugger): it also gives
 * back the young generation's pages, which a plain gc() keeps committed (32 MB after a scan;
 * measured at empty-1m, format stage: main-thread heap 41 MB after gc(), 9 MB after this).
 * Where the inspector is not built in, V8's gc() (exposed only behind --expose-gc: setting that
 * flag at run time only makes new contexts get a gc global; one is made, once, to fetch it).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Trees from this many nodes on are worth a full collection around their big steps. */
export const BIG_TREE = 100_000;

let gc: (() => void) | null = null;

function plainGc(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

export async function collectGarbage(): Promise<void> {
  let session: import('node:inspector').Session;
  try {
    const { Session } = await import('node:inspector');
    session = new Session();
    session.connect();
  } catch {
    plainGc();
    return;
  }
  const s = session;
  await new Promise<void>((resolve) => {
    s.post('HeapProfiler.collectGarbage', (err) => {
      // the session ends outside its own callback (disconnecting inside it hangs the loop)
      setImmediate(() => {
        s.disconnect();
        if (err) plainGc();
        resolve();
      });
    });
  });
}

/**
 * Run `f` without letting V8 grow the young generation. What survives a scavenge makes V8 double
 * the semi-spaces (up to 2 x 16 MB, kept until a memory-reducing collection); the Minimize=
 * statistics of a big tree are mostly survivors (a names array per directory), so they grew it
 * back right after the collection of the trees stage (measured at empty-1m: main-thread heap
 * 62 MB after the statistics, 32 MB with this). The survivors are promoted either way; the
 * flag is read at each growth, and V8's default (2) is set again after.
 */
export function withoutYoungGrowth<T>(f: () => T): T {
  setFlagsFromString('--semi-space-growth-factor=1');
  try {
    return f();
  } finally {
    setFlagsFromString('--semi-space-growth-factor=2');
  }
}
