/**
 * Kernel modules for an initramfs, without depmod or modprobe: Debian's kernel packages ship no
 * modules.dep (postinst runs depmod), so the dependencies are read where depmod reads them, from
 * each module's `.modinfo` ELF section (`depends=a,b`), and ordered so each module is loaded after
 * everything it depends on (busybox `insmod` does no resolution of its own).
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { RepartError } from '../errors.js';

export class ModuleError extends RepartError {
  constructor(message: string) {
    super('E_INITRAMFS', message);
    this.name = 'ModuleError';
  }
}

/** The NUL-separated key=value strings of an ELF64 little-endian object's `.modinfo` section. */
export function readModinfo(elf: Uint8Array, what = 'module'): Map<string, string[]> {
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (elf.length < 64 || dv.getUint32(0, false) !== 0x7f454c46) throw new ModuleError(`${what}: not an ELF file (compressed modules are not supported)`);
  if (elf[4] !== 2 || elf[5] !== 1) throw new ModuleError(`${what}: only ELF64 little-endian modules are supported`);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  if (shoff + shnum * shentsize > elf.length || shstrndx >= shnum) throw new ModuleError(`${what}: section headers out of range`);
  const sec = (i: number): { name: number; off: number; size: number } => {
    const b = shoff + i * shentsize;
    return { name: dv.getUint32(b, true), off: Number(dv.getBigUint64(b + 0x18, true)), size: Number(dv.getBigUint64(b + 0x20, true)) };
  };
  const strtab = sec(shstrndx);
  const cstr = (off: number): string => {
    let e = off;
    while (e < elf.length && elf[e] !== 0) e++;
    return new TextDecoder('latin1').decode(elf.subarray(off, e));
  };
  const out = new Map<string, string[]>();
  for (let i = 0; i < shnum; i++) {
    const s = sec(i);
    if (cstr(strtab.off + s.name) !== '.modinfo') continue;
    if (s.off + s.size > elf.length) throw new ModuleError(`${what}: .modinfo out of range`);
    for (const kv of new TextDecoder().decode(elf.subarray(s.off, s.off + s.size)).split('\0')) {
      const eq = kv.indexOf('=');
      if (eq <= 0) continue;
      const k = kv.slice(0, eq);
      out.set(k, [...(out.get(k) ?? []), kv.slice(eq + 1)]);
    }
    return out;
  }
  throw new ModuleError(`${what}: no .modinfo section`);
}

/** Module names treat '-' and '_' alike (the kernel does). */
export const moduleName = (s: string): string => path.basename(s).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');

/** name → path relative to the modules directory, for every .ko below it. */
export function indexModules(modulesDir: string): Map<string, string> {
  const idx = new Map<string, string>();
  const walk = (rel: string): void => {
    for (const e of readdirSync(path.join(modulesDir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (/\.ko(\.(xz|zst|gz))?$/.test(e.name)) idx.set(moduleName(e.name), r);
    }
  };
  walk('');
  return idx;
}

/** Names of modules built into the kernel (modules.builtin), which need no loading. */
export function builtinModules(modulesDir: string): Set<string> {
  try {
    return new Set(readFileSync(path.join(modulesDir, 'modules.builtin'), 'utf8').split('\n').filter(Boolean).map(moduleName));
  } catch {
    return new Set();
  }
}

export interface ResolvedModule {
  name: string;
  /** relative to the modules directory. */
  path: string;
  /** loaded only because `optional` asked for it: the initramfs may tolerate its failure. */
  optional: boolean;
}

/**
 * The modules to load for `wanted`, dependencies first. Built-in modules are skipped; a wanted
 * module that is neither built in nor present is an error unless `optional` lists it.
 */
export function resolveModules(modulesDir: string, wanted: readonly string[], optional: readonly string[] = []): ResolvedModule[] {
  const idx = indexModules(modulesDir);
  const builtin = builtinModules(modulesDir);
  const out: ResolvedModule[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  let optionalPass = false;
  const visit = (name: string, chain: string[]): void => {
    const n = moduleName(name);
    if (state.get(n) === 'done' || builtin.has(n)) return;
    if (state.get(n) === 'visiting') throw new ModuleError(`module dependency cycle: ${[...chain, n].join(' → ')}`);
    const rel = idx.get(n);
    if (!rel) throw new ModuleError(`module ${n} (needed by ${chain.join(' → ') || 'the initramfs'}) is neither built into the kernel nor in ${modulesDir}`);
    state.set(n, 'visiting');
    const info = readModinfo(readFileSync(path.join(modulesDir, rel)), rel);
    for (const dep of (info.get('depends') ?? []).join(',').split(',').filter(Boolean)) visit(dep, [...chain, n]);
    state.set(n, 'done');
    out.push({ name: n, path: rel, optional: optionalPass });
  };
  for (const w of wanted) visit(w, []);
  optionalPass = true;
  for (const w of optional) {
    const n = moduleName(w);
    if (idx.has(n)) visit(n, []);
  }
  return out;
}
