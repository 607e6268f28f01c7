/**
 * The repart-ts command: systemd-repart --offline=yes semantics for image files. Parses argv into
 * a BuildRequest, runs buildImage(), prints the listing and maps errors to exit statuses; the
 * build itself is src/build/. Returns the exit status; all output goes through the given streams.
 */
import { writeFileSync } from 'node:fs';
import { parseCommandLine, type CliOptions } from '../config/cli.js';
import { formatWhere, RepartError, clipMessage } from '../errors.js';
import { buildImage } from '../build/build-image.js';
import { requestFromOptions } from '../build/defaults.js';
import type { BuildRequest, Formatter } from '../build/request.js';
import { emitSummary } from '../report/summary.js';
import { fmtBytes } from '../plan/allocate.js';
import { ProgressReporter } from '../report/progress.js';

export const VERSION = '0.1.0';

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  isTTY: boolean;
  stderrIsTTY?: boolean;
  env: NodeJS.ProcessEnv;
}

export interface RunHooks {
  /** replaces in-process formatting (the CLI passes the worker pool) */
  formatter?: Formatter;
  /** every owner in the file systems becomes root (what `unshare --map-root-user fakeroot` gives nixpkgs) */
  mapOwnersToRoot?: boolean;
  /** files with equal bytes and metadata become hard links (opt-in, src/tree/dedupe.ts) */
  dedupe?: boolean;
}

const HELP = `repart-ts [OPTIONS...] [DEVICE]
repart-ts build CONFIG.json [--out DIR] [--compat=257|262] [--quiet] [--no-progress]
repart-ts bench [--quick] [--runs N] [--scenario a,b] [--out DIR]

Grow and add partitions to a partition table, as systemd-repart --offline=yes does,
for image files, without root, loop devices or native mkfs tools.

  -h --help               Show this help
     --version            Show package version
     --no-pager           Do not pipe output into a pager
     --no-legend          Do not show the headers and footers
     --dry-run=BOOL       Whether to run dry-run operation
     --empty=MODE         One of refuse, allow, require, force, create; controls
                          how to handle empty disks lacking partition tables
     --discard=BOOL       Whether to discard backing blocks for new partitions
     --pretty=BOOL        Whether to show pretty summary before doing changes
     --root=PATH          Operate relative to root path
     --seed=UUID          128-bit seed UUID to derive all UUIDs from
     --size=BYTES         Grow loopback file to specified size
     --json=pretty|short|off
                          Generate JSON output
     --split=BOOL         Whether to generate split artifacts
     --definitions=DIR    Find partition definitions in specified directory
     --include-partitions=PARTITION1,PARTITION2,PARTITION3,...
                          Ignore partitions not of the specified types
     --exclude-partitions=PARTITION1,PARTITION2,PARTITION3,...
                          Ignore partitions of the specified types
     --defer-partitions=PARTITION1,PARTITION2,PARTITION3,...
                          Take partitions of the specified types into account
                          but don't populate them yet
     --defer-partitions-empty=BOOL
                          Defer all partitions marked for formatting as empty
     --defer-partitions-factory-reset=BOOL
                          Defer all partitions marked for factory reset
     --sector-size=SIZE   Set the logical sector size for the image
     --grain-size=SIZE    Set the alignment of partitions (262 behaviour only)
     --architecture=ARCH  Set the generic architecture for the image
     --offline=BOOL       Accepted; repart-ts never uses loop devices
  -s --copy-source=PATH   Specify the primary source tree to copy files from
     --key-file=PATH      Key to use when encrypting partitions
     --private-key=PATH   Private key to use when generating verity roothash
                          signatures
     --certificate=PATH   PEM certificate to use when generating verity roothash
                          signatures
     --copy-from=IMAGE    Copy partitions from the given image(s)
     --generate-fstab=PATH
                          Write fstab configuration to the given path
     --generate-crypttab=PATH
                          Write crypttab configuration to the given path
     --append-fstab=MODE  One of no, auto, replace; controls how to join the
                          content of a pre-existing fstab with the generated one
     --make-ddi=TYPE      Make a disk image of the given type (sysext, confext,
                          portable) from the built-in definitions
  -S --make-sysext        Make a sysext DDI
  -C --make-confext       Make a confext DDI
  -P --make-portable      Make a portable service DDI
     --join-signature=HASH:SIG
                          Specify root hash and pkcs7 signature of root hash for
                          verity as a tuple of hex-encoded hash and a DER-encoded
                          PKCS7, either as a path to a file or as base64:...

Subcommands (repart-ts only; each takes --help):
  build                   Build a NixOS image.repart description (JSON), natively
  bench                   Benchmark repart-ts against the real systemd-repart

repart-ts only:
     --compat=257|262     Behave like systemd-repart 257 or 262 (default 262)
     --layout-svg=FILE    Draw the partition layout as an SVG picture
     --no-progress        No progress output
     --quiet              No progress output and no warnings
`;

/** How an error is printed: the location (file:line: key=:) before the reason. */
export function errorLine(e: RepartError): string {
  return `repart-ts: ${formatWhere(e.where)}${e.detail}`;
}

/** The command line and environment as a build request, with the CLI's warnings and progress bars. */
export function requestFromCli(o: CliOptions, io: Io, hooks: RunHooks, warn: (m: string) => void): BuildRequest {
  let reporter: ProgressReporter | undefined;
  const bar = () => (reporter ??= new ProgressReporter(io.stderr, io.stderrIsTTY ?? false, o.progress));
  return {
    ...requestFromOptions(o, io.env),
    formatter: hooks.formatter,
    mapOwnersToRoot: hooks.mapOwnersToRoot,
    dedupe: hooks.dedupe,
    onWarning: warn,
    progress: { start: (id, l) => bar().start(id, l), update: (id, p) => bar().update(id, p), finish: (id) => bar().finish(id) },
  };
}

export async function run(argv: string[], io: Io, hooks: RunHooks = {}): Promise<number> {
  let o: CliOptions;
  try {
    o = parseCommandLine(argv);
  } catch (e) {
    if (e instanceof RepartError) { io.stderr(`${errorLine(e)}\n`); return e.exitCode; }
    throw e;
  }
  const warn = (m: string) => { if (!o.quiet) io.stderr(`${clipMessage(m)}\n`); };
  if (o.help) { io.stdout(HELP); return 0; }
  if (o.version) { io.stdout((await import('../report/version.js')).versionText(o.compat, VERSION)); return 0; }
  o.warnings.forEach(warn);
  try {
    const result = await buildImage(requestFromCli(o, io, hooks, warn));
    // machine-readable facts for bench/: formatting passes per partition
    if (io.env.REPART_TS_STATS && result.stats) writeFileSync(io.env.REPART_TS_STATS, JSON.stringify(result.stats) + '\n');
    if (result.minimalSize !== undefined) warn(`Automatically determined minimal disk image size as ${fmtBytes(result.minimalSize)}.`);
    else emitSummary(o, io, result.rows, result.imageSize, warn);
    return 0;
  } catch (e) {
    if (e instanceof RepartError) {
      io.stderr(`${errorLine(e)}\n`);
      return e.exitCode;
    }
    throw e;
  }
}
