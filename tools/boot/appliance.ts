/**
 * The seed's "Appliance Image", built from test-images/appliance/<variant>/repart.d by repart-ts
 * or by the real systemd-repart: an ESP with systemd-boot, a loader entry, the kernel and our
 * initramfs; a root file system with a small userland and marker files; and a stand-in for a Nix
 * store path, placed as each variant of the seed places it.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { InitramfsBuilder } from '../../src/initramfs/builder.js';
import { resolveModules } from '../../src/initramfs/kmod.js';
import { ensureBootParts, type BootParts } from './debs.js';

function findRepo(): string {
  let d = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(d, 'package.json'))) {
    const up = path.dirname(d);
    if (up === d) throw new Error('repository root not found');
    d = up;
  }
  return d;
}

export const REPO = findRepo();
export const APPLIANCE_DIR = path.join(REPO, 'test-images/appliance');
export const REFERENCE = path.resolve(REPO, '../shared/tools/reference-repart');
export const CLI = path.join(REPO, 'dist/src/cli/main.js');
export const SEED = '0d1f1c4a-7a52-4e8b-9d47-3f6d2b7c9e10';
export const SOURCE_DATE_EPOCH = '1700000000';

export interface Variant {
  name: string;
  /** systemd-repart suite able to build it offline (Subvolumes= needs 258+). */
  suite: 'trixie' | 'sid';
  /** boottest.* kernel parameters telling /init where things are. */
  params: Record<string, string>;
}

export const VARIANTS: Record<string, Variant> = {
  // ESP + ext4 root labelled "nixos"; the store path lives inside the root, as storePaths= does.
  ext4: { name: 'ext4', suite: 'trixie', params: { root: 'nixos', rootfstype: 'ext4', esp: 'esp' } },
  // The seed's "Nix Store Subvolume": one btrfs root, subvolumes /@ (root) and /@nix-store.
  btrfs: {
    name: 'btrfs', suite: 'sid',
    params: { root: 'root', rootfstype: 'btrfs', rootflags: 'subvol=/@', store: 'root', storefstype: 'btrfs', storeflags: 'subvol=/@nix-store', esp: 'esp' },
  },
  // The seed's "Nix Store Partition": the store in its own partition, mounted on /nix/store.
  store: { name: 'store', suite: 'trixie', params: { root: 'nixos', rootfstype: 'ext4', store: 'nix-store', storefstype: 'ext4', esp: 'esp' } },
  // TODO(Minimize=guess): the seed's root uses Minimize=guess; repart-ts refuses it until it is
  // implemented, so the boot test skips this variant for repart-ts and boots the reference build.
  'ext4-minimize': { name: 'ext4-minimize', suite: 'trixie', params: { root: 'nixos', rootfstype: 'ext4', esp: 'esp' } },
};

/** A stand-in store path: a program run from the store, as a NixOS closure would be. */
const STORE_PATH = '/nix/store/0c6kzph7l0dcbfmjap64f0czdafn3b7x-boottest-1.0';

/** Kernel modules /init loads (with their dependencies); built-in ones are skipped. */
const MODULES = ['virtio_pci', 'virtio_blk', 'btrfs', 'vfat', 'nls_cp437', 'nls_ascii', 'nls_iso8859_1', 'nls_utf8'];
/** Loaded when the kernel has them (the generic kernel: SATA disks; faster crc32c). */
const OPTIONAL_MODULES = ['ahci', 'sd_mod', 'crc32c_intel', 'ext4'];

const sha256 = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

function write(p: string, data: string | Uint8Array, mode = 0o644): void {
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, data);
  chmodSync(p, mode);
}

/** The root file system's source tree (shared by all variants). */
function makeRootTree(dir: string, parts: BootParts): void {
  copyFileSync(parts.busybox, path.join(mkdirp(dir, 'bin'), 'busybox'));
  chmodSync(path.join(dir, 'bin/busybox'), 0o755);
  symlinkSync('busybox', path.join(dir, 'bin/sh'));
  write(path.join(dir, 'etc/boottest/marker'), 'repart-ts appliance: root file system marker\n');
  write(path.join(dir, 'etc/boottest/private'), 'only root may read this\n', 0o600);
  write(path.join(dir, 'usr/share/boottest/hardlink-a'), 'one inode, two names\n');
  linkSync(path.join(dir, 'usr/share/boottest/hardlink-a'), path.join(dir, 'usr/share/boottest/hardlink-b'));
  symlinkSync('../../usr/share/boottest/hardlink-a', path.join(dir, 'etc/boottest/marker-link'));
  mkdirp(dir, 'var');
  mkdirp(dir, 'nix/store');
}

function makeStoreTree(dir: string): void {
  const p = path.join(dir, path.basename(STORE_PATH));
  write(path.join(p, 'bin/hello'), '#!/bin/sh\necho store-ok\n', 0o555);
  write(path.join(p, 'share/boottest/marker'), 'repart-ts appliance: store path marker\n', 0o444);
}

function mkdirp(...p: string[]): string {
  const d = path.join(...p);
  mkdirSync(d, { recursive: true });
  return d;
}

/** sha256sum -c lines for every regular file below dir, paths relative to `prefix`. */
function checksums(dir: string, prefix: string): string {
  const lines: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) lines.push(`${sha256(path.join(dir, r))}  ${path.posix.join(prefix, r)}`);
    }
  };
  walk('');
  return lines.join('\n') + '\n';
}

export interface Initrd {
  bytes: Buffer;
  modules: string[];
}

export function buildInitrd(parts: BootParts, rootChecksums: string, espChecksums: string): Initrd {
  const mods = resolveModules(parts.modulesDir, MODULES, OPTIONAL_MODULES);
  const b = new InitramfsBuilder();
  b.file('bin/busybox', readFileSync(parts.busybox), 0o755);
  b.symlink('bin/sh', 'busybox');
  b.file('init', readFileSync(path.join(REPO, 'tools/boot/init.sh')), 0o755);
  // The kernel opens /dev/console for init before anything could mount devtmpfs.
  b.charDevice('dev/console', 5, 1, 0o600);
  for (const d of ['proc', 'sys', 'sysroot', 'esp', 'tmp']) b.dir(d);
  for (const m of mods) b.file(`lib/modules/${parts.kernelRelease}/${m.path}`, readFileSync(path.join(parts.modulesDir, m.path)));
  // '-' marks a module whose failure is tolerated (crc32c-intel needs SSE4.2, which TCG lacks).
  b.file('etc/boottest/modules', mods.map((m) => (m.optional ? '-' : '') + m.path).join('\n') + '\n');
  b.file('etc/boottest/root.sha256', rootChecksums);
  b.file('etc/boottest/esp.sha256', espChecksums);
  b.file('etc/boottest/store-program', `${STORE_PATH}/bin/hello`);
  return { bytes: gzipSync(b.build({ mtime: Number(SOURCE_DATE_EPOCH) }), { level: 6 }), modules: mods.map((m) => m.name) };
}

export interface Prepared {
  /** --root= for the definitions' CopyFiles= sources. */
  sources: string;
  definitions: string;
  initrd: Initrd;
}

/** Writes the source trees and a copy of the variant's definitions below `work`. */
export function prepare(variant: Variant, work: string, parts: BootParts = ensureBootParts()): Prepared {
  const sources = mkdirp(work, 'sources');
  const root = path.join(sources, 'rootfs');
  const store = path.join(sources, 'store');
  const esp = path.join(sources, 'esp');
  rmSync(sources, { recursive: true, force: true });
  makeRootTree(mkdirp(root), parts);
  makeStoreTree(mkdirp(store));
  copyFileSync(parts.systemdBoot, path.join(mkdirp(esp, 'EFI/BOOT'), 'BOOTX64.EFI'));
  copyFileSync(parts.vmlinuz, path.join(mkdirp(esp, 'appliance'), 'vmlinuz'));
  write(path.join(esp, 'boottest/Long File Name Marker.txt'), 'repart-ts appliance: ESP marker with a long name\n');
  write(path.join(esp, 'loader/loader.conf'), 'timeout 1\ndefault appliance.conf\n');
  const params = Object.entries({ variant: variant.name, ...variant.params }).map(([k, v]) => `boottest.${k}=${v}`).join(' ');
  write(path.join(esp, 'loader/entries/appliance.conf'),
    `title repart-ts appliance (${variant.name})\nlinux /appliance/vmlinuz\ninitrd /appliance/initrd.img\n` +
    `options console=ttyS0 panic=-1 ${params}\n`);
  const rootSums = checksums(root, '.') + checksums(store, `./nix/store`);
  const initrd = buildInitrd(parts, rootSums, checksums(esp, '.'));
  write(path.join(esp, 'appliance/initrd.img'), initrd.bytes);
  const definitions = path.join(work, 'repart.d');
  rmSync(definitions, { recursive: true, force: true });
  cpSync(path.join(APPLIANCE_DIR, variant.name, 'repart.d'), definitions, { recursive: true });
  return { sources, definitions, initrd };
}

export type Builder = 'repart-ts' | 'reference';

/**
 * systemd-repart 257 formats the 96M ESP with 4096-byte sectors as a FAT32 of 24496 clusters;
 * UEFI's FAT driver goes by the cluster count (FAT32 needs 65525+), takes it for FAT16 and
 * finds no file system, so OVMF never sees the boot loader. 258+ raises ESPs to 260 MiB at
 * 4096-byte sectors (as repart-ts does by default): 4096-byte images are built with sid.
 */
export function referenceSuite(variant: Variant, sectorSize: number): 'trixie' | 'sid' {
  return sectorSize >= 4096 ? 'sid' : variant.suite;
}

export interface BuildResult {
  ok: boolean;
  /** repart-ts declined the definitions (a Format= or key it does not support yet). */
  unsupported?: string;
  image: string;
  stderr: string;
  seconds: number;
}

const UNSUPPORTED = /is not supported by repart-ts yet|populating Format=\S+ is not supported yet|is not supported by repart-ts/;

export function buildImage(variant: Variant, builder: Builder, work: string, image: string, sectorSize = 512): BuildResult {
  const args = ['--offline=yes', '--empty=create', '--size=auto', `--seed=${SEED}`, '--dry-run=no',
    `--definitions=${path.relative(work, path.join(work, 'repart.d'))}`, `--root=${path.join(work, 'sources')}`,
    `--sector-size=${sectorSize}`, '--json=pretty', path.relative(work, image)];
  rmSync(image, { force: true });
  const env = { ...process.env, SOURCE_DATE_EPOCH };
  const t0 = Date.now();
  const r = builder === 'reference'
    ? spawnSync(REFERENCE, args, { cwd: work, encoding: 'utf8', env: { ...env, REFERENCE_SUITE: referenceSuite(variant, sectorSize) }, timeout: 15 * 60 * 1000 })
    : spawnSync(process.execPath, [CLI, ...args], { cwd: work, encoding: 'utf8', env, timeout: 15 * 60 * 1000 });
  const seconds = (Date.now() - t0) / 1000;
  const stderr = (r.stderr ?? '') + (r.error ? `\n${r.error.message}` : '');
  if (r.status === 0 && existsSync(image) && statSync(image).size > 0) return { ok: true, image, stderr, seconds };
  const m = builder === 'repart-ts' ? stderr.split('\n').find((l) => UNSUPPORTED.test(l)) : undefined;
  return { ok: false, unsupported: m?.trim(), image, stderr, seconds };
}
