/**
 * The repart-ts command: systemd-repart --offline=yes semantics for image files.
 * Returns the exit status; all output goes through the given streams.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, openSync, closeSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUILTIN_DEFINITIONS, parseCommandLine, SYSTEMD_DEFINITIONS, type CliOptions } from '../config/cli.js';
import { readDefinitions, DEFAULT_DEFINITION_DIRS, veritySibling } from '../config/load.js';
import { definitionsFromImage } from '../config/copy-from.js';
import { deriveVeritySalt, deriveVerityUuid, formatVerityHash, repartVerityHashSize, verityHashBytes, verityPartitionUuids } from '../verity/index.js';
import { expandSpecifiers } from '../config/specifiers.js';
import { RepartError } from '../errors.js';
import type { FormatJob, FormatOutcome } from '../fs/driver.js';
import { SUPPORTED_FORMATS, formatInProcess } from '../fs/registry.js';
import { mangleLinuxLabel } from '../fs/swap.js';
import { formatUuid, parseUuid, uuidHex, type Uuid } from '../gpt/guid.js';
import { readGpt, gptGeometry } from '../gpt/table.js';
import { typeFromUuid, sameType } from '../gpt/types.js';
import { deriveLabels, makePlan, type Plan, type PlannedPartition } from '../plan/plan.js';
import { bindExisting, currentPadding, existingFromGpt, type ExistingTable } from '../plan/existing.js';
import { fsMinimum, minSize } from '../plan/sizes.js';
import { guessSize, MINIMIZABLE_FORMATS, minimalSize } from '../plan/minimize/index.js';
import { fmtBytes } from '../plan/allocate.js';
import type { PartitionDefinition } from '../config/definition.js';
import type { SourceTree, TreeNode } from '../tree/model.js';
import { randomUuid } from '../plan/ids.js';
import { writeImage, type BlockSource, type Formatter } from '../image/build.js';
import { ImageFile } from '../image/file.js';
import { elToritoEsp, writeElTorito } from '../image/el-torito.js';
import { partitionNode, type PartitionRow } from '../report/json.js';
import { roundUp } from '../config/values.js';
import { emitSummary } from '../report/summary.js';
import { versionText } from '../report/version.js';
import { partitionTree, type TreeContext } from '../tree/from-definition.js';
import { renderLayoutSvg } from '../report/layout-svg.js';
import { writeGeneratedTabs, writeTabsBeforePopulating } from '../report/generated-tabs.js';
import { ProgressReporter } from '../report/progress.js';
import { mkfsBtrfsEstimate } from '../fs/btrfs/estimate.js';
import { encryptPartitionInPlace, luksLabel, luksPlaintextWindow } from '../luks/index.js';
import { deriveUuid } from '../plan/ids.js';
import { joinedSignatureJson, verifyPkcs7Detached, veritySignatureJson, type VeritySigner } from '../verity/signature.js';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

export const VERSION = '0.1.0';

/** File systems whose tools size the image themselves (Minimize= measures what they used). */
const SELF_SIZED: ReadonlySet<string> = new Set(['erofs', 'squashfs']);

/** Thrown when self-sized partitions would have to move: build again with the known sizes. */
class RelayoutNeeded extends Error {}

/** More than erofs or squashfs can need for a tree (uncompressed, every file block-aligned). */
function provisionalSize(tree: SourceTree | null): bigint {
  let bytes = 16n << 20n;
  const seen = new Set<TreeNode>();
  const visit = (n: TreeNode) => {
    if (seen.has(n)) return;
    seen.add(n);
    bytes += 4096n;
    if (n.kind === 'file') bytes += roundUp(BigInt(n.size), 4096n) + BigInt(Math.ceil(n.size / 4096)) * 8n;
    if (n.kind === 'symlink') bytes += BigInt(n.target.length);
    if (n.kind === 'dir') for (const c of n.entries.values()) visit(c);
  };
  if (tree) visit(tree.root);
  return bytes;
}

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

function machineIdSeed(root: string | undefined): Uuid | null {
  for (const f of [root ? path.join(root, 'etc/machine-id') : null, '/etc/machine-id']) {
    if (!f) continue;
    try {
      const u = parseUuid(readFileSync(f, 'utf8').trim());
      if (u && u.some((b) => b !== 0)) return u;
    } catch { /* next */ }
    if (root) break; // with --root, only that tree's machine ID counts
  }
  return null;
}

function mkfsOptionsFromEnv(env: NodeJS.ProcessEnv, format: string): string[] {
  const v = env[`SYSTEMD_REPART_MKFS_OPTIONS_${format.toUpperCase()}`];
  return v ? v.split(/[ \t\n]+/).filter((x) => x !== '') : [];
}

/** The label a file system gets (mangle per formatting.md §2.1); drivers re-mangle as needed. */
export function fsLabelFor(format: string, label: string): string {
  if (format === 'swap') return mangleLinuxLabel(label, 15);
  if (format.startsWith('ext')) return mangleLinuxLabel(label, 16);
  if (format === 'xfs') return mangleLinuxLabel(label, 12);
  return label;
}

export async function run(argv: string[], io: Io, hooks: RunHooks = {}): Promise<number> {
  let o: CliOptions;
  const warn = (m: string) => { if (!oQuiet) io.stderr(`${m}\n`); };
  let oQuiet = false;
  try {
    o = parseCommandLine(argv);
    oQuiet = o.quiet;
  } catch (e) {
    if (e instanceof RepartError) { io.stderr(`repart-ts: ${e.message}\n`); return e.exitCode; }
    throw e;
  }
  if (o.help) { io.stdout(HELP); return 0; }
  if (o.version) { io.stdout(versionText(o.compat, VERSION)); return 0; }
  o.warnings.forEach(warn);
  try {
    return await runChecked(o, io, hooks, warn);
  } catch (e) {
    if (e instanceof RepartError) {
      io.stderr(`repart-ts: ${e.message}\n`);
      return e.exitCode;
    }
    throw e;
  }
}

async function runChecked(o: CliOptions, io: Io, hooks: RunHooks, warn: (m: string) => void): Promise<number> {
  if (o.device === undefined)
    throw new RepartError('E_USAGE', 'No device specified: repart-ts only operates on image files, pass the image path.', {}, 76);
  const device = o.device;

  const defDirs = o.definitions.length > 0 || o.definitionsGiven ? o.definitions : DEFAULT_DEFINITION_DIRS.map((d) => (o.root ? path.join(o.root, d) : d));
  const filter = o.include ? { mode: 'include' as const, types: o.include } : o.exclude ? { mode: 'exclude' as const, types: o.exclude } : undefined;
  const copied: PartitionDefinition[] = [];
  for (const img of o.copyFrom) copied.push(...await definitionsFromImage(img, o.compat, filter));
  const defs = [...copied, ...readDefinitions(defDirs, {
    compat: o.compat,
    architecture: o.architecture,
    specifiers: { root: o.root },
    warn,
    supportedFormats: SUPPORTED_FORMATS,
    minimizable: new Set([...MINIMIZABLE_FORMATS, ...SELF_SIZED]),
    filter,
  })];

  // --make-ddi: our copies of systemd's built-in definitions go by systemd's own paths
  for (const d of defs) {
    const rename = (f: string) => (f.startsWith(BUILTIN_DEFINITIONS + path.sep) ? SYSTEMD_DEFINITIONS + f.slice(BUILTIN_DEFINITIONS.length) : f);
    d.file = rename(d.file);
    d.dropIns = d.dropIns.map(rename);
    for (const w of Object.values(d.where)) if (w?.file) w.file = rename(w.file);
  }

  // The existing image, if any: its size and partition table decide what happens.
  const exists = existsSync(device);
  if (o.empty === 'create' && exists && !o.dryRun) throw new RepartError('E_IMAGE_EXISTS', 'image file already exists, refusing (--empty=create)', { file: device });
  if (o.empty !== 'create' && !exists) throw new RepartError('E_IMAGE_IO', 'failed to open device: No such file or directory', { file: device });
  let existingSize = 0n;
  let existing: Awaited<ReturnType<typeof readGpt>> = null;
  if (exists && o.empty !== 'create') {
    let st;
    try { st = statSync(device); } catch (e) { throw new RepartError('E_IMAGE_IO', (e as Error).message, { file: device }); }
    if (!st.isFile()) throw new RepartError('E_IMAGE_IO', 'not a regular file; repart-ts only writes image files', { file: device });
    existingSize = BigInt(st.size);
    if (o.empty !== 'force') {
      const img = ImageFile.open(device, 'r');
      try {
        existing = await readGpt(async (off, len) => img.readAt(off, len), existingSize, `${device}: `);
      } finally { img.close(); }
    }
  }

  // Incremental mode: the partitions already there stay where they are, with their contents;
  // definitions without one get new partitions in the free space.
  let table: ExistingTable | undefined;
  if (existing) {
    if (o.empty === 'require') throw new RepartError('E_IMAGE_LABEL', 'Disk has a partition table, but --empty=require was specified, refusing.', { file: device }, 77);
    if (defs.length === 0) {
      emitSummary(o, io, listExisting(existing, existingSize, device, o), existingSize, warn);
      warn('No changes.');
      return 0;
    }
    if (o.sectorSize !== undefined && o.sectorSize !== existing.sectorSize)
      throw new RepartError('E_IMAGE_LABEL', `Disk has a GPT for ${existing.sectorSize}-byte sectors, not --sector-size=${o.sectorSize}, not repartitioning.`, { file: device }, 77);
    if (existing.header.numEntries !== 128)
      throw new RepartError('E_NOT_IMPLEMENTED', `the existing GPT has ${existing.header.numEntries} entries; repart-ts only rewrites tables of 128`, { file: device });
    table = existingFromGpt(existing, existingSize);
  }
  const binding = bindExisting(defs, table);
  const isOld = (i: number) => binding.bound[i] !== undefined;
  if (exists && !table && o.empty === 'refuse')
    throw new RepartError('E_IMAGE_LABEL', 'Disk does not have a partition table, refusing (use --empty=allow, force or create).', { file: device }, 77);

  const sectorSize = table?.sectorSize ?? o.sectorSize ?? 512;
  const fsSectorSize = o.sectorSize ?? 4096;
  let seed: Uuid;
  if (o.seed === 'random') seed = randomUuid();
  else if (o.seed === 'machine-id') {
    const m = machineIdSeed(o.root);
    if (!m) warn('No machine ID set, using randomized partition UUIDs.');
    seed = m ?? randomUuid();
  } else seed = o.seed;

  const copyBlocksSizes = new Map<number, bigint>();
  const copyBlocksPaths = new Map<number, BlockSource>();
  defs.forEach((d, i) => {
    if (isOld(i)) return;
    if (d.copyFrom) {
      copyBlocksSizes.set(i, d.copyFrom.length);
      copyBlocksPaths.set(i, d.copyFrom);
      return;
    }
    if (d.copyBlocks === undefined) return;
    const p = o.root && !o.copySource ? path.join(o.root, d.copyBlocks) : d.copyBlocks;
    let st;
    try { st = statSync(p); } catch (e) { throw new RepartError('E_SOURCE', `cannot open CopyBlocks= source ${p}: ${(e as Error).message}`, d.where.CopyBlocks ?? { file: d.file }); }
    if (st.isDirectory()) throw new RepartError('E_SOURCE', `CopyBlocks= source ${p} is a directory; copying its backing block device is not supported`, d.where.CopyBlocks ?? { file: d.file });
    try { closeSync(openSync(p, 'r')); } catch (e) { throw new RepartError('E_SOURCE', `cannot read CopyBlocks= source ${p}: ${(e as Error).message}`, d.where.CopyBlocks ?? { file: d.file }); }
    if (st.size % 512 !== 0) throw new RepartError('E_SOURCE', `File to copy bytes from '${p}' has size that is not multiple of 512, refusing.`, d.where.CopyBlocks ?? { file: d.file });
    copyBlocksSizes.set(i, BigInt(st.size));
    copyBlocksPaths.set(i, { path: p, offset: 0n, length: BigInt(st.size) });
  });

  let size: 'auto' | bigint;
  if (o.size === 'auto') size = 'auto';
  else if (o.size !== undefined) size = o.size > existingSize ? o.size : existingSize;
  else size = existingSize;
  if (size !== 'auto' && size === 0n) throw new RepartError('E_IMAGE_IO', 'image file is empty; use --size= to grow it', { file: device });

  // with --empty=create the device name is used as given, else its absolute path (JSON node, split files)
  const nodeBase = o.empty === 'create' ? device : path.resolve(device);
  // --defer-partitions= by type; 259+ also Format=empty / FactoryReset=yes partitions on request
  const deferredDef = (d: PartitionDefinition) => o.defer.some((x) => sameType(x, d.type))
    || (o.deferEmpty && d.formatEmpty === true) || (o.deferFactoryReset && d.factoryReset);
  // only new partitions are deferred; existing ones are kept as they are
  const deferred = (p: PlannedPartition) => !p.existing && !p.foreign && deferredDef(p.def);
  const grain = BigInt(Math.max(o.grainSize ?? 4096, sectorSize));
  const fsSectorOf = (d: PartitionDefinition) => Math.max(d.fsSectorSize ?? fsSectorSize, sectorSize);

  // --generate-fstab=/--generate-crypttab= are written (under --root=) before the trees are
  // read, so that a CopyFiles=/etc picks them up, as 262 does; labels and UUIDs do not depend on
  // the layout, so an auto-sized plan names them. Written again at the end (fixate-volume-key=).
  if (!o.dryRun) writeTabsBeforePopulating(o, () => makePlan(defs, { compat: o.compat, seed, sectorSize, grain: o.grainSize, fsSectorSize, size: 'auto', warn: () => {}, copyBlocksSizes, existing: table }), warn);

  // The virtual source trees, built before planning when Minimize= needs them to size the file
  // systems (sources are only lstat'ed here; drivers read them in place later).
  const treeCtx: TreeContext = {
    copySource: o.copySource ?? o.root ?? '/',
    sourceDateEpoch: sourceDateEpoch(io.env),
    all: defs,
    mapOwnersToRoot: hooks.mapOwnersToRoot,
    log: warn,
  };
  const labels = deriveLabels(defs, binding.bound.map((b) => b?.label));
  const trees = new Map<number, SourceTree | null>();
  for (const [i, d] of defs.entries()) {
    if (d.format === undefined || deferredDef(d) || isOld(i)) continue;
    if (!o.dryRun || d.minimize !== 'off') trees.set(i, await partitionTree(d, labels[i]!, treeCtx, { compat: o.compat, dedupe: hooks.dedupe }));
  }

  // Minimize=: the file system size comes from the model (one formatting pass, not two); the
  // partition is planned around it like a CopyBlocks= source of that size.
  const fsSizes = new Map<number, bigint>();
  // erofs/squashfs size themselves: formatted first in a provisional window, then the table is
  // laid out around what they used (selfSized: definition index → still provisional?)
  const selfSized = new Map<number, boolean>();
  const sc = { compat: o.compat, grain, fsSectorSize };
  for (const [i, d] of defs.entries()) {
    if (d.minimize === 'off' || d.format === undefined || !trees.has(i)) continue;
    if (SELF_SIZED.has(d.format)) {
      fsSizes.set(i, roundUp(provisionalSize(trees.get(i) ?? null), grain));
      selfSized.set(i, true);
      continue;
    }
    // 262 minimizes btrfs with mkfs.btrfs --shrink (one pass in a window as large as mkfs's own
    // first estimate; the partition then follows what it used), like erofs/squashfs
    if (d.format === 'btrfs' && o.compat >= 262 && trees.get(i)) {
      fsSizes.set(i, roundUp(BigInt(mkfsBtrfsEstimate(trees.get(i)!, Math.max(fsSectorOf(d), 4096))), grain));
      selfSized.set(i, true);
      continue;
    }
    const mo = { sectorSize: fsSectorOf(d), label: labels[i], systemdVersion: o.compat, sizeMin: d.sizeMin === undefined ? undefined : Number(d.sizeMin) };
    let model;
    try {
      model = d.minimize === 'best' ? minimalSize(d.format, trees.get(i)!, mo) : guessSize(d.format, trees.get(i)!, mo);
    } catch (e) {
      if (e instanceof RepartError) throw new RepartError(e.code, e.message, d.where.Minimize ?? { file: d.file });
      throw e;
    }
    let fsz = roundUp(BigInt(model.bytes), grain);
    // 258+ never makes the file system smaller than the partition's own minimum; 257 only
    // applies the file system type's minimum (ext4 32 MiB, btrfs 256 MiB, …).
    const floor = o.compat >= 258 ? minSize(d, sc) : fsMinimum(d, sc) ?? 0n;
    if (floor > fsz) fsz = floor;
    fsSizes.set(i, fsz);
  }
  const checkMax = () => {
    for (const [i, fsz] of fsSizes) {
      if (selfSized.get(i)) continue; // provisional
      const d = defs[i]!;
      if (d.sizeMax !== undefined && fsz > d.sizeMax)
        throw new RepartError('E_NO_SPACE', `the content needs a ${fmtBytes(fsz)} (${fsz} bytes) file system, more than SizeMaxBytes=${d.sizeMax} allows`, d.where.SizeMaxBytes ?? { file: d.file });
    }
  };
  checkMax();

  // Verity: the hash partition's size comes from its data sibling (context_update_verity_size()
  // for SizeMaxBytes=, or Minimize= on the hash partition); block sizes from the hash partition.
  const verityBlocks = (h: PartitionDefinition) => ({
    dbs: Number(h.verityDataBlockSize ?? BigInt(fsSectorOf(h))),
    hbs: Number(h.verityHashBlockSize ?? BigInt(fsSectorOf(h))),
  });
  const verityPairs = new Map<number, { data: number; hashedBytes?: bigint }>();
  for (const [i, h] of defs.entries()) {
    if (h.verity !== 'hash') continue;
    const data = veritySibling(defs, h, 'data')!;
    const di = defs.indexOf(data);
    const { dbs, hbs } = verityBlocks(h);
    if (isOld(i)) continue; // an existing hash partition is never rewritten (its root hash: "TBD")
    if (h.minimize !== 'off') {
      // repart hashes the data partition's source (CopyBlocks= file or minimized file system)
      const src = copyBlocksSizes.get(di) ?? fsSizes.get(di) ?? binding.bound[di]?.size;
      if (src === undefined)
        throw new RepartError('E_CONFIG_CONFLICT', 'Minimize= on a Verity=hash partition needs CopyBlocks= or Minimize= on its Verity=data partition', h.where.Minimize ?? { file: h.file });
      copyBlocksSizes.set(i, BigInt(verityHashBytes(Number(src), dbs, hbs)));
      verityPairs.set(i, { data: di, hashedBytes: src });
    } else {
      if (h.sizeMin === undefined && data.sizeMax !== undefined) h.sizeMin = repartVerityHashSize(data.sizeMax, BigInt(hbs), BigInt(dbs));
      verityPairs.set(i, { data: di });
    }
  }
  const rootHashes = new Map<number, string>();

  /** A self-sized file system has been formatted: its partition is laid out around what it used. */
  const settleSelfSized = (i: number, usedBytes: number | undefined): boolean => {
    if (usedBytes === undefined) return false;
    const fsz = roundUp(BigInt(usedBytes), grain);
    // the file system type's minimum no longer applies once the size is known (formatting.md §7)
    const floor = o.compat >= 258 ? minSize(defs[i]!, sc, { copyBlocksSize: fsz }) : 0n;
    fsSizes.set(i, floor > fsz ? floor : fsz);
    selfSized.set(i, false);
    return true;
  };
  /** A Verity=hash partition minimized from a self-sized data partition follows its size. */
  const followVerityData = (settled: number[]) => {
    for (const [hi, v] of verityPairs) {
      if (v.hashedBytes === undefined || !settled.includes(v.data)) continue;
      const { dbs, hbs } = verityBlocks(defs[hi]!);
      v.hashedBytes = fsSizes.get(v.data)!;
      copyBlocksSizes.set(hi, BigInt(verityHashBytes(Number(v.hashedBytes), dbs, hbs)));
    }
  };

  const planFor = (sizeOverride?: 'auto') => makePlan(defs, {
    compat: o.compat, seed, sectorSize, grain: o.grainSize, fsSectorSize, size: sizeOverride ?? size, warn,
    copyBlocksSizes: new Map([...copyBlocksSizes, ...fsSizes]),
    existing: table,
  });
  const jobFor = (i: number, p: PlannedPartition): Omit<FormatJob, 'window'> => {
    const d = p.def;
    return {
      format: d.format!,
      label: fsLabelFor(d.format!, p.label),
      fsUuid: formatUuid(p.fsUuid),
      sectorSize: fsSectorOf(d),
      tree: trees.get(i) ?? null,
      sourceDateEpoch: treeCtx.sourceDateEpoch,
      extraOptions: mkfsOptionsFromEnv(io.env, d.format!),
      discard: o.discard,
      subvolumes: d.subvolumes,
      defaultSubvolume: d.defaultSubvolume,
      compression: d.compression,
      compressionLevel: d.compressionLevel,
      definitionFile: d.file,
      systemdVersion: o.compat,
      windowZeroed: true,
      ...(d.format === 'btrfs' && selfSized.has(i) ? { shrink: true } : {}),
    };
  };

  /**
   * Dry run: repart computes a minimized hash partition's tree (to size it) and so knows the root
   * hash and the UUIDs it gives; the data comes from `src` (a CopyBlocks= file, or a file system
   * just formatted into a scratch file). Minimized ext4/btrfs/vfat data are not formatted in a dry
   * run here, so their pairs stay "TBD".
   */
  const dryRunRootHashes = new Map<number, Uint8Array>();
  const dryRunRootHash = async (hi: number, src: { path: string; offset: bigint }) => {
    const v = verityPairs.get(hi)!;
    if (v.hashedBytes === undefined) return;
    const { dbs, hbs } = verityBlocks(defs[hi]!);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-ts-hash-'));
    try {
      const f = path.join(dir, 'hash');
      writeFileSync(f, '');
      const r = await formatVerityHash({ path: src.path, offset: src.offset, length: v.hashedBytes },
        { path: f, offset: 0n, length: roundUp(copyBlocksSizes.get(hi)!, grain) },
        { dataBlockSize: dbs, hashBlockSize: hbs, salt: deriveVeritySalt(seed), uuid: deriveVerityUuid(seed), zeroRest: false });
      dryRunRootHashes.set(hi, r.rootHash);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  // Sizes that only formatting tells (erofs/squashfs with Minimize=): normally they are formatted
  // first, in place, in a provisional window. In dry-run mode (repart formats them even then, so
  // the plan it prints is the real one), or when the provisional windows do not fit a fixed
  // --size, they are formatted into a scratch file just to learn their size.
  /**
   * Formats partitions (by index, at their fsSizes) back to back into a scratch file; `use` gets
   * each one's offset there and the outcomes; the file is removed afterwards. Labels and UUIDs
   * do not depend on the layout, so an auto-sized plan names them.
   */
  const inScratch = async (idx: number[], use: (scratch: string, offsets: Map<number, bigint>, out: FormatOutcome[]) => Promise<void>) => {
    const probe = planFor('auto');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-ts-scratch-'));
    try {
      const scratch = path.join(dir, 'scratch.raw');
      writeFileSync(scratch, '');
      const offsets = new Map<number, bigint>();
      let at = 0n;
      for (const i of idx) { offsets.set(i, at); at += fsSizes.get(i)!; }
      const out = await (hooks.formatter ?? formatInProcess)(idx.map((i): FormatJob => (
        { ...jobFor(i, probe.partitions[i]!), window: { path: scratch, offset: Number(offsets.get(i)!), size: Number(fsSizes.get(i)!) } })));
      truncateSync(scratch, Number(at)); // every window reads back whole, zeros after what was used
      await use(scratch, offsets, out);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const measureSelfSized = async () => {
    const pending = [...selfSized.keys()].filter((i) => selfSized.get(i));
    if (pending.length === 0) return;
    await inScratch(pending, async (scratch, offsets, out) => {
      pending.forEach((i, k) => { settleSelfSized(i, out[k]!.usedBytes); measuredPasses.set(i, 1); });
      checkMax();
      followVerityData(pending);
      if (o.dryRun) for (const [hi, v] of verityPairs) if (offsets.has(v.data)) await dryRunRootHash(hi, { path: scratch, offset: offsets.get(v.data)! });
    });
  };
  const measuredPasses = new Map<number, number>();
  let plan: Plan;
  if (o.dryRun) {
    await measureSelfSized();
    // a minimized hash partition over a CopyBlocks= file: repart hashes it even in dry-run mode
    for (const [hi, v] of verityPairs) {
      const src = copyBlocksPaths.get(v.data);
      if (src !== undefined && v.hashedBytes !== undefined) await dryRunRootHash(hi, src);
    }
    // ... or over a file system sized by our model: repart formats it in a dry run too, so do we,
    // into a scratch file, to print the root hash and UUIDs the real run will have
    const modelSized = [...verityPairs].filter(([hi, v]) => v.hashedBytes !== undefined && !dryRunRootHashes.has(hi)
      && !copyBlocksPaths.has(v.data) && fsSizes.has(v.data) && !selfSized.has(v.data));
    if (modelSized.length > 0) {
      await inScratch(modelSized.map(([, v]) => v.data), async (scratch, offsets) => {
        for (const [hi, v] of modelSized) await dryRunRootHash(hi, { path: scratch, offset: offsets.get(v.data)! });
      });
    }
    plan = planFor();
  } else {
    try {
      plan = planFor();
    } catch (e) {
      if (!(e instanceof RepartError && e.code === 'E_NO_SPACE') || ![...selfSized.values()].some(Boolean)) throw e;
      await measureSelfSized();
      plan = planFor();
    }
  }
  const splitPaths = new Map<PlannedPartition, string>();
  if (o.split) computeSplitPaths(plan, nodeBase, deferred, splitPaths, o);

  if (o.layoutSvg) {
    try {
      writeFileSync(o.layoutSvg, renderLayoutSvg(plan, path.basename(device)));
    } catch (e) {
      throw new RepartError('E_IMAGE_IO', `cannot write layout picture: ${(e as Error).message}`, { file: o.layoutSvg });
    }
  }

  // After the data partitions are written: hash trees, root hashes, and the partition UUIDs
  // that come from them (data: first 16 bytes, hash: last 16), before the GPT is written.
  /** The root hash names the pair: data UUID = its first 16 bytes, hash UUID = the last 16. */
  const applyRootHash = (hi: number, di: number, rootHash: Uint8Array) => {
    const hex = Buffer.from(rootHash).toString('hex');
    rootHashes.set(hi, hex);
    rootHashes.set(di, hex);
    const hp = plan.partitions[hi]!, dp = plan.partitions[di]!;
    // a Verity=signature sibling shows (and signs) the same root hash
    defs.forEach((d, si) => { if (d.verity === 'signature' && d.verityMatchKey === hp.def.verityMatchKey) rootHashes.set(si, hex); });
    const u = verityPartitionUuids(rootHash);
    if (!dp.def.uuid && !dp.existing) dp.uuid = u.data;
    if (!hp.def.uuid) hp.uuid = u.hash;
  };
  if (o.dryRun) for (const [hi, rh] of dryRunRootHashes) applyRootHash(hi, verityPairs.get(hi)!.data, rh);

  // Verity=signature: signed with --private-key=/--certificate= once the root hash is known
  const signed = (p: PlannedPartition) => p.def.verity === 'signature' && !p.dropped && !p.existing && !deferred(p);
  const firstSigned = plan.partitions.find(signed);
  // online signing with the key, or a signature made elsewhere (--join-signature=, 258+)
  const signer = !o.dryRun && firstSigned && (o.privateKey || !o.joinSignature) ? loadSigner(o, firstSigned.def.file) : undefined;
  const joinCertificate = o.joinSignature && o.certificate ? loadCertificate(o.certificate) : undefined;
  if (o.joinSignature && joinCertificate && !verifyPkcs7Detached(o.joinSignature.signature, Buffer.from(o.joinSignature.rootHash, 'ascii'), joinCertificate))
    throw new RepartError('E_VERITY', `--join-signature=: the signature does not verify for root hash ${o.joinSignature.rootHash} with the certificate`, { file: o.certificate });
  if (o.joinSignature) {
    // the pair it belongs to: one hashed in this run, or an existing one named by the hash's halves
    const rh = o.joinSignature.rootHash;
    let found = false;
    for (const [hi, h] of defs.entries()) {
      if (h.verity !== 'hash') continue;
      const di = defs.indexOf(veritySibling(defs, h, 'data')!);
      const hp = plan.partitions[hi]!, dp = plan.partitions[di]!;
      if (hp.existing && uuidHex(hp.uuid) === rh.slice(32) && uuidHex(dp.uuid) === rh.slice(0, 32)) {
        found = true;
        applyRootHash(hi, di, Uint8Array.from(Buffer.from(rh, 'hex')));
      } else if (!hp.existing) found = true; // checked against the computed hash when signing
    }
    if (!found) throw new RepartError('E_VERITY', `--join-signature=: no Verity=hash partition has root hash ${rh}`, {});
  }
  const writeSignatures = (tmp: string) => {
    if (!signer && !o.joinSignature) return;
    const img = ImageFile.open(tmp, 'r+');
    try {
      for (const [i, p] of plan.partitions.entries()) {
        if (!signed(p)) continue;
        const hex = rootHashes.get(i);
        if (hex === undefined)
          throw new RepartError('E_VERITY', `cannot sign: the root hash of VerityMatchKey=${p.def.verityMatchKey} is not known (its hash partition already exists)`, { file: p.def.file });
        if (!signer && hex !== o.joinSignature!.rootHash)
          throw new RepartError('E_VERITY', `--join-signature= is for root hash ${o.joinSignature!.rootHash}, but VerityMatchKey=${p.def.verityMatchKey} has ${hex}`, { file: p.def.file });
        const text = Buffer.from(signer ? veritySignatureJson(hex, signer) : joinedSignatureJson(hex, o.joinSignature!.signature, joinCertificate), 'utf8');
        if (text.length > Number(p.size))
          throw new RepartError('E_NO_SPACE', `Verity signature too long for partition: ${text.length} bytes, the partition has ${p.size}`, { file: p.def.file });
        const block = Buffer.alloc(Number(p.size));
        text.copy(block);
        img.writeAt(p.offset, block);
      }
    } finally {
      img.close();
    }
  };

  // Encrypt=key-file: the partition's contents become a LUKS2 container, encrypted in place
  const encrypted = (p: PlannedPartition) => p.def.encrypt === 'key-file' && !p.dropped && !p.existing && !deferred(p);
  const volumeKeys = new Map<PlannedPartition, Uint8Array>();
  const encryptPartitions = async (tmp: string) => {
    const targets = plan.partitions.filter(encrypted);
    if (targets.length === 0) return;
    let keyFile: Uint8Array = new Uint8Array(0);
    if (o.keyFile) {
      try { keyFile = readFileSync(o.keyFile); } catch (e) { throw new RepartError('E_SOURCE', `cannot read --key-file=: ${(e as Error).message}`, { file: o.keyFile }); }
    }
    for (const p of targets) {
      const sectorSize = fsSectorOf(p.def);
      volumeKeys.set(p, await encryptPartitionInPlace(tmp, p.offset, p.size, {
        keyFile,
        uuid: formatUuid(deriveUuid(p.uuid, 'luks-uuid')),
        label: luksLabel(o.compat, p.label, p.def.volumeLabel),
        sectorSize: sectorSize >= 4096 ? 4096 : 512,
        allowDiscards: o.compat >= 261 && p.def.discard !== false,
        pbkdf: p.def.encryptKdfMinimal ? { hash: 'sha512', iterations: 1000 } : undefined,
      }));
    }
  };

  const writeVerity = async (tmp: string) => {
    for (const [hi, v] of verityPairs) {
      const hp = plan.partitions[hi]!, dp = plan.partitions[v.data]!;
      if (hp.dropped || dp.dropped || deferred(hp) || deferred(dp)) continue;
      const { dbs, hbs } = verityBlocks(hp.def);
      let r;
      try {
        r = await formatVerityHash(
          { path: tmp, offset: dp.offset, length: v.hashedBytes ?? dp.size },
          { path: tmp, offset: hp.offset, length: hp.size },
          { dataBlockSize: dbs, hashBlockSize: hbs, salt: deriveVeritySalt(seed), uuid: deriveVerityUuid(seed), zeroRest: false },
        );
      } catch (e) {
        if (e instanceof RepartError) throw new RepartError(e.code, `Verity hash data does not fit in the partition: ${e.message}`, { file: hp.def.file });
        throw e;
      }
      applyRootHash(hi, v.data, r.rootHash);
    }
  };

  // repart grows the file even in dry-run mode, and writes the table as it was to the new end
  if (o.dryRun && table && plan.imageSize > table.imageSize) {
    const kept = plan.partitions.filter((p) => p.existing && !p.dropped).map((p) => ({ ...p, size: p.existing!.size }));
    await writeImage({
      target: device, mode: 'replace', base: { path: device, keep: [[0n, table.imageSize]] },
      plan: { ...plan, partitions: kept }, deferred: () => false, jobs: new Map(), copyBlocks: new Map(), splitPaths: new Map(),
      formatter: formatInProcess,
    });
  }
  // --el-torito=yes: checked before anything is written, written with the table
  if (o.elTorito) elToritoEsp(plan.partitions);
  const elTorito = async (tmp: string) => {
    if (!o.elTorito) return;
    await writeElTorito(tmp, { espOffset: elToritoEsp(plan.partitions).offset, system: o.elToritoSystem, volume: o.elToritoVolume,
      publisher: o.elToritoPublisher, time: treeCtx.sourceDateEpoch ?? Math.floor(Date.now() / 1000) });
  };

  // context_changed(): nothing new and nothing resized leaves the image alone
  const changed = plan.partitions.some((p) => !p.dropped && (!p.existing || p.size !== p.existing.size));
  if (!changed) warn('No changes.');
  if (!o.dryRun && changed) {
    const progress = new ProgressReporter(io.stderr, io.stderrIsTTY ?? false, o.progress);
    const extraPasses = new Map<number, number>(measuredPasses);
    for (let attempt = 1; ; attempt++) {
      const jobs = new Map<PlannedPartition, Omit<FormatJob, 'window'>>();
      const copyBlocks = new Map<PlannedPartition, BlockSource>();
      const windows = new Map<PlannedPartition, bigint>();
      const contentOffsets = new Map<PlannedPartition, bigint>();
      for (const [i, p] of plan.partitions.entries()) {
        const cb = copyBlocksPaths.get(i);
        if (cb !== undefined) copyBlocks.set(p, cb);
        const d = p.def;
        if (encrypted(p)) {
          // the contents go where the LUKS2 data segment will be, 32 MiB smaller than the partition
          const w = luksPlaintextWindow(p.size);
          contentOffsets.set(p, w.offset);
          windows.set(p, w.length);
        }
        if (d.format === undefined || p.dropped || p.existing || deferred(p)) continue;
        const fsz = fsSizes.get(i);
        if (fsz !== undefined) windows.set(p, fsz);
        jobs.set(p, jobFor(i, p));
      }
      const order = [...jobs.keys()];
      const name = (i: number) => order[i]!.label || order[i]!.type.name;
      try {
        const outcomes = await writeImage({
          target: device,
          mode: o.empty === 'create' ? 'create' : 'replace',
          base: table && { path: device, keep: keptRanges(plan, table.imageSize, deferred, o.discard) },
          plan, deferred, jobs, copyBlocks, splitPaths, windows, contentOffsets,
          formatter: hooks.formatter ?? formatInProcess,
          postFormat: async (tmp) => { await writeVerity(tmp); writeSignatures(tmp); await encryptPartitions(tmp); await elTorito(tmp); },
          first: (p) => selfSized.has(plan.partitions.indexOf(p)),
          afterFirst: (done) => {
            for (const [p, r] of done) {
              const i = plan.partitions.indexOf(p);
              if (settleSelfSized(i, r.usedBytes)) windows.set(p, fsSizes.get(i)!);
            }
            checkMax();
            followVerityData([...done.keys()].map((p) => plan.partitions.indexOf(p)));
            const next = planFor();
            // Partitions already written must stay where they are; if one would move (a fixed
            // --size shares space by weight), everything is built again with the sizes now known.
            for (const p of done.keys()) {
              const q = next.partitions[plan.partitions.indexOf(p)]!;
              if (q.offset !== p.offset) throw new RelayoutNeeded();
            }
            plan.imageSize = next.imageSize;
            plan.geometry = next.geometry;
            next.partitions.forEach((q, k) => Object.assign(plan.partitions[k]!, { offset: q.offset, size: q.size, padding: q.padding }));
          },
          events: {
            start: (i) => progress.start(String(i), name(i)),
            progress: (i, p) => progress.update(String(i), p),
            done: (i, r) => { progress.finish(String(i)); r.warnings.forEach((w) => warn(`${name(i)}: ${w}`)); },
          },
        });
        if (io.env.REPART_TS_STATS) {
          // machine-readable facts for bench/: formatting passes per partition
          const passes = order.map((p, i) => (outcomes[i]?.passes ?? 0) + (extraPasses.get(plan.partitions.indexOf(p)) ?? 0));
          writeFileSync(io.env.REPART_TS_STATS, JSON.stringify({
            passes: passes.reduce((a, b) => a + b, 0),
            partitions: order.map((p, i) => ({ label: p.label, format: p.def.format, minimize: p.def.minimize, passes: passes[i], fsBytes: Number(windows.get(p) ?? p.size) })),
          }) + '\n');
        }
        break;
      } catch (e) {
        if (e instanceof RelayoutNeeded && attempt < 4) {
          for (const i of selfSized.keys()) extraPasses.set(i, (extraPasses.get(i) ?? 0) + 1);
          plan = planFor();
          splitPaths.clear();
          if (o.split) computeSplitPaths(plan, nodeBase, deferred, splitPaths, o);
          continue;
        }
        // The model was short for a minimized file system: grow it by a small step and build
        // again (bounded; every retry is reported and counted as a formatting pass).
        const i = e instanceof RepartError && e.code === 'E_FS_NO_SPACE' ? defs.findIndex((d) => d.file === e.where.file) : -1;
        if (i < 0 || !fsSizes.has(i) || attempt >= 4) throw e;
        const old = fsSizes.get(i)!;
        const step = old / 50n > 1048576n ? old / 50n : 1048576n;
        fsSizes.set(i, roundUp(old + step, grain));
        extraPasses.set(i, (extraPasses.get(i) ?? 0) + 1);
        warn(`${labels[i]}: Minimize= model was ${fmtBytes(old)}, too small for the content; retrying at ${fmtBytes(fsSizes.get(i)!)}`);
        checkMax();
        plan = planFor();
        splitPaths.clear();
        if (o.split) computeSplitPaths(plan, nodeBase, deferred, splitPaths, o);
      }
    }
  }

  const anyVerity = defs.some((d) => d.verity !== 'off');
  const rows = plan.listOrder.map((k) => plan.partitions[k]!).filter((p) => !p.dropped).map((p): PartitionRow => ({
    type: p.type.name,
    label: p.label,
    // verity partitions get their UUIDs from the root hash: unknown until it is computed
    uuid: !p.existing && p.def.verity !== 'off' && p.def.verity !== 'signature' && !p.def.uuid && !rootHashes.has(plan.partitions.indexOf(p)) ? formatUuid(new Uint8Array(16)) : formatUuid(p.uuid),
    partno: p.partno,
    file: p.foreign ? null : p.def.file,
    node: partitionNode(nodeBase, p.partno),
    offset: p.offset,
    oldSize: p.existing?.size ?? 0n,
    rawSize: p.size,
    oldPadding: p.existing?.padding ?? 0n,
    rawPadding: p.padding,
    activity: !p.existing ? 'create' : p.size !== p.existing.size ? 'resize' : 'unchanged',
    dropIns: p.def.dropIns,
    splitPath: o.split ? splitPaths.get(p) ?? '-' : undefined,
    roothash: anyVerity ? (p.def.verity === 'off' ? null : rootHashes.get(plan.partitions.indexOf(p)) ?? 'TBD') : undefined,
  }));

  if (!o.dryRun) writeGeneratedTabs(o, plan.listOrder.map((k) => plan.partitions[k]!), { volumeKeys, warn, again: true });

  emitSummary(o, io, rows, plan.imageSize, warn);
  return 0;
}

/**
 * What incremental mode carries over from the image as it is: everything except the new
 * partitions (they start zeroed) and, with --discard=yes, the gaps repart discards (after each new
 * partition, and before the first partition).
 */
function keptRanges(plan: Plan, oldSize: bigint, deferred: (p: PlannedPartition) => boolean, discard: boolean): [bigint, bigint][] {
  const live = plan.partitions.filter((p) => !p.dropped);
  const ss = BigInt(plan.geometry.sectorSize);
  const usableEnd = (plan.geometry.lastUsableLba + 1n) * ss;
  const nextStart = (from: bigint) => live.reduce((m, q) => (q.offset >= from && q.offset < m ? q.offset : m), usableEnd);
  const cleared: [bigint, bigint][] = [];
  for (const p of live) {
    if (p.existing || deferred(p)) continue;
    cleared.push([p.offset, p.offset + p.size]);
    if (discard) cleared.push([p.offset + p.size, nextStart(p.offset + p.size)]);
  }
  if (discard) {
    const first = plan.geometry.firstUsableLba * ss;
    cleared.push([first, nextStart(first)]);
  }
  cleared.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const keep: [bigint, bigint][] = [];
  let pos = 0n;
  for (const [a, b] of cleared) {
    if (a > pos) keep.push([pos, (a < oldSize ? a : oldSize) - pos]);
    if (b > pos) pos = b;
  }
  if (oldSize > pos) keep.push([pos, oldSize - pos]);
  return keep.filter(([, len]) => len > 0n);
}

/** The --private-key=/--certificate= pair (PEM) that signs Verity=signature partitions. */
function loadSigner(o: CliOptions, definitionFile: string): VeritySigner {
  if (!o.privateKey) throw new RepartError('E_USAGE', 'Verity signature partition signing requested but no private key provided (--private-key=).', { file: definitionFile });
  if (!o.certificate) throw new RepartError('E_USAGE', 'Verity signature partition signing requested but no PEM certificate provided (--certificate=).', { file: definitionFile });
  let key: KeyObject;
  try { key = createPrivateKey(readFileSync(o.privateKey)); } catch (e) { throw new RepartError('E_SOURCE', `cannot load the private key: ${(e as Error).message}`, { file: o.privateKey }); }
  const certificate = loadCertificate(o.certificate);
  if (!certificate.checkPrivateKey(key)) throw new RepartError('E_SOURCE', 'the private key does not belong to the certificate', { file: o.privateKey });
  return { key, certificate };
}

function loadCertificate(file: string): X509Certificate {
  try { return new X509Certificate(readFileSync(file)); } catch (e) { throw new RepartError('E_SOURCE', `cannot load the certificate: ${(e as Error).message}`, { file }); }
}

function sourceDateEpoch(env: NodeJS.ProcessEnv): number | undefined {
  const v = env.SOURCE_DATE_EPOCH;
  if (v === undefined || !/^[0-9]+$/.test(v)) return undefined;
  return Number(v);
}

function computeSplitPaths(plan: Plan, device: string, deferred: (p: PlannedPartition) => boolean, out: Map<PlannedPartition, string>, o: CliOptions): void {
  const dir = path.dirname(device);
  let base = path.basename(device);
  let ext = '';
  if (base.endsWith('.raw')) { base = base.slice(0, -4); ext = '.raw'; }
  const seen = new Map<string, PlannedPartition>();
  for (const p of plan.partitions) {
    if (p.dropped || deferred(p) || p.def.splitName === '') continue;
    let name: string;
    try {
      name = expandSpecifiers(p.def.splitName, {
        root: o.root,
        extra: { t: p.type.name, T: uuidHex(p.type.uuid), U: uuidHex(p.uuid), n: String(p.partno) },
      });
    } catch (e) {
      throw new RepartError('E_CONFIG_VALUE', `failed to expand SplitName=: ${(e as Error).message}`, p.def.where.SplitName ?? { file: p.def.file });
    }
    const sp = path.join(dir, `${base}.${name}${ext}`);
    const other = seen.get(sp);
    if (other) throw new RepartError('E_CONFIG_VALUE', `split file ${sp} would be written for two partitions (also ${other.def.file}); set SplitName=`, { file: p.def.file });
    seen.set(sp, p);
    out.set(p, sp);
  }
}

/** Lists an existing table as repart does for partitions without definitions (foreign). */
function listExisting(g: NonNullable<Awaited<ReturnType<typeof readGpt>>>, imageSize: bigint, device: string, o: CliOptions): PartitionRow[] {
  const grain = BigInt(Math.max(o.grainSize ?? 4096, g.sectorSize));
  const table = existingFromGpt(g, imageSize);
  const geo = gptGeometry(imageSize, g.sectorSize);
  const lastUsable = table.lastUsableLba < geo.lastUsableLba ? table.lastUsableLba : geo.lastUsableLba;
  return table.partitions.map((e) => {
    const padding = currentPadding(e, table, lastUsable, grain);
    return {
      // an unnamed entry is shown with its type's name, as repart lists it
      type: typeFromUuid(e.type).name, label: e.label || typeFromUuid(e.type).name, uuid: formatUuid(e.uuid), partno: e.partno,
      file: null, node: partitionNode(path.resolve(device), e.partno), offset: e.offset,
      oldSize: e.size, rawSize: e.size, oldPadding: padding, rawPadding: padding, activity: 'unchanged',
    };
  });
}

