/**
 * context_read_definitions(): find *.conf in the definition directories, apply drop-ins,
 * validate each definition as partition_read_definition() does.
 */
import { asCompat } from '../compat.js';
import { lstatSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { DEFINITION_MAX, readSmallFile } from '../io/read-small.js';
import { chaseInRoot, ChaseError } from '../tree/chase.js';
import path from 'node:path';
import { ConfigError, RepartError, type ErrorWhere } from '../errors.js';
import { knowsGrowFs, isVerityHashType, type PartitionType } from '../gpt/types.js';
import { applyAssignments, emptyDefinition, type ParseOptions, type PartitionDefinition } from './definition.js';
import { parseIni } from './ini.js';

export const DEFAULT_DEFINITION_DIRS = ['/etc/repart.d', '/run/repart.d', '/usr/local/lib/repart.d', '/usr/lib/repart.d'];

const RO_FS = ['squashfs', 'erofs', 'cramfs', 'iso9660', 'DM_verity_hash'];
export const fstypeIsRo = (f: string | undefined): boolean => f !== undefined && RO_FS.includes(f);

export interface LoadOptions extends ParseOptions {
  /** file systems repart-ts can create (others are refused clearly) */
  supportedFormats: ReadonlySet<string>;
  /** file systems repart-ts can size for Minimize= */
  minimizable: ReadonlySet<string>;
  /** --include-partitions / --exclude-partitions filter (after --architecture rewriting) */
  filter?: { mode: 'include' | 'exclude'; types: PartitionType[] };
  /** --root= when the definition directories are below it: symlinked files resolve inside it */
  root?: string;
}

/** Where a definition file's bytes are: its links followed inside the root, if there is one. */
function realFile(p: string, root: string | undefined): string {
  if (!root) return p;
  const rel = path.relative(root, p);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return p;
  try {
    return chaseInRoot(root, rel).hostPath;
  } catch (e) {
    if (e instanceof ChaseError) throw new RepartError('E_CONFIG_SYNTAX', `cannot resolve definition: ${e.message}`, { file: p });
    throw e;
  }
}

/** Masked: a link to /dev/null (by its text: with a root, /dev/null is not inside it), empty, or a character device. */
function isMasked(p: string, root: string | undefined): boolean {
  try {
    if (lstatSync(p).isSymbolicLink() && readlinkSync(p) === '/dev/null') return true;
    const real = root ? realFile(p, root) : realpathSync(p);
    if (real === '/dev/null') return true;
    // null_or_empty(): an empty regular file, or any character device (not only /dev/null)
    const st = statSync(real);
    return (st.isFile() && st.size === 0) || st.isCharacterDevice();
  } catch {
    return false;
  }
}

/** conf_files_list_strv(): file name → first path, sorted by file name (strcmp). */
function listConfFiles(dirs: string[]): Map<string, string> {
  const byName = new Map<string, string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') continue;
      throw new RepartError('E_CONFIG_SYNTAX', `cannot read definition directory: ${err.message}`, { file: dir });
    }
    for (const n of names) {
      if (!n.endsWith('.conf') || n.startsWith('.')) continue;
      if (!byName.has(n)) byName.set(n, path.join(dir, n));
    }
  }
  return new Map([...byName.entries()].sort(([a], [b]) => (Buffer.compare(Buffer.from(a), Buffer.from(b)))));
}

export function readDefinitions(dirs: string[], o: LoadOptions): PartitionDefinition[] {
  const uniq = [...new Set(dirs.map((d) => path.resolve(d)))];
  for (const d of uniq) {
    try {
      if (!statSync(d).isDirectory()) throw new RepartError('E_CONFIG_SYNTAX', 'not a directory', { file: d });
    } catch (e) {
      if (e instanceof RepartError) throw e;
      const err = e as NodeJS.ErrnoException;
      if (err.code !== 'ENOENT') throw new RepartError('E_CONFIG_SYNTAX', `cannot read definition directory: ${err.message}`, { file: d });
    }
  }
  const defs: PartitionDefinition[] = [];
  for (const [name, file] of listConfFiles(uniq)) {
    if (isMasked(file, o.root)) continue;
    const id = name.slice(0, -'.conf'.length);
    const d = emptyDefinition(file, id);
    parseInto(d, file, o);
    const dropins = listConfFiles(uniq.map((dir) => realFile(path.join(dir, name + '.d'), o.root)));
    for (const [, df] of dropins) {
      if (isMasked(df, o.root)) continue;
      d.dropIns.push(df);
      parseInto(d, df, o);
    }
    if (!d.type) throw new ConfigError('E_CONFIG_VALUE', 'Type= not defined, refusing', { file, line: 1 });
    if (o.filter) {
      const hit = o.filter.types.some((t) => Buffer.compare(t.uuid, d.type.uuid) === 0);
      if ((o.filter.mode === 'include') !== hit) continue;
    }
    validate(d, o);
    defs.push(d);
  }
  matchVeritySiblings(defs);
  matchSupplements(defs);
  return defs;
}

/**
 * SupplementFor=NAME: the partition is merged into the definition NAME (its sizes and weights)
 * instead of being made, unless the layout forces it apart (src/plan/allocate.ts).
 */
export function matchSupplements(defs: PartitionDefinition[]): void {
  const where = (d: PartitionDefinition) => ({ file: d.file, line: 1 });
  const taken = new Set<PartitionDefinition>();
  for (const d of defs) {
    if (d.supplementFor === undefined) continue;
    const t = defs.find((x) => x.id === d.supplementFor);
    if (!t) throw new ConfigError('E_CONFIG_VALUE', `SupplementFor= target partition definition '${d.supplementFor}' not found`, d.where.SupplementFor ?? where(d));
    if (t === d) throw new ConfigError('E_CONFIG_VALUE', 'SupplementFor= cannot name the partition itself', d.where.SupplementFor ?? where(d));
    if (t.supplementFor !== undefined) throw new ConfigError('E_CONFIG_CONFLICT', `SupplementFor= target '${t.id}' is itself a supplement`, d.where.SupplementFor ?? where(d));
    if (taken.has(t)) throw new ConfigError('E_CONFIG_CONFLICT', `SupplementFor= target '${t.id}' already has a supplement`, d.where.SupplementFor ?? where(d));
    taken.add(t);
    if (t.copyBlocks !== undefined || t.encrypt !== 'off' || t.verity !== 'off')
      throw new ConfigError('E_CONFIG_CONFLICT', 'SupplementFor= target uses CopyBlocks=/Encrypt=/Verity=', where(d));
    const overlap = (aMin?: bigint, aMax?: bigint, bMin?: bigint, bMax?: bigint) => {
      const lo = [aMin, bMin].filter((x): x is bigint => x !== undefined).reduce((m, x) => (x > m ? x : m), 0n);
      const hi = [aMax, bMax].filter((x): x is bigint => x !== undefined).reduce<bigint | null>((m, x) => (m === null || x < m ? x : m), null);
      return hi === null || lo <= hi;
    };
    if (!overlap(d.sizeMin, d.sizeMax, t.sizeMin, t.sizeMax))
      throw new ConfigError('E_CONFIG_CONFLICT', 'SizeMinBytes= larger than SizeMaxBytes= when merged with SupplementFor= target.', where(d));
    if (!overlap(d.paddingMin, d.paddingMax, t.paddingMin, t.paddingMax))
      throw new ConfigError('E_CONFIG_CONFLICT', 'PaddingMinBytes= larger than PaddingMaxBytes= when merged with SupplementFor= target.', where(d));
  }
}

function parseInto(d: PartitionDefinition, file: string, o: LoadOptions): void {
  // bounded and type-checked: a definition linked to /dev/zero or a FIFO must not hang or balloon
  const data = readSmallFile(realFile(file, o.root), { what: 'definition', max: DEFINITION_MAX, code: 'E_CONFIG_SYNTAX', where: { file } });
  const ini = parseIni(data, file, ['Partition']);
  ini.warnings.forEach((w) => o.warn(w));
  applyAssignments(d, file, ini.assignments, o);
}

function at(d: PartitionDefinition, ...keys: string[]): ErrorWhere {
  for (const k of keys) if (d.where[k]) return d.where[k]!;
  return { file: d.file, line: 1 };
}

function refuse(d: PartitionDefinition, msg: string, ...keys: string[]): never {
  throw new ConfigError('E_CONFIG_CONFLICT', msg, at(d, ...keys));
}

function unsupported(d: PartitionDefinition, msg: string, ...keys: string[]): never {
  throw new ConfigError('E_CONFIG_UNSUPPORTED', msg, at(d, ...keys));
}

export function needsPopulate(d: PartitionDefinition): boolean {
  return d.copyFiles.length > 0 || (d.copyArchives?.length ?? 0) > 0 || d.makeDirectories.length > 0 || d.makeSymlinks.length > 0;
}

function validate(d: PartitionDefinition, o: LoadOptions): void {
  const populate = needsPopulate(d);
  if (d.sizeMin !== undefined && d.sizeMax !== undefined && d.sizeMin > d.sizeMax)
    refuse(d, 'SizeMinBytes= larger than SizeMaxBytes=, refusing', 'SizeMaxBytes', 'SizeMinBytes');
  if (d.paddingMin !== undefined && d.paddingMax !== undefined && d.paddingMin > d.paddingMax)
    refuse(d, 'PaddingMinBytes= larger than PaddingMaxBytes=, refusing', 'PaddingMaxBytes', 'PaddingMinBytes');
  if (d.copyBlocks !== undefined && (d.format !== undefined || populate))
    refuse(d, 'Format=/CopyFiles=/MakeDirectories=/MakeSymlinks= and CopyBlocks= cannot be combined, refusing', 'CopyBlocks');
  if (populate && d.format === 'swap')
    refuse(d, 'Format=swap and CopyFiles=/MakeDirectories=/MakeSymlinks= cannot be combined, refusing', 'Format');

  if (d.format === undefined) {
    if (d.type.role === 'swap') d.format = 'swap';
    else if (populate || (d.encrypt !== 'off' && d.copyBlocks === undefined))
      d.format = d.type.role === 'esp' || d.type.role === 'xbootldr' ? 'vfat' : 'ext4';
  } else if (d.format === 'empty') {
    d.format = undefined;
    d.formatEmpty = true;
    if (d.label === undefined) d.label = '_empty';
    if (d.noAuto === undefined) d.noAuto = true;
  }

  if (d.minimize !== 'off' && d.format === undefined && d.verity !== 'hash')
    refuse(d, 'Minimize= can only be enabled if Format= or Verity=hash are set', 'Minimize');
  // systemd-repart allows Minimize=best only for read-only file systems (and btrfs in 262);
  // repart-ts sizes ext2/3/4, btrfs, vfat and swap from the tree, so it allows best for them too.
  // xfs is sized the way repart does it (a measured first pass), which is guess only.
  if (d.minimize === 'best' && d.format !== undefined && !fstypeIsRo(d.format) && d.verity !== 'hash' && (!o.minimizable.has(d.format) || d.format === 'xfs'))
    refuse(d, 'Minimize=best can only be used with read-only filesystems or Verity=hash', 'Minimize');
  // 262 makes an empty read-only file system; 257 refused
  if (d.format !== undefined && fstypeIsRo(d.format) && !populate && !asCompat(o.compat).emptyReadOnlyFs)
    refuse(d, `Cannot format ${d.format} filesystem without source files, refusing`, 'Format');
  if (d.verity !== 'off' && d.verityMatchKey === undefined)
    refuse(d, `VerityMatchKey= must be set if Verity=${d.verity}`, 'Verity');
  if (d.verity === 'off' && d.verityMatchKey !== undefined)
    refuse(d, "VerityMatchKey= can only be set if Verity= is not 'off'", 'VerityMatchKey');
  if ((d.verity === 'hash' || d.verity === 'signature') && (populate || d.copyBlocks !== undefined || d.format !== undefined))
    refuse(d, `CopyBlocks=/CopyFiles=/Format=/MakeDirectories=/MakeSymlinks= cannot be used with Verity=${d.verity}`, 'Verity');
  if (d.verity === 'signature' && (d.sizeMin !== undefined || d.sizeMax !== undefined))
    refuse(d, 'SizeMinBytes=/SizeMaxBytes= cannot be used with Verity=signature', 'Verity');
  if (d.defaultSubvolume !== undefined && !d.subvolumes.some((s) => s.path === d.defaultSubvolume))
    refuse(d, 'DefaultSubvolume= must be one of the paths in Subvolumes=', 'DefaultSubvolume');
  const compat = asCompat(o.compat);
  if (!compat.subvolumes && (d.subvolumes.length > 0 || d.defaultSubvolume !== undefined))
    refuse(d, 'Subvolumes= and DefaultSubvolume= are not supported with --offline=yes by systemd-repart 257', 'Subvolumes', 'DefaultSubvolume');

  // Verity partitions are read-only; growfs is forced on wherever the type knows it and RO is off.
  if ((isVerityHashType(d.type) || (compat.verityDataReadOnly && d.verity === 'data') || (compat.veritySigReadOnly && (d.verity === 'signature' || d.type.role === 'root-verity-sig' || d.type.role === 'usr-verity-sig'))) && d.readOnly === undefined)
    d.readOnly = true;
  if (knowsGrowFs(d.type) && d.readOnly !== true) d.growFileSystem = true;

  // What repart-ts cannot honour yet: say so, naming the key (never silently ignore it).
  if (d.encrypt === 'tpm2' || d.encrypt === 'key-file+tpm2') unsupported(d, `Encrypt=${d.encrypt} needs a TPM2 and is not supported by repart-ts (Encrypt=key-file is)`, 'Encrypt');
  if (d.encrypt !== 'off' && d.verity !== 'off') refuse(d, 'Encrypt= and Verity= cannot be combined', 'Encrypt', 'Verity');
  if (d.minimize !== 'off' && d.format !== undefined && !o.minimizable.has(d.format))
    unsupported(d, `Minimize= for Format=${d.format} is not supported by repart-ts yet (supported: ${[...o.minimizable].sort().join(', ')})`, 'Minimize');
  if (d.copyBlocks === 'auto') unsupported(d, 'CopyBlocks=auto needs the running system\'s block devices; repart-ts only builds images offline', 'CopyBlocks');
  if (d.copyFiles.some((c) => c.options.includes('fsverity=copy'))) unsupported(d, 'CopyFiles= option fsverity=copy is not supported by repart-ts yet', 'CopyFiles');
  if (d.format !== undefined && !o.supportedFormats.has(d.format))
    unsupported(d, `Format=${d.format} is not supported by repart-ts yet (supported: ${[...o.supportedFormats].sort().join(', ') || 'none'})`, 'Format', 'CopyFiles', 'MakeDirectories', 'MakeSymlinks');

  if (d.splitName === '-') d.splitName = '';
}

/** Verity=data and Verity=hash partitions pair up by VerityMatchKey= (one of each). */
export function matchVeritySiblings(defs: PartitionDefinition[]): void {
  const byKey = new Map<string, PartitionDefinition[]>();
  for (const d of defs) if (d.verity !== 'off') byKey.set(d.verityMatchKey!, [...(byKey.get(d.verityMatchKey!) ?? []), d]);
  for (const [key, group] of byKey) {
    for (const mode of ['data', 'hash'] as const) {
      const of = group.filter((d) => d.verity === mode);
      if (of.length > 1) refuse(of[1]!, `Multiple verity ${mode} partitions with VerityMatchKey=${key}`, 'VerityMatchKey');
      if (of.length === 0) refuse(group[0]!, `Missing verity ${mode} partition for VerityMatchKey=${key}`, 'VerityMatchKey');
    }
  }
}

/** The Verity=data sibling of a Verity=hash partition (and vice versa). */
export function veritySibling(defs: PartitionDefinition[], d: PartitionDefinition, mode: 'data' | 'hash'): PartitionDefinition | undefined {
  return defs.find((x) => x !== d && x.verity === mode && x.verityMatchKey === d.verityMatchKey);
}
