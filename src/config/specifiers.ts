/**
 * systemd specifier expansion (specifier_printf() with the system + tmp tables repart uses).
 * Values that need the host or --root are read lazily, once.
 */
import { MACHINE_ID_MAX, OS_RELEASE_MAX, readSmallFile } from '../io/read-small.js';
import { hostPathIn } from '../tree/chase.js';
import os from 'node:os';

export interface SpecifierContext {
  /** --root= (os-release, machine-id are read below it) */
  root?: string;
  /** extra specifiers (SplitName=: %t %T %U %n) */
  extra?: Record<string, string>;
}

export class SpecifierError extends Error {}

function readOsRelease(root: string): Map<string, string> | null {
  for (const p of ['etc/os-release', 'usr/lib/os-release']) {
    try {
      // inside --root, links resolved inside it; bounded (os-release linked to /dev/zero)
      const text = readSmallFile(hostPathIn(root, p), { what: 'os-release', max: OS_RELEASE_MAX }).toString('utf8');
      const m = new Map<string, string>();
      for (const line of text.split('\n')) {
        const mm = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
        if (!mm) continue;
        let v = mm[2]!.trim();
        if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
        m.set(mm[1]!, v.replace(/\\(.)/g, '$1'));
      }
      return m;
    } catch {
      /* try next */
    }
  }
  return null;
}

function readId(file: string): string {
  try {
    return readSmallFile(file, { what: 'ID file', max: MACHINE_ID_MAX }).toString('utf8').trim().replace(/-/g, '');
  } catch {
    throw new SpecifierError(`cannot read ${file}`);
  }
}

const ARCH_UNAME: Record<string, string> = { x64: 'x86-64', arm64: 'arm64', ia32: 'x86', arm: 'arm', riscv64: 'riscv64', ppc64: 'ppc64-le', s390x: 's390x', loong64: 'loongarch64' };

function lookup(c: string, ctx: SpecifierContext): string {
  const root = ctx.root ?? '/';
  const osr = (key: string): string => {
    const m = readOsRelease(root);
    if (!m) throw new SpecifierError('no os-release file');
    return m.get(key) ?? '';
  };
  switch (c) {
    case 'a': return ARCH_UNAME[process.arch] ?? process.arch;
    case 'A': return osr('IMAGE_VERSION');
    case 'B': return osr('BUILD_ID');
    case 'M': return osr('IMAGE_ID');
    case 'o': return osr('ID');
    case 'w': return osr('VERSION_ID');
    case 'W': return osr('VARIANT_ID');
    case 'b': return readId('/proc/sys/kernel/random/boot_id');
    case 'H': return os.hostname();
    case 'l': return os.hostname().split('.')[0]!;
    case 'q': {
      try {
        const m = /^PRETTY_HOSTNAME=(.*)$/m.exec(readSmallFile('/etc/machine-info', { what: 'machine-info', max: OS_RELEASE_MAX }).toString('utf8'));
        if (m) return m[1]!.replace(/^"|"$/g, '');
      } catch { /* fall back */ }
      return os.hostname();
    }
    case 'm': {
      try {
        return readId(hostPathIn(root, 'etc/machine-id'));
      } catch {
        return readId('/etc/machine-id');
      }
    }
    case 'v': return os.release();
    case 'T': return process.env.TMPDIR || process.env.TEMP || process.env.TMP || '/tmp';
    case 'V': return process.env.TMPDIR || process.env.TEMP || process.env.TMP || '/var/tmp';
    default: throw new SpecifierError(`unknown specifier %${c}`);
  }
}

/** Expands %X specifiers; unknown letters/digits are an error, other characters stay literal. */
export function expandSpecifiers(s: string, ctx: SpecifierContext = {}): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '%' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const n = s[++i]!;
    if (n === '%') out += '%';
    else if (ctx.extra && ctx.extra[n] !== undefined) out += ctx.extra[n];
    else if (/[A-Za-z0-9]/.test(n)) out += lookup(n, ctx);
    else out += '%' + n;
  }
  return out;
}
