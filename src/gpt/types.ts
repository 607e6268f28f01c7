/**
 * Discoverable Partitions type table and Type= resolution as systemd's gpt.c does it
 * (gpt-layout.md §5).
 */
import { asCompat, type Compat } from '../compat.js';
import { formatUuid, parseUuid, uuidEqual, type Uuid } from './guid.js';
import { PARTITION_TYPE_TABLE, type PartitionRole } from './type-table.js';

export type { PartitionRole };

export interface PartitionType {
  uuid: Uuid;
  /** canonical name (first table entry with this UUID), or the UUID string for unknown types */
  name: string;
  arch: string | null;
  /** null for types not in the table */
  role: PartitionRole | null;
}

interface Row {
  name: string;
  /** parsed on first use (most of the ~400 rows never are: start-up time) */
  uuid?: Uuid;
  uuidStr: string;
  arch: string | null;
  role: PartitionRole;
}

const ROWS: Row[] = PARTITION_TYPE_TABLE.map(([name, u, arch, role]) => ({ name, uuidStr: u, arch, role }));
const BY_NAME = new Map<string, Row>();
const CANONICAL_BY_UUID = new Map<string, Row>();
for (const r of ROWS) {
  if (!BY_NAME.has(r.name)) BY_NAME.set(r.name, r);
  if (!CANONICAL_BY_UUID.has(r.uuidStr)) CANONICAL_BY_UUID.set(r.uuidStr, r);
}

/** systemd architecture names accepted by --architecture= */
export const ARCHITECTURES = [
  'alpha', 'arc', 'arc-be', 'arm', 'arm-be', 'arm64', 'arm64-be', 'cris', 'ia64', 'loongarch64', 'm68k',
  'mips', 'mips-le', 'mips64', 'mips64-le', 'nios2', 'parisc', 'parisc64', 'ppc', 'ppc-le', 'ppc64',
  'ppc64-le', 'riscv32', 'riscv64', 's390', 's390x', 'sh', 'sh64', 'sparc', 'sparc64', 'tilegx', 'x86', 'x86-64',
] as const;

/** The architecture systemd would have been compiled for, i.e. this machine's. */
export function nativeArchitecture(): string {
  switch (process.arch) {
    case 'x64': return 'x86-64';
    case 'ia32': return 'x86';
    case 'arm64': return 'arm64';
    case 'arm': return 'arm';
    case 'loong64': return 'loongarch64';
    case 'riscv64': return 'riscv64';
    case 'ppc64': return 'ppc64-le';
    case 's390x': return 's390x';
    case 'mips': return 'mips';
    case 'mipsel': return 'mips-le';
    default: return 'x86-64';
  }
}

const SECONDARY: Record<string, string> = { 'x86-64': 'x86', arm64: 'arm' };
const ARCH_ROLES: PartitionRole[] = ['root', 'root-verity', 'root-verity-sig', 'usr', 'usr-verity', 'usr-verity-sig'];

function toType(r: Row): PartitionType {
  const c = CANONICAL_BY_UUID.get(r.uuidStr)!;
  return { uuid: (c.uuid ??= parseUuid(c.uuidStr)!), name: c.name, arch: c.arch, role: c.role };
}

export function typeFromUuid(u: Uuid): PartitionType {
  const c = CANONICAL_BY_UUID.get(formatUuid(u));
  if (c) return toType(c);
  return { uuid: Uint8Array.from(u), name: formatUuid(u), arch: null, role: null };
}

function byArchRole(arch: string, role: PartitionRole): Row | undefined {
  return ROWS.find((r) => r.arch === arch && r.role === role);
}

/** gpt_partition_type_from_string(): names (incl. aliases and native shortcuts) or UUIDs. */
export function resolveTypeName(s: string, native: string = nativeArchitecture()): PartitionType | null {
  const r = BY_NAME.get(s);
  if (r) return toType(r);
  // Native shortcuts: root, usr-verity, root-secondary, ...
  const m = /^(root|usr)(-secondary)?(-verity(-sig)?)?$/.exec(s);
  if (m) {
    const role = (m[1]! + (m[3] ?? '')) as PartitionRole;
    const arch = m[2] ? SECONDARY[native] : native;
    const row = arch ? byArchRole(arch, role) : undefined;
    if (row) return toType(row);
    return null;
  }
  const u = parseUuid(s);
  if (u) return typeFromUuid(u);
  return null;
}

/** --architecture=: replace root/usr(-verity(-sig)) types by the same role of ARCH. */
export function typeForArchitecture(t: PartitionType, arch: string): PartitionType {
  if (!t.role || !ARCH_ROLES.includes(t.role)) return t;
  const row = byArchRole(arch, t.role);
  return row ? toType(row) : t;
}

export function sameType(a: PartitionType, b: PartitionType): boolean {
  return uuidEqual(a.uuid, b.uuid);
}

/** The label prefix and %t: canonical name, or "linux" (label) / UUID string (%t) for unknown types. */
export function defaultLabelPrefix(t: PartitionType): string {
  return t.role ? t.name : 'linux';
}

const GENERIC_DESIGNATORS: PartitionRole[] = ['root', 'usr', 'home', 'srv', 'var', 'tmp', 'xbootldr'];

/** gpt_partition_type_knows_no_auto() */
export function knowsNoAuto(t: PartitionType): boolean {
  return t.role !== null && ([...GENERIC_DESIGNATORS, 'root-verity', 'usr-verity', 'swap'] as PartitionRole[]).includes(t.role);
}

/** gpt_partition_type_knows_read_only(); verity-sig types only from v262 on. */
export function knowsReadOnly(t: PartitionType, compat: Compat | number): boolean {
  if (t.role === null) return false;
  if (([...GENERIC_DESIGNATORS, 'root-verity', 'usr-verity'] as PartitionRole[]).includes(t.role)) return true;
  return asCompat(compat).veritySigReadOnly && (t.role === 'root-verity-sig' || t.role === 'usr-verity-sig');
}

/** gpt_partition_type_knows_growfs() */
export function knowsGrowFs(t: PartitionType): boolean {
  return t.role !== null && GENERIC_DESIGNATORS.includes(t.role);
}

export function isVerityHashType(t: PartitionType): boolean {
  return t.role === 'root-verity' || t.role === 'usr-verity';
}

export function isVeritySigType(t: PartitionType): boolean {
  return t.role === 'root-verity-sig' || t.role === 'usr-verity-sig';
}

/** Well-known mount points (used for root exclusions and validatefs). */
export function mountPointsOf(t: PartitionType): string[] {
  switch (t.role) {
    case 'root': return ['/'];
    case 'usr': return ['/usr'];
    case 'home': return ['/home'];
    case 'srv': return ['/srv'];
    case 'esp': return ['/efi', '/boot'];
    case 'xbootldr': return ['/boot'];
    case 'tmp': return ['/var/tmp'];
    case 'var': return ['/var'];
    default: return [];
  }
}
