/**
 * The systemd-repart command line (image-building subset, gpt-layout.md §7.1), parsed with
 * getopt_long's rules: --opt=value or --opt value, unknown options are errors.
 */
import { asCompat } from '../compat.js';
import path from 'node:path';
import { readSmallFile, SIGNATURE_MAX } from '../io/read-small.js';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import { parseUuid, type Uuid } from '../gpt/guid.js';
import { ARCHITECTURES, resolveTypeName, typeForArchitecture, type PartitionType } from '../gpt/types.js';
import { parseBool, parseSize, roundUp } from './values.js';
import { checkIdentifier } from '../image/el-torito.js';

export type EmptyMode = 'refuse' | 'allow' | 'require' | 'force' | 'create';

export interface CliOptions {
  device?: string;
  definitions: string[];
  /** --definitions= was given (an empty value: no definitions at all, not the default directories) */
  definitionsGiven?: boolean;
  empty: EmptyMode;
  size?: 'auto' | bigint;
  dryRun: boolean;
  seed: Uuid | 'random' | 'machine-id';
  json: 'pretty' | 'short' | 'off';
  pretty?: boolean;
  split: boolean;
  sectorSize?: number;
  grainSize?: number;
  architecture?: string;
  offline?: boolean;
  root?: string;
  copySource?: string;
  include?: PartitionType[];
  exclude?: PartitionType[];
  defer: PartitionType[];
  discard: boolean;
  noPager: boolean;
  noLegend: boolean;
  compat: number;
  help: boolean;
  version: boolean;
  quiet: boolean;
  progress: boolean;
  layoutSvg?: string;
  /** PEM files that sign Verity=signature partitions */
  privateKey?: string;
  certificate?: string;
  /** --defer-partitions-empty= / --defer-partitions-factory-reset= (259+) */
  deferEmpty: boolean;
  deferFactoryReset: boolean;
  /** --key-file=: the key that unlocks Encrypt=key-file partitions (absent: an empty key, as repart) */
  keyFile?: string;
  /** --generate-fstab=PATH and --append-fstab= (258+) */
  generateFstab?: string;
  generateCrypttab?: string;
  appendFstab: 'no' | 'auto' | 'replace';
  /** --copy-from=IMAGE (repeatable): that image's partitions become the first definitions */
  copyFrom: string[];
  /** --make-ddi= / -S -C -P: the built-in definitions of that kind of disk image */
  makeDdi?: 'sysext' | 'confext' | 'portable';
  /** --join-signature=HASH:SIG (258+): a root hash and its PKCS#7 signature made elsewhere */
  joinSignature?: { rootHash: string; signature: Uint8Array };
  /** --el-torito= and its identifiers (261+): an El Torito boot catalog for the ESP */
  elTorito: boolean;
  elToritoSystem?: string;
  elToritoVolume?: string;
  elToritoPublisher?: string;
  warnings: string[];
}

/** The definitions systemd ships for --make-ddi= (copied from systemd 262, identical in 257). */
export const BUILTIN_DEFINITIONS = fileURLToPath(new URL('../../../definitions', import.meta.url));
/** Where systemd keeps them; JSON and messages name them by this path, as systemd-repart does. */
export const SYSTEMD_DEFINITIONS = '/usr/lib/systemd/repart/definitions';

const WITH_ARG = new Set([
  'definitions', 'empty', 'size', 'dry-run', 'seed', 'json', 'pretty', 'split', 'sector-size', 'grain-size',
  'architecture', 'offline', 'root', 'image', 'copy-source', 'include-partitions', 'exclude-partitions',
  'defer-partitions', 'discard', 'compat', 'copy-from', 'make-ddi', 'private-key', 'certificate', 'key-file',
  'tpm2-device', 'tpm2-pcrs', 'tpm2-public-key', 'tpm2-public-key-pcrs', 'generate-fstab', 'generate-crypttab',
  'factory-reset', 'cow', 'append-fstab', 'defer-partitions-empty', 'defer-partitions-factory-reset', 'join-signature', 'layout-svg',
  'el-torito', 'el-torito-system', 'el-torito-volume', 'el-torito-publisher', 'private-key-source', 'certificate-source',
]);
const FLAGS = new Set(['make-sysext', 'make-confext', 'make-portable', 'help', 'version', 'no-pager', 'no-legend', 'quiet', 'no-progress', 'can-factory-reset', 'list-devices']);
/** options repart has that repart-ts refuses clearly instead of ignoring */
const UNSUPPORTED: Record<string, string> = {
  image: 'use --root= on an unpacked tree instead',
  'tpm2-device': 'Encrypt= is not supported yet',
  'tpm2-pcrs': 'Encrypt= is not supported yet',
  'tpm2-public-key': 'Encrypt= is not supported yet',
  'tpm2-public-key-pcrs': 'Encrypt= is not supported yet',
  'factory-reset': 'only meaningful on a running system',
  'can-factory-reset': 'only meaningful on a running system',
  'list-devices': 'only meaningful on a running system',
};

/**
 * --private-key-source= / --certificate-source=: "file" is what repart-ts does (PEM files read by
 * Node); OpenSSL providers and engines (PKCS#11 tokens, TPM keys) cannot be loaded from Node.
 */
function checkKeySource(name: string, v: string, engineToo: boolean): void {
  if (v === 'file') return;
  const m = /^(provider|engine):(.+)$/.exec(v);
  if (!m || (m[1] === 'engine' && !engineToo)) throw new UsageError(`Failed to parse --${name}= argument: ${v}`);
  throw new UsageError(`--${name}=${v}: OpenSSL ${m[1]}s are not supported by repart-ts (Node cannot load them); sign with --${name}=file and a PEM ${engineToo ? 'private key' : 'certificate'}, or sign elsewhere and use --join-signature=`);
}

function bool(name: string, v: string): boolean {
  const b = parseBool(v);
  if (b === null) throw new UsageError(`Failed to parse --${name}= argument: ${v}`);
  return b;
}

function typeList(name: string, v: string, arch: string | undefined): PartitionType[] {
  const out: PartitionType[] = [];
  for (const t of v.split(',')) {
    if (t === '') continue;
    const r = resolveTypeName(t);
    if (!r) throw new UsageError(`Failed to parse --${name}= partition type: ${t}`);
    out.push(arch ? typeForArchitecture(r, arch) : r);
  }
  return out;
}

type RawOption = [string, string | undefined];

/** getopt_long's view of argv: options (name, value) in order, and the positional arguments. */
function tokenize(argv: string[]): { raw: RawOption[]; positional: string[] } {
  const positional: string[] = [];
  const raw: RawOption[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { positional.push(...argv.slice(i + 1)); break; }
    if (a === '-h') { raw.push(['help', undefined]); continue; }
    if (a === '-n') { raw.push(['dry-run', 'yes']); continue; }
    if (a === '-S' || a === '-C' || a === '-P') { raw.push(['make-ddi', { S: 'sysext', C: 'confext', P: 'portable' }[a[1] as 'S' | 'C' | 'P']]); continue; }
    if (a === '-s') { const v = argv[++i]; if (v === undefined) throw new UsageError('option requires an argument -- \'s\''); raw.push(['copy-source', v]); continue; }
    if (!a.startsWith('--') || a === '-') {
      if (a.startsWith('-') && a !== '-') throw new UsageError(`invalid option -- '${a.slice(1)}'`);
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    if (FLAGS.has(name)) {
      if (eq >= 0) throw new UsageError(`option '--${name}' doesn't allow an argument`);
      raw.push([name, undefined]);
    } else if (WITH_ARG.has(name)) {
      const v = eq < 0 ? argv[++i] : a.slice(eq + 1);
      if (v === undefined) throw new UsageError(`option '--${name}' requires an argument`);
      raw.push([name, v]);
    } else throw new UsageError(`unrecognized option '${a}'`);
  }
  return { raw, positional };
}

/** One option into the options record. */
function applyOption(o: CliOptions, n: string, v: string | undefined): void {
  if (UNSUPPORTED[n] !== undefined) throw new UsageError(`--${n} is not supported by repart-ts: ${UNSUPPORTED[n]}`);
  switch (n) {
    case 'help': o.help = true; break;
    case 'version': o.version = true; break;
    case 'no-pager': o.noPager = true; break;
    case 'no-legend': o.noLegend = true; break;
    case 'quiet': o.quiet = true; o.progress = false; break;
    case 'no-progress': o.progress = false; break;
    case 'definitions': o.definitionsGiven = true; if (v !== '') o.definitions.push(path.resolve(v!)); break;
    case 'empty':
      if (!['refuse', 'allow', 'require', 'force', 'create'].includes(v!)) throw new UsageError(`Failed to parse --empty= parameter: ${v}`);
      o.empty = v as EmptyMode;
      break;
    case 'size': {
      if (v === 'auto') { o.size = 'auto'; break; }
      const s = parseSize(v!);
      if (s === null) throw new UsageError(`Failed to parse --size= parameter: ${v}`);
      const r = roundUp(s, 4096n);
      if (r !== s) o.warnings.push(`Specified image size ${s} is not a multiple of 4096, rounding up to ${r}.`);
      o.size = r;
      break;
    }
    case 'dry-run': o.dryRun = bool(n, v!); break;
    case 'seed': {
      if (v === '') { o.seed = 'machine-id'; break; }
      if (v === 'random') { o.seed = 'random'; break; }
      const u = parseUuid(v!);
      if (!u) throw new UsageError(`Failed to parse seed: ${v}`);
      o.seed = u;
      break;
    }
    case 'json':
      if (v === 'help') { o.json = 'off'; o.warnings.push('pretty\nshort\noff'); break; }
      if (!['pretty', 'short', 'off'].includes(v!)) throw new UsageError(`Unknown argument to --json= switch: ${v}`);
      o.json = v as CliOptions['json'];
      break;
    case 'pretty': o.pretty = bool(n, v!); break;
    case 'split': o.split = bool(n, v!); break;
    case 'discard': o.discard = bool(n, v!); break;
    case 'offline': if (v !== 'auto') o.offline = bool(n, v!); break;
    case 'cow': if (v !== 'auto') bool(n, v!); break;
    case 'sector-size': {
      const s = Number(v);
      if (![512, 1024, 2048, 4096].includes(s)) throw new UsageError(`Failed to parse sector size parameter ${v}`);
      o.sectorSize = s;
      break;
    }
    case 'grain-size': {
      const s = parseSize(v!);
      if (s === null || s < 512n || (s & (s - 1n)) !== 0n) throw new UsageError(`Failed to parse --grain-size= parameter: ${v}`);
      o.grainSize = Number(s);
      break;
    }
    case 'architecture': break;
    case 'root': o.root = path.resolve(v!); break;
    case 'copy-source': o.copySource = path.resolve(v!); break;
    case 'include-partitions':
      if (o.exclude) throw new UsageError('Combination of --include-partitions= and --exclude-partitions= is invalid.');
      o.include = [...(o.include ?? []), ...typeList(n, v!, o.architecture)];
      break;
    case 'exclude-partitions':
      if (o.include) throw new UsageError('Combination of --include-partitions= and --exclude-partitions= is invalid.');
      o.exclude = [...(o.exclude ?? []), ...typeList(n, v!, o.architecture)];
      break;
    case 'defer-partitions': o.defer.push(...typeList(n, v!, o.architecture)); break;
    case 'layout-svg': o.layoutSvg = path.resolve(v!); break;
    case 'private-key': o.privateKey = path.resolve(v!); break;
    case 'key-file': o.keyFile = v === '' ? undefined : path.resolve(v!); break;
    case 'copy-from': o.copyFrom.push(path.resolve(v!)); break;
    case 'defer-partitions-empty': o.deferEmpty = bool(n, v!); break;
    case 'defer-partitions-factory-reset': o.deferFactoryReset = bool(n, v!); break;
    case 'generate-fstab': o.generateFstab = v === '' ? undefined : path.resolve(v!); break;
    case 'generate-crypttab': o.generateCrypttab = v === '' ? undefined : path.resolve(v!); break;
    case 'append-fstab':
      if (v !== 'no' && v !== 'auto' && v !== 'replace') throw new UsageError(`Failed to parse --append-fstab= argument: ${v}`);
      o.appendFstab = v;
      break;
    case 'make-sysext': case 'make-confext': case 'make-portable': o.makeDdi = n.slice(5) as 'sysext'; break;
    case 'make-ddi':
      if (v !== 'sysext' && v !== 'confext' && v !== 'portable') throw new UsageError(`DDI type not known: ${v}`);
      o.makeDdi = v;
      break;
    case 'certificate': o.certificate = path.resolve(v!); break;
    case 'private-key-source': checkKeySource(n, v!, true); break;
    case 'certificate-source': checkKeySource(n, v!, false); break;
    case 'el-torito': o.elTorito = bool(n, v!); break;
    case 'el-torito-system': checkIdentifier('system', v!); o.elToritoSystem = v!; break;
    case 'el-torito-volume': checkIdentifier('volume', v!); o.elToritoVolume = v!; break;
    case 'el-torito-publisher': checkIdentifier('publisher', v!); o.elToritoPublisher = v!; break;
    case 'join-signature': {
      const colon = v!.indexOf(':');
      const hash = colon < 0 ? '' : v!.slice(0, colon).toLowerCase();
      const sig = colon < 0 ? '' : v!.slice(colon + 1);
      if (!/^([0-9a-f]{2})+$/.test(hash) || sig === '') throw new UsageError(`Failed to parse --join-signature= argument, expected HASH:SIGNATURE: ${v}`);
      let signature: Uint8Array;
      if (sig.startsWith('base64:')) signature = Buffer.from(sig.slice(7), 'base64');
      else {
        try { signature = readSmallFile(path.resolve(sig), { what: '--join-signature= signature file', max: SIGNATURE_MAX, streams: true }); } catch (e) { throw new UsageError(`Failed to read --join-signature= signature file ${sig}: ${(e as Error).message}`); }
      }
      o.joinSignature = { rootHash: hash, signature };
      break;
    }
    case 'compat': {
      const c = Number(v);
      if (c !== 257 && c !== 262) throw new UsageError(`--compat= must be 257 or 262, got ${v}`);
      o.compat = c;
      break;
    }
  }
}

/** What depends on several options: --make-ddi defaults, --empty=create, version-gated options. */
function finish(o: CliOptions, raw: RawOption[], positional: string[]): void {
  if (positional.length > 1) throw new UsageError('Expected at most one argument, the path to the block device or image file.');
  o.device = positional[0];
  if (o.makeDdi) {
    if (o.copySource === undefined) throw new UsageError('No --copy-source= specified, refusing.');
    // the built-in definitions; an image made from scratch, sized to fit, with random UUIDs
    const given = new Set(raw.map(([n]) => n));
    if (!given.has('definitions')) o.definitions = [path.join(BUILTIN_DEFINITIONS, `${o.makeDdi}.repart.d`)];
    if (!given.has('empty')) o.empty = 'create';
    if (!given.has('size')) o.size = 'auto';
    if (!given.has('seed')) o.seed = 'random';
  }
  if (o.empty === 'create') {
    // systemd-repart writes the new image even with an explicit --dry-run=yes (measured, 257/262)
    o.dryRun = false;
    if (o.size === undefined) throw new UsageError('If --empty=create is specified, --size= must be specified, too.');
    if (o.device === undefined) throw new UsageError('A path to an image file must be specified when --empty=create is used.');
  }
  if (o.split && o.device === undefined) throw new UsageError('When --split= is used, a device path must be specified.');
  const compat = asCompat(o.compat);
  if (!compat.grainSizeOption && o.grainSize !== undefined) throw new UsageError('--grain-size= needs systemd-repart 261 or newer (use --compat=262).');
  if (!compat.joinSignatureOption && o.joinSignature !== undefined) throw new UsageError('--join-signature= needs systemd-repart 258 or newer (use --compat=262).');
  for (const n of ['defer-partitions-empty', 'defer-partitions-factory-reset'])
    if (!compat.deferEmptyOptions && raw.some(([m]) => m === n)) throw new UsageError(`unrecognized option '--${n}' (systemd-repart 259 or newer; use --compat=262)`);
  if (!compat.appendFstabOption && raw.some(([n]) => n === 'append-fstab')) throw new UsageError('--append-fstab= needs systemd-repart 258 or newer (use --compat=262).');
  if (!compat.elToritoOption) for (const n of ['el-torito', 'el-torito-system', 'el-torito-volume', 'el-torito-publisher'])
    if (raw.some(([m]) => m === n)) throw new UsageError(`unrecognized option '--${n}' (systemd-repart 261 or newer; use --compat=262)`);
  if (o.joinSignature !== undefined && o.certificate === undefined) throw new UsageError('Verity signature specified without --certificate=.');
}

export function parseCommandLine(argv: string[]): CliOptions {
  const o: CliOptions = {
    definitions: [], copyFrom: [], appendFstab: 'no', deferEmpty: false, deferFactoryReset: false, empty: 'refuse', dryRun: true, seed: 'machine-id', json: 'off', split: false, defer: [],
    discard: true, noPager: false, noLegend: false, compat: 262, help: false, version: false, quiet: false,
    progress: true, warnings: [], elTorito: false,
  };
  const { raw, positional } = tokenize(argv);
  // --architecture rewrites the type lists, wherever it appears on the line.
  for (const [n, v] of raw) if (n === 'architecture') {
    if (!(ARCHITECTURES as readonly string[]).includes(v!)) throw new UsageError(`Invalid architecture '${v}'.`);
    o.architecture = v!;
  }
  for (const [n, v] of raw) applyOption(o, n, v);
  finish(o, raw, positional);
  return o;
}
