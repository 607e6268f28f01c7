/**
 * The NixOS `image.repart` description as a JSON file (what `repart-ts build CONFIG.json` reads),
 * turned into exactly what nixpkgs' builder hands systemd-repart: one `<name>.conf` per
 * partition (repartConfig keys, then a CopyFiles= line per `contents` entry and per store path),
 * and the builder's command line.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { RepartError } from '../errors.js';
import { parseUuid } from '../gpt/guid.js';
import { nativeArchitecture } from '../gpt/types.js';

export interface NixosPartition {
  /** archive: the source is a tar archive read as the tree under target (CopyArchive=, our extension) */
  contents: { target: string; source: string; archive?: boolean }[];
  storePaths: string[];
  /** a closureInfo `store-paths` file */
  closure?: string;
  nixStorePrefix: string;
  repartConfig: [string, string][];
}

/**
 * nixpkgs' image.repart.verityStore: the store on an erofs usr partition under dm-verity, the UKI
 * (built between two repart runs, with usrhash=) on the ESP.
 */
export interface VerityStore {
  ukiPath: string;
  partitionIds: { esp: string; storeVerity: string; store: string };
  /** builds the UKI: @usrhash@ and @out@ in the arguments (and $USRHASH, $UKI_OUT) are filled in */
  ukiCommand: string[];
}

export interface NixosImageConfig {
  name: string;
  version?: string;
  seed: string;
  split: boolean;
  sectorSize?: number;
  imageSize: string;
  architecture?: string;
  compression: { enable: boolean; algorithm: 'zstd' | 'xz'; level: number };
  mkfsOptions: Record<string, string[]>;
  /** where store paths live on this machine (closure paths are made relative to it) */
  storeDir: string;
  /** the nixpkgs builder runs repart under `unshare --map-root-user fakeroot`: every owner is root */
  mapOwnersToRoot: boolean;
  /** opt-in: identical files (bytes and metadata) become hard links, optimised store or not */
  dedupe: boolean;
  partitions: [string, NixosPartition][];
  verityStore?: VerityStore;
  /** the config file, for messages */
  file: string;
}

function fail(file: string, where: string, msg: string): never {
  throw new RepartError('E_CONFIG_VALUE', `${where}: ${msg}`, { file });
}

function str(file: string, where: string, v: unknown, dflt?: string): string {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'string') fail(file, where, `expected a string, got ${JSON.stringify(v)}`);
  return v;
}

function obj(file: string, where: string, v: unknown, keys?: readonly string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(file, where, 'expected an object');
  if (keys) known(file, where, v as Record<string, unknown>, keys);
  return v as Record<string, unknown>;
}

/** A JSON path component: plain names joined with '.', anything else quoted. */
export function jsonPath(where: string, key: string): string {
  const k = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key);
  return where === '$' ? k : `${where}.${k}`;
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
  return d[a.length]![b.length]!;
}

/** Strict: a key the module does not have is an error (a typo must not build another image). */
function known(file: string, where: string, o: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (keys.includes(k)) continue;
    const near = keys.filter((x) => distance(x, k) <= Math.max(2, Math.floor(x.length / 4))).sort((x, y) => distance(x, k) - distance(y, k))[0];
    fail(file, jsonPath(where, k), `unknown key${near ? ` (did you mean ${near}?)` : ''}; known here: ${keys.join(', ')}`);
  }
}

const TOP_KEYS = ['name', 'version', 'seed', 'split', 'sectorSize', 'imageSize', 'architecture', 'compression', 'mkfsOptions', 'storeDir', 'mapOwnersToRoot', 'dedupe', 'partitions', 'verityStore'] as const;
const PARTITION_KEYS = ['contents', 'storePaths', 'closure', 'nixStorePrefix', 'repartConfig'] as const;

/**
 * Every contents source exists: systemd-repart only logs a notice for a missing CopyFiles= source
 * and builds without it (an ESP without its boot loader, exit 0). Checked when building, not
 * when parsing, so that a configuration can be read on another machine.
 */
export function checkSources(cfg: NixosImageConfig): void {
  for (const [pname, p] of cfg.partitions) {
    for (const c of p.contents) {
      try {
        statSync(c.source);
      } catch (e) {
        throw new RepartError('E_SOURCE', `partitions.${pname}.contents.${JSON.stringify(c.target)}.${c.archive ? 'archive' : 'source'}: ${c.source} does not exist (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: cfg.file });
      }
    }
    closurePaths(cfg, pname, p);
  }
}

/** repartConfig values: strings, numbers, booleans (as the module renders them) or lists (repeated keys). */
function repartValue(file: string, where: string, v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (typeof v === 'number') return [String(v)];
  if (typeof v === 'boolean') return [v ? 'yes' : 'no'];
  if (Array.isArray(v)) return v.flatMap((x, i) => repartValue(file, `${where}[${i}]`, x));
  fail(file, where, `unsupported value ${JSON.stringify(v)}`);
}

function absolute(file: string, where: string, p: string, base: string): string {
  return path.isAbsolute(p) ? p : path.resolve(base, p);
}

export function parseNixosConfig(file: string): NixosImageConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new RepartError('E_CONFIG_SYNTAX', `cannot read configuration: ${(e as Error).message}`, { file });
  }
  const base = path.dirname(path.resolve(file));
  const c = obj(file, '$', raw, TOP_KEYS);
  const name = str(file, 'name', c.name, 'image');
  if (!/^[A-Za-z0-9._+-]+$/.test(name)) fail(file, 'name', `not a valid file name: ${name}`);
  const seed = str(file, 'seed', c.seed, '0867da16-f251-457d-a9e8-c31f9a3c220b');
  if (!parseUuid(seed)) fail(file, 'seed', `not a UUID: ${seed}`);
  const comp = c.compression === undefined ? {} : obj(file, 'compression', c.compression, ['enable', 'algorithm', 'level']);
  const algorithm = str(file, 'compression.algorithm', comp.algorithm, 'zstd');
  if (algorithm !== 'zstd' && algorithm !== 'xz') fail(file, 'compression.algorithm', `must be zstd or xz, got ${algorithm}`);
  const level = comp.level === undefined ? 3 : Number(comp.level);
  if (!Number.isInteger(level) || level < (algorithm === 'zstd' ? 1 : 0) || level > (algorithm === 'zstd' ? 22 : 9)) fail(file, 'compression.level', `invalid level ${String(comp.level)} (zstd: 1–22, xz: 0–9)`);
  const mk: Record<string, string[]> = {};
  if (c.mkfsOptions !== undefined) {
    for (const [fs, v] of Object.entries(obj(file, 'mkfsOptions', c.mkfsOptions))) {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(file, `mkfsOptions.${fs}`, 'expected a list of strings');
      mk[fs] = v as string[];
    }
  }
  const storeDir = absolute(file, 'storeDir', str(file, 'storeDir', c.storeDir, '/nix/store'), base).replace(/\/+$/, '');
  const parts = obj(file, 'partitions', c.partitions ?? {});
  const partitions: [string, NixosPartition][] = Object.keys(parts).sort().map((pname) => {
    if (!/^[A-Za-z0-9._+-]+$/.test(pname)) fail(file, `partitions.${pname}`, 'partition names become file names and must be plain');
    const p = obj(file, `partitions.${pname}`, parts[pname], PARTITION_KEYS);
    const where = `partitions.${pname}`;
    const prefix = str(file, `${where}.nixStorePrefix`, p.nixStorePrefix, '/nix/store');
    if (!prefix.startsWith('/')) fail(file, `${where}.nixStorePrefix`, `must be an absolute path, got ${prefix}`);
    if (prefix.split('/').includes('..')) fail(file, `${where}.nixStorePrefix`, `must not contain '..': ${prefix}`);
    const contents = Object.entries(p.contents === undefined ? {} : obj(file, `${where}.contents`, p.contents)).map(([target, v]) => {
      const at = `${where}.contents.${JSON.stringify(target)}`;
      const e = obj(file, at, v, ['source', 'archive']);
      if ((e.source === undefined) === (e.archive === undefined)) fail(file, at, 'give either source (a file or directory, copied) or archive (a tar archive, unpacked into the image)');
      const archive = e.archive !== undefined;
      const src = archive ? str(file, `${at}.archive`, e.archive) : str(file, `${at}.source`, e.source);
      if (!target.startsWith('/')) fail(file, at, 'targets must be absolute paths');
      if (target.split('/').includes('..')) fail(file, at, `target escapes the file system with '..'`);
      return { target, source: absolute(file, where, src, base), ...(archive ? { archive } : {}) };
    });
    const storePaths = p.storePaths === undefined ? [] : (() => {
      if (!Array.isArray(p.storePaths)) fail(file, `${where}.storePaths`, 'expected a list of paths');
      return (p.storePaths as unknown[]).map((x, i) => absolute(file, `${where}.storePaths[${i}]`, str(file, `${where}.storePaths[${i}]`, x), base));
    })();
    const closure = p.closure === undefined ? undefined : absolute(file, `${where}.closure`, str(file, `${where}.closure`, p.closure), base);
    const rc = obj(file, `${where}.repartConfig`, p.repartConfig ?? {});
    const repartConfig: [string, string][] = Object.entries(rc).flatMap(([k, v]) => repartValue(file, `${where}.repartConfig.${k}`, v).map((x): [string, string] => [k, x]));
    return [pname, { contents, storePaths, closure, nixStorePrefix: prefix, repartConfig }];
  });
  const architecture = c.architecture === undefined ? undefined : str(file, 'architecture', c.architecture);
  const verityStore = c.verityStore === undefined ? undefined : parseVerityStore(file, obj(file, 'verityStore', c.verityStore, ['enable', 'ukiPath', 'partitionIds', 'ukiCommand']), name, partitions, architecture ?? nativeArchitecture(), base);
  for (const [pname, p] of partitions) if (!p.repartConfig.some(([k]) => k === 'Type')) fail(file, `partitions.${pname}.repartConfig`, 'Type is required');
  const sectorSize = c.sectorSize === undefined || c.sectorSize === null ? undefined : Number(c.sectorSize);
  if (sectorSize !== undefined && ![512, 1024, 2048, 4096].includes(sectorSize)) fail(file, 'sectorSize', `invalid sector size ${String(c.sectorSize)}`);
  return {
    name,
    version: c.version === undefined || c.version === null ? undefined : str(file, 'version', c.version),
    seed,
    split: c.split === true,
    sectorSize,
    imageSize: c.imageSize === undefined ? 'auto' : str(file, 'imageSize', String(c.imageSize)),
    architecture,
    compression: { enable: comp.enable === true, algorithm, level },
    mkfsOptions: mk,
    storeDir,
    mapOwnersToRoot: c.mapOwnersToRoot !== false,
    dedupe: c.dedupe === true,
    partitions,
    verityStore,
    file,
  };
}

/**
 * What repart-verity-store.nix adds to the partitions: the hash partition and the store's
 * verity/erofs settings (Type= and Verity= forced, the rest defaults the user may override).
 */
function parseVerityStore(file: string, v: Record<string, unknown>, name: string, partitions: [string, NixosPartition][], arch: string, base: string): VerityStore | undefined {
  const ids = v.partitionIds === undefined ? {} : obj(file, 'verityStore.partitionIds', v.partitionIds, ['esp', 'store-verity', 'store']);
  if (v.enable !== true) return undefined;
  const partitionIds = {
    esp: str(file, 'verityStore.partitionIds.esp', ids.esp, '00-esp'),
    storeVerity: str(file, 'verityStore.partitionIds.store-verity', ids['store-verity'], '10-store-verity'),
    store: str(file, 'verityStore.partitionIds.store', ids.store, '20-store'),
  };
  const ukiPath = str(file, 'verityStore.ukiPath', v.ukiPath, `/EFI/Linux/${name}.efi`);
  if (!ukiPath.startsWith('/') || ukiPath.split('/').includes('..')) fail(file, 'verityStore.ukiPath', `must be an absolute path inside the ESP, got ${ukiPath}`);
  if (!Array.isArray(v.ukiCommand) || v.ukiCommand.length === 0 || !v.ukiCommand.every((x) => typeof x === 'string'))
    fail(file, 'verityStore.ukiCommand', 'a command (list of strings) that builds the UKI with usrhash=@usrhash@ into @out@ is required: the root hash is only known after the first run');
  const ukiCommand = (v.ukiCommand as string[]).map((a, i) => (i === 0 && a.includes('/') && !path.isAbsolute(a) ? path.resolve(base, a) : a));
  const find = (id: string) => partitions.find(([n]) => n === id)?.[1];
  if (!find(partitionIds.esp)) fail(file, `partitions.${partitionIds.esp}`, 'verityStore needs the ESP partition it puts the UKI on');
  const store = find(partitionIds.store);
  if (!store || (store.storePaths.length === 0 && store.closure === undefined))
    fail(file, `partitions.${partitionIds.store}`, 'verityStore needs the store partition with storePaths or closure');
  let hash = find(partitionIds.storeVerity);
  if (!hash) {
    hash = { contents: [], storePaths: [], nixStorePrefix: '/nix/store', repartConfig: [] };
    partitions.push([partitionIds.storeVerity, hash]);
    partitions.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
  const force = (p: NixosPartition, where: string, key: string, value: string) => {
    const have = p.repartConfig.find(([k]) => k === key);
    if (have && have[1] !== value) fail(file, `${where}.repartConfig.${key}`, `verityStore sets ${key}=${value}, got ${have[1]}`);
    if (!have) p.repartConfig.push([key, value]);
  };
  const dflt = (p: NixosPartition, key: string, value: string) => { if (!p.repartConfig.some(([k]) => k === key)) p.repartConfig.push([key, value]); };
  const hw = `partitions.${partitionIds.storeVerity}`, sw = `partitions.${partitionIds.store}`;
  force(hash, hw, 'Type', `usr-${arch}-verity`);
  force(hash, hw, 'Verity', 'hash');
  dflt(hash, 'VerityMatchKey', 'store');
  dflt(hash, 'Label', 'store-verity');
  force(store, sw, 'Type', `usr-${arch}`);
  force(store, sw, 'Verity', 'data');
  dflt(store, 'Format', 'erofs');
  dflt(store, 'VerityMatchKey', 'store');
  dflt(store, 'Label', 'store');
  return { ukiPath, partitionIds, ukiCommand };
}

/** Store paths of a partition: storePaths plus the closure file's lines, each checked. */
export function closurePaths(cfg: NixosImageConfig, pname: string, p: NixosPartition): string[] {
  const out = new Set<string>(p.storePaths);
  if (p.closure) {
    let text: string;
    try { text = readFileSync(p.closure, 'utf8'); } catch (e) {
      throw new RepartError('E_SOURCE', `partitions.${pname}.closure: cannot read ${p.closure}: ${(e as Error).message}`, { file: cfg.file });
    }
    text.split('\n').forEach((line, i) => {
      const l = line.trim();
      if (l === '') return;
      if (!l.startsWith(cfg.storeDir + '/') || l.slice(cfg.storeDir.length + 1).includes('/') || l.includes('\0'))
        throw new RepartError('E_SOURCE', `partitions.${pname}.closure: line ${i + 1} is not a store path under ${cfg.storeDir}: ${JSON.stringify(l)}`, { file: p.closure });
      out.add(l);
    });
  }
  for (const sp of out) {
    if (!sp.startsWith(cfg.storeDir + '/'))
      throw new RepartError('E_SOURCE', `partitions.${pname}: ${sp} is not in the store ${cfg.storeDir}`, { file: cfg.file });
    // systemd-repart only logs a notice for a missing CopyFiles= source; a store path the
    // closure names but the store lacks is a broken build, so the native configuration refuses it.
    if (!existsSync(sp)) throw new RepartError('E_SOURCE', `partitions.${pname}: store path ${sp} does not exist`, { file: p.closure ?? cfg.file });
  }
  return [...out];
}

/** C-escape what repart's CopyFiles= parser would split or unescape. */
function escapeCopyFilesPath(p: string): string {
  return p.replace(/\\/g, '\\\\').replace(/:/g, '\\x3a');
}

/** The `<name>.conf` text for one partition, as nixpkgs writes and amends it. */
export function definitionText(cfg: NixosImageConfig, pname: string, p: NixosPartition): string {
  const lines = ['[Partition]', ...p.repartConfig.map(([k, v]) => `${k}=${v}`)];
  for (const c of p.contents) lines.push(`${c.archive ? 'CopyArchive' : 'CopyFiles'}=${escapeCopyFilesPath(c.source)}:${escapeCopyFilesPath(c.target)}`);
  const prefix = p.nixStorePrefix.replace(/\/+$/, '');
  for (const sp of closurePaths(cfg, pname, p)) {
    const rel = sp.slice(cfg.storeDir.length + 1);
    lines.push(`CopyFiles=${escapeCopyFilesPath(sp)}:${escapeCopyFilesPath(`${prefix}/${rel}`)}`);
  }
  return lines.join('\n') + '\n';
}

export function imageBaseName(cfg: NixosImageConfig): string {
  return cfg.version ? `${cfg.name}_${cfg.version}` : cfg.name;
}

/** The systemd-repart flags nixpkgs' repart-image.nix uses. */
export function builderArgs(cfg: NixosImageConfig, definitions: string, image: string, architecture: string): string[] {
  return [
    `--architecture=${architecture}`, '--dry-run=no', `--size=${cfg.imageSize}`, `--seed=${cfg.seed}`,
    `--definitions=${definitions}`, `--split=${cfg.split ? 'true' : 'false'}`, '--json=pretty', '--empty=create',
    ...(cfg.sectorSize ? [`--sector-size=${cfg.sectorSize}`] : []), image,
  ];
}
