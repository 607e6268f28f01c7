/**
 * Process signals for the CLI: every terminating signal a user or a supervisor sends (SIGINT,
 * SIGTERM, SIGHUP, SIGQUIT) removes the temporary files of the run before exiting with
 * 128+signal, and SIGUSR1 cannot open Node's inspector.
 *
 * Node 20 starts an inspector (a debugger with full code execution) on 127.0.0.1:9229 when the
 * process gets SIGUSR1, before any JavaScript listener runs, and has no switch to turn that off
 * (--disable-sigusr1 appeared in Node 22.14). What it does honour is process.debugPort: pointed
 * at a loopback port this process already holds (and on which every connection is closed at
 * once), the inspector fails to bind ("address already in use") and nothing is opened.
 */
import net from 'node:net';

const EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129, SIGQUIT: 131 };

/** Resolves once SIGUSR1 can no longer start the inspector: await it before any work. */
export function installSignalHandlers(cleanup: () => void): Promise<void> {
  for (const [sig, code] of Object.entries(EXIT)) {
    process.on(sig, () => {
      cleanup();
      process.exit(code);
    });
  }
  return blockInspectorSignal();
}

/** Occupy the inspector's port so that SIGUSR1 cannot start it (skipped when debugging on purpose). */
function blockInspectorSignal(): Promise<void> {
  if (process.execArgv.some((a) => /^--(inspect|debug)/.test(a))) return Promise.resolve();
  return new Promise((resolve) => {
    const guard = net.createServer((c) => c.destroy());
    // no loopback: nothing to guard against either
    guard.on('error', () => resolve());
    guard.listen(0, '127.0.0.1', () => {
      const addr = guard.address();
      if (addr && typeof addr === 'object') process.debugPort = addr.port;
      guard.unref();
      resolve();
    });
  });
}
