/**
 * repart.d [Partition] definitions: the key table of systemd-repart 262 (and what 257 knows),
 * each value parsed with repart's own rules (gpt-layout.md §8, formatting.md §5).
 */
import { asCompat, type Compat } from '../compat.js';
import { ConfigError, type ErrorWhere } from '../errors.js';
import { parseUuid, type Uuid } from '../gpt/guid.js';
import { resolveTypeName, typeForArchitecture, type PartitionType } from '../gpt/types.js';
import type { Assignment } from './ini.js';
import { expandSpecifiers, SpecifierError, type SpecifierContext } from './specifiers.js';
import { isAbsoluteNormalizable, parseEncryptedVolume, pathValueProblem, parseBool, parseInt32, parseSize, parseUnsigned, roundDown, roundUp, simplifyPath, splitColonFields, splitQuotedColonFields, splitWords } from './values.js';

export type Tristate = boolean | undefined;
export type VerityMode = 'off' | 'data' | 'hash' | 'signature';
export type MinimizeMode = 'off' | 'best' | 'guess';
export type EncryptMode = 'off' | 'key-file' | 'tpm2' | 'key-file+tpm2';

export interface CopyFilesEntry {
  source: string;
  target: string;
  options: string[];
  where: ErrorWhere;
}

export interface SubvolumeEntry {
  path: string;
  readOnly: boolean;
  nodatacow: boolean;
}

export interface PartitionDefinition {
  /** full path of the definition file, as repart prints it */
  file: string;
  /** file name without ".conf" (SupplementFor= refers to it) */
  id: string;
  dropIns: string[];
  type: PartitionType;
  /** undefined: default label; '' means an empty GPT name */
  label?: string;
  /** undefined: derived; 'null': all-zero */
  uuid?: Uuid;
  priority: number;
  weight: number;
  paddingWeight: number;
  sizeMin?: bigint;
  sizeMax?: bigint;
  paddingMin?: bigint;
  paddingMax?: bigint;
  factoryReset: boolean;
  copyBlocks?: string;
  /** --copy-from=: the bytes of a partition of another image (not a repart.d key) */
  copyFrom?: { path: string; offset: bigint; length: bigint };
  format?: string;
  copyFiles: CopyFilesEntry[];
  /** CopyArchive= (a repart-ts extension, src/tree/tar.ts): tar archives merged into the tree */
  copyArchives?: { source: string; target: string; where: ErrorWhere }[];
  excludeFiles: string[];
  excludeFilesTarget: string[];
  makeDirectories: string[];
  /** where each MakeDirectories= path was given (for the tree builder's messages) */
  makeDirectoriesWhere?: Map<string, ErrorWhere>;
  makeSymlinks: { path: string; target: string; where?: ErrorWhere }[];
  subvolumes: SubvolumeEntry[];
  defaultSubvolume?: string;
  encrypt: EncryptMode;
  /** EncryptKDF=minimal (261+): pbkdf2-sha512 with 1000 iterations instead of the default */
  encryptKdfMinimal?: boolean;
  /** Format=empty (258+): an empty partition, no file system (format itself becomes undefined) */
  formatEmpty?: boolean;
  /** Discard= (261+): whether the LUKS volume allows discards */
  discard?: boolean;
  /** VolumeLabel= (259+): the LUKS label instead of luks-<GPT label> */
  volumeLabel?: string;
  verity: VerityMode;
  verityMatchKey?: string;
  verityDataBlockSize?: bigint;
  verityHashBlockSize?: bigint;
  flags?: bigint;
  noAuto: Tristate;
  readOnly: Tristate;
  growFileSystem: Tristate;
  splitName: string;
  minimize: MinimizeMode;
  mountPoints: string[];
  /** the options after MountPoint='s path (for --generate-fstab=), aligned with mountPoints */
  mountOptions: string[];
  encryptedVolume?: string;
  compression?: string;
  compressionLevel?: string;
  supplementFor?: string;
  addValidateFS: Tristate;
  fsSectorSize?: number;
  /** where each key was last set, for messages that name file, line and key */
  where: Record<string, ErrorWhere>;
}

export interface ParseOptions {
  compat: Compat | number;
  architecture?: string;
  specifiers: SpecifierContext;
  warn: (msg: string) => void;
}

type KeyParser = (d: PartitionDefinition, value: string, w: ErrorWhere, o: ParseOptions) => void;

const fatal = (w: ErrorWhere, msg: string) => new ConfigError('E_CONFIG_VALUE', msg, w);
const loc = (w: ErrorWhere) => `${w.file}:${w.line}`;

function expand(value: string, w: ErrorWhere, o: ParseOptions): string | null {
  try {
    return expandSpecifiers(value, o.specifiers);
  } catch (e) {
    if (e instanceof SpecifierError) {
      o.warn(`${loc(w)}: failed to expand specifiers in ${w.key}=${value}: ${e.message}, ignoring`);
      return null;
    }
    throw e;
  }
}

function sizeKey(field: 'sizeMin' | 'sizeMax' | 'paddingMin' | 'paddingMax'): KeyParser {
  return (d, v, w, o) => {
    const parsed = parseSize(v);
    if (parsed === null) throw fatal(w, `failed to parse size value: ${v}`);
    // Parse-time rounding to 4096 flipped direction in v262 (PR #42529).
    const isMin = field === 'sizeMin' || field === 'paddingMin';
    const up = asCompat(o.compat).sizeBoundsRoundInward ? isMin : !isMin;
    d[field] = up ? roundUp(parsed, 4096n) : roundDown(parsed, 4096n);
  };
}

function boolKey(apply: (d: PartitionDefinition, b: boolean) => void): KeyParser {
  return (d, v, w, o) => {
    const b = parseBool(v);
    if (b === null) return o.warn(`${loc(w)}: failed to parse boolean ${w.key}=${v}, ignoring`);
    apply(d, b);
  };
}

function tristateKey(field: 'noAuto' | 'readOnly' | 'growFileSystem' | 'addValidateFS'): KeyParser {
  return (d, v, w, o) => {
    if (v === '') { d[field] = undefined; return; }
    const b = parseBool(v);
    if (b === null) return o.warn(`${loc(w)}: failed to parse ${w.key}=${v}, ignoring`);
    d[field] = b;
  };
}

function weightKey(field: 'weight' | 'paddingWeight'): KeyParser {
  return (d, v, w, o) => {
    const n = parseUnsigned(v, 0xffffffffn);
    if (n === null || n > 1000000n) return o.warn(`${loc(w)}: invalid weight ${w.key}=${v}, ignoring`);
    d[field] = Number(n);
  };
}

function pathListKey(field: 'excludeFiles' | 'excludeFilesTarget' | 'makeDirectories', resets: boolean): KeyParser {
  return (d, v, w, o) => {
    if (v === '') {
      if (resets) d[field] = [];
      return;
    }
    const words = splitWords(v);
    if (!words) return o.warn(`${loc(w)}: invalid syntax in ${w.key}=, ignoring`);
    for (const word of words) {
      const e = expand(word, w, o);
      if (e === null) continue;
      // ExcludeFiles keeps a trailing '/' (contents only); path_is_valid + absolute required.
      if (!isAbsoluteNormalizable(e)) {
        o.warn(`${loc(w)}: ${w.key}= path ${pathValueProblem(e)}, ignoring: ${e}`);
        continue;
      }
      const trailing = field !== 'makeDirectories' && e.endsWith('/') && e !== '/';
      const p = simplifyPath(e) + (trailing ? '/' : '');
      if (field === 'makeDirectories') {
        if (d.makeDirectories.includes(p)) continue;
        (d.makeDirectoriesWhere ??= new Map()).set(p, w);
      }
      d[field].push(p);
    }
  };
}

const VERITY = ['off', 'data', 'hash', 'signature'];

const KEYS: Record<string, { since: number; parse: KeyParser }> = {
  Type: {
    since: 245,
    parse: (d, v, w, o) => {
      const t = resolveTypeName(v);
      if (!t) throw fatal(w, `failed to parse partition type: ${v}`);
      d.type = o.architecture ? typeForArchitecture(t, o.architecture) : t;
    },
  },
  Label: {
    since: 245,
    parse: (d, v, w, o) => {
      const e = expand(v, w, o);
      if (e === null) return;
      // 36 UTF-16 units in the GPT name; the expanded string may not exceed 36 bytes either.
      if (Buffer.byteLength(e, 'utf8') > 36 || e.length > 36)
        return o.warn(`${loc(w)}: partition label too long for GPT table, ignoring: ${e}`);
      d.label = e;
    },
  },
  UUID: {
    since: 246,
    parse: (d, v, w, o) => {
      if (v === '') { d.uuid = undefined; return; }
      if (v === 'null') { d.uuid = new Uint8Array(16); return; }
      const u = parseUuid(v);
      if (!u) return o.warn(`${loc(w)}: failed to parse UUID, ignoring: ${v}`);
      d.uuid = u;
    },
  },
  Priority: {
    since: 245,
    parse: (d, v, w, o) => {
      const n = parseInt32(v);
      if (n === null) return o.warn(`${loc(w)}: failed to parse ${w.key}=${v}, ignoring`);
      d.priority = n;
    },
  },
  Weight: { since: 245, parse: weightKey('weight') },
  PaddingWeight: { since: 245, parse: weightKey('paddingWeight') },
  SizeMinBytes: { since: 245, parse: sizeKey('sizeMin') },
  SizeMaxBytes: { since: 245, parse: sizeKey('sizeMax') },
  PaddingMinBytes: { since: 245, parse: sizeKey('paddingMin') },
  PaddingMaxBytes: { since: 245, parse: sizeKey('paddingMax') },
  FactoryReset: { since: 245, parse: boolKey((d, b) => (d.factoryReset = b)) },
  CopyBlocks: {
    since: 246,
    parse: (d, v, w, o) => {
      if (v === '') { d.copyBlocks = undefined; return; }
      if (v === 'auto') { d.copyBlocks = 'auto'; return; }
      const e = expand(v, w, o);
      if (e === null) return;
      if (!isAbsoluteNormalizable(e)) return o.warn(`${loc(w)}: CopyBlocks= path ${pathValueProblem(e)}, ignoring: ${e}`);
      d.copyBlocks = simplifyPath(e);
    },
  },
  Format: {
    since: 247,
    parse: (d, v, w, o) => {
      if (v === '') { d.format = undefined; return; }
      if (!/^[A-Za-z0-9_.+-]+$/.test(v)) return o.warn(`${loc(w)}: invalid file system type, ignoring: ${v}`);
      if (v === 'empty' && !asCompat(o.compat).formatEmpty) return o.warn(`${loc(w)}: unknown file system type 'empty', ignoring`);
      d.format = v;
    },
  },
  CopyFiles: {
    since: 247,
    parse: (d, v, w, o) => {
      if (v === '') return; // an empty assignment does not reset the list
      const f = splitColonFields(v);
      if (!f) return o.warn(`${loc(w)}: failed to parse CopyFiles= line, ignoring: ${v}`);
      if (f.length > 3) throw fatal(w, `too many ':' separated fields in CopyFiles=: ${v}`);
      const src = expand(f[0]!, w, o);
      const dst = f[1] !== undefined && f[1] !== '' ? expand(f[1], w, o) : src;
      if (src === null || dst === null) return;
      for (const p of [src, dst]) {
        const problem = pathValueProblem(p);
        if (problem) return o.warn(`${loc(w)}: CopyFiles= path ${problem}, ignoring: ${p}`);
      }
      const options = f[2] ? f[2].split(',').filter((x) => x !== '') : [];
      for (const opt of options) {
        if (!/^fsverity=(off|copy)$/.test(opt) || !asCompat(o.compat).copyFilesFsverity) o.warn(`${loc(w)}: unknown CopyFiles= option '${opt}', ignoring`);
      }
      d.copyFiles.push({ source: simplifyPath(src), target: simplifyPath(dst), options, where: w });
    },
  },
  // repart-ts's extension (no systemd version has it, so every --compat knows it):
  // CopyArchive=ARCHIVE[:TARGET], an uncompressed tar read in place as the tree's source with
  // its own owners, modes, times, xattrs, hard links and device nodes (src/tree/tar.ts). A key of
  // its own, so that copying a .tar file as a file (CopyFiles=) keeps meaning what it means.
  CopyArchive: {
    since: 0,
    parse: (d, v, w, o) => {
      if (v === '') { d.copyArchives = []; return; }
      const f = splitColonFields(v);
      if (!f || f.length > 2) return o.warn(`${loc(w)}: failed to parse CopyArchive= line (ARCHIVE[:TARGET]), ignoring: ${v}`);
      const src = expand(f[0]!, w, o);
      const dst = f[1] !== undefined && f[1] !== '' ? expand(f[1], w, o) : '/';
      if (src === null || dst === null) return;
      if (!isAbsoluteNormalizable(src) || !isAbsoluteNormalizable(dst))
        return o.warn(`${loc(w)}: CopyArchive= paths must be absolute and normalized, ignoring: ${v}`);
      (d.copyArchives ??= []).push({ source: simplifyPath(src), target: simplifyPath(dst), where: w });
    },
  },
  ExcludeFiles: { since: 254, parse: pathListKey('excludeFiles', true) },
  ExcludeFilesTarget: { since: 254, parse: pathListKey('excludeFilesTarget', true) },
  MakeDirectories: { since: 249, parse: pathListKey('makeDirectories', false) },
  MakeSymlinks: {
    since: 257,
    parse: (d, v, w, o) => {
      if (v === '') return;
      const words = splitWords(v);
      if (!words) return o.warn(`${loc(w)}: invalid syntax in MakeSymlinks=, ignoring`);
      for (const word of words) {
        const f = splitColonFields(word);
        if (!f || f.length !== 2) { o.warn(`${loc(w)}: invalid MakeSymlinks= item, ignoring: ${word}`); continue; }
        const p = expand(f[0]!, w, o);
        const target = asCompat(o.compat).copyFilesTargetSpecifiers ? expand(f[1]!, w, o) : f[1]!;
        if (p === null || target === null) continue;
        if (!isAbsoluteNormalizable(p)) { o.warn(`${loc(w)}: MakeSymlinks= path ${pathValueProblem(p)}, ignoring: ${p}`); continue; }
        d.makeSymlinks.push({ path: simplifyPath(p), target, where: w });
      }
    },
  },
  Subvolumes: {
    since: 255,
    parse: (d, v, w, o) => {
      if (v === '') return;
      const words = splitWords(v);
      if (!words) return o.warn(`${loc(w)}: invalid syntax in Subvolumes=, ignoring`);
      for (const word of words) {
        const colon = word.indexOf(':');
        const rawPath = colon < 0 ? word : word.slice(0, colon);
        const flags = colon < 0 ? [] : word.slice(colon + 1).split(',');
        const p = expand(rawPath, w, o);
        if (p === null) continue;
        if (!isAbsoluteNormalizable(p)) { o.warn(`${loc(w)}: Subvolumes= path ${pathValueProblem(p)}, ignoring: ${p}`); continue; }
        const sv: SubvolumeEntry = { path: simplifyPath(p), readOnly: false, nodatacow: false };
        let bad = false;
        for (const fl of flags) {
          if (fl === 'ro') sv.readOnly = true;
          else if (fl === 'nodatacow' && asCompat(o.compat).subvolumeNodatacow) sv.nodatacow = true;
          else { o.warn(`${loc(w)}: unknown subvolume flag '${fl}', ignoring item`); bad = true; }
        }
        if (bad) continue;
        const existing = d.subvolumes.find((s) => s.path === sv.path);
        if (existing) Object.assign(existing, sv);
        else d.subvolumes.push(sv);
      }
    },
  },
  DefaultSubvolume: {
    since: 256,
    parse: (d, v, w, o) => {
      if (v === '') { d.defaultSubvolume = undefined; return; }
      const p = expand(v, w, o);
      if (p === null) return;
      if (!isAbsoluteNormalizable(p)) return o.warn(`${loc(w)}: DefaultSubvolume= path ${pathValueProblem(p)}, ignoring: ${p}`);
      d.defaultSubvolume = simplifyPath(p);
    },
  },
  Encrypt: {
    since: 247,
    parse: (d, v, w, o) => {
      const b = parseBool(v);
      if (b !== null) { d.encrypt = b ? 'key-file' : 'off'; return; }
      if (['off', 'key-file', 'tpm2', 'key-file+tpm2'].includes(v)) { d.encrypt = v as EncryptMode; return; }
      o.warn(`${loc(w)}: failed to parse Encrypt=, ignoring: ${v}`);
    },
  },
  Discard: { since: 261, parse: boolKey((d, b) => { d.discard = b; }) },
  EncryptKDF: {
    since: 261,
    parse: (d, v, w, o) => {
      if (!['argon2id', 'pbkdf2', 'minimal', ''].includes(v)) return o.warn(`${loc(w)}: invalid EncryptKDF=, ignoring: ${v}`);
      d.encryptKdfMinimal = v === 'minimal';
    },
  },
  Integrity: { since: 260, parse: (_d, v, w, o) => { if (!['off', 'inline', ''].includes(v) && parseBool(v) === null) o.warn(`${loc(w)}: invalid Integrity=, ignoring: ${v}`); } },
  IntegrityAlgorithm: { since: 260, parse: () => {} },
  VolumeLabel: { since: 259, parse: (d, v) => { d.volumeLabel = v === '' ? undefined : v; } },
  VolumeName: { since: 261, parse: () => {} },
  BlockDeviceReplace: {
    since: 261,
    parse: (_d, v, w, o) => {
      const b = parseBool(v);
      if (b === null) return o.warn(`${loc(w)}: failed to parse boolean, ignoring: ${v}`);
      if (b) throw new ConfigError('E_CONFIG_UNSUPPORTED', 'BlockDeviceReplace=yes needs a running system (online mode); repart-ts only builds images offline', w);
    },
  },
  Verity: {
    since: 252,
    parse: (d, v, w, o) => {
      if (!VERITY.includes(v)) return o.warn(`${loc(w)}: failed to parse Verity=, ignoring: ${v}`);
      d.verity = v as VerityMode;
    },
  },
  VerityMatchKey: { since: 252, parse: (d, v) => { d.verityMatchKey = v === '' ? undefined : v; } },
  VerityDataBlockSizeBytes: { since: 255, parse: verityBlockKey('verityDataBlockSize') },
  VerityHashBlockSizeBytes: { since: 255, parse: verityBlockKey('verityHashBlockSize') },
  Flags: {
    since: 249,
    parse: (d, v, w, o) => {
      const n = parseUnsigned(v);
      if (n === null) return o.warn(`${loc(w)}: failed to parse Flags=, ignoring: ${v}`);
      d.flags = n;
    },
  },
  NoAuto: { since: 249, parse: tristateKey('noAuto') },
  ReadOnly: { since: 249, parse: tristateKey('readOnly') },
  GrowFileSystem: { since: 249, parse: tristateKey('growFileSystem') },
  SplitName: { since: 252, parse: (d, v) => { d.splitName = v === '' ? '%t' : v; } },
  Minimize: {
    since: 253,
    parse: (d, v, w, o) => {
      if (v === 'best' || v === 'guess' || v === 'off') { d.minimize = v; return; }
      const b = parseBool(v);
      if (b === null) return o.warn(`${loc(w)}: failed to parse Minimize=, ignoring: ${v}`);
      d.minimize = b ? 'best' : 'off';
    },
  },
  MountPoint: {
    since: 256,
    parse: (d, v, w, o) => {
      if (v === '') { d.mountPoints = []; d.mountOptions = []; return; }
      const f = splitQuotedColonFields(v);
      if (f && f.length > 2) return o.warn(`${loc(w)}: Too many arguments in MountPoint=, ignoring: ${v}`);
      if (!f || !f[0]!.startsWith('/')) return o.warn(`${loc(w)}: invalid MountPoint=, ignoring: ${v}`);
      d.mountPoints.push(simplifyPath(f[0]!));
      d.mountOptions.push(f[1] ?? '');
    },
  },
  EncryptedVolume: {
    since: 256,
    parse: (d, v, w, o) => {
      if (v === '') { d.encryptedVolume = undefined; return; }
      if (!parseEncryptedVolume(v, (m) => o.warn(`${loc(w)}: ${m}`))) return o.warn(`${loc(w)}: Failed to parse EncryptedVolume=, ignoring: ${v}`);
      d.encryptedVolume = v;
    },
  },
  Compression: { since: 257, parse: (d, v) => { d.compression = v === '' ? undefined : v; } },
  CompressionLevel: { since: 257, parse: (d, v) => { d.compressionLevel = v === '' ? undefined : v; } },
  SupplementFor: { since: 257, parse: (d, v) => { d.supplementFor = v === '' ? undefined : v; } },
  TPM2PCRs: { since: 259, parse: () => {} },
  KeyFile: { since: 259, parse: () => {} },
  AddValidateFS: { since: 258, parse: tristateKey('addValidateFS') },
  FileSystemSectorSize: {
    since: 258,
    parse: (d, v, w, o) => {
      const n = parseSize(v);
      if (n === null || n < 512n || n > 65536n || (n & (n - 1n)) !== 0n)
        return o.warn(`${loc(w)}: invalid FileSystemSectorSize=, ignoring: ${v}`);
      d.fsSectorSize = Number(n);
    },
  },
};

function verityBlockKey(field: 'verityDataBlockSize' | 'verityHashBlockSize'): KeyParser {
  return (d, v, w) => {
    if (v === '') { d[field] = undefined; return; }
    const n = parseSize(v);
    if (n === null || n < 512n || n > 4096n || (n & (n - 1n)) !== 0n)
      throw fatal(w, `invalid verity block size: ${v} (must be a power of two between 512 and 4096)`);
    d[field] = n;
  };
}

/** Keys known to a given systemd release (257: everything with since ≤ 257): the key table names each key's release. */
export function keyKnown(key: string, compat: Compat | number): boolean {
  const k = KEYS[key];
  return k !== undefined && k.since <= asCompat(compat).version;
}

export const PARTITION_KEYS: readonly string[] = Object.keys(KEYS);

export function emptyDefinition(file: string, id: string): PartitionDefinition {
  return {
    file, id, dropIns: [],
    type: undefined as unknown as PartitionType,
    priority: 0, weight: 1000, paddingWeight: 0,
    factoryReset: false,
    copyFiles: [], excludeFiles: [], excludeFilesTarget: [], makeDirectories: [], makeSymlinks: [], subvolumes: [],
    encrypt: 'off', verity: 'off',
    noAuto: undefined, readOnly: undefined, growFileSystem: undefined,
    splitName: '%t', minimize: 'off', mountPoints: [], mountOptions: [], addValidateFS: undefined,
    where: {},
  };
}

/** Applies one file's assignments (main file first, then each drop-in) to the definition. */
export function applyAssignments(d: PartitionDefinition, file: string, assignments: Assignment[], o: ParseOptions): void {
  for (const a of assignments) {
    const w: ErrorWhere = { file, line: a.line, key: a.key };
    if (!keyKnown(a.key, o.compat)) {
      if (!a.key.startsWith('X-')) o.warn(`${file}:${a.line}: unknown key '${a.key}' in section [Partition], ignoring`);
      continue;
    }
    KEYS[a.key]!.parse(d, a.value, w, o);
    d.where[a.key] = w;
  }
}
