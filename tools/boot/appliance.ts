/**
 * The seed's "Appliance Image", built from test-images/appliance/<variant>/repart.d by repart-ts
 * or by the real systemd-repart: an ESP with systemd-boot, a loader entry, the kernel and our
 * initramfs; a root file system with a small userland and marker files; and a stand-in for a Nix
 * store path, placed as each variant of the seed places it — or, in the `verity` variant, in an
 * erofs checked by dm-verity, built in two steps as nixpkgs' image.repart.verityStore builds it;
 * the `encrypted` variant adds a /home in a LUKS2 container (Encrypt=key-file) that /init unlocks
 * with the host's cryptsetup.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, cpSync, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
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
  /**
   * A dm-verity protected store (usr + usr-verity partitions). Built as nixpkgs' verityStore
   * builds it: step 1 creates the image without the ESP (--defer-partitions=esp) and reports the
   * store's root hash; the loader entry and initramfs are then written with that hash, and step 2
   * (incremental: no --empty=create) adds the ESP into the space step 1 reserved for it.
   */
  verity?: boolean;
  /**
   * A LUKS2-encrypted home (Encrypt=key-file): both builders get --key-file=home.key and the
   * initramfs carries the key, the host's cryptsetup and the dm-crypt modules.
   */
  encrypted?: boolean;
  /** guest RAM in MiB, when the default is not enough (an argon2id keyslot of ~787 MiB). */
  memoryMiB?: number;
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
  // nixpkgs' image.repart.verityStore (00-esp, 10-store-verity, 20-store) plus an ext4 root: the
  // store is an erofs mounted through dm-verity with the root hash from the kernel command line
  // (boottest.usrhash=, added after the first build step). 257 formats erofs offline.
  verity: {
    name: 'verity', suite: 'trixie', verity: true,
    params: { root: 'nixos', rootfstype: 'ext4', store: 'store', storeverity: 'store-verity', storefstype: 'erofs', esp: 'esp' },
  },
  // The ext4 variant plus a home partition (Type=home, Label=home) encrypted with
  // Encrypt=key-file. systemd-repart 257 gives its keyslot argon2id with ~787 MiB of memory, which
  // cryptsetup needs in the guest to unlock it: 1.5 GiB of RAM.
  encrypted: { name: 'encrypted', suite: 'trixie', encrypted: true, memoryMiB: 1536, params: { root: 'nixos', rootfstype: 'ext4', home: 'home', esp: 'esp' } },
};

/** A stand-in store path: a program run from the store, as a NixOS closure would be. */
const STORE_PATH = '/nix/store/0c6kzph7l0dcbfmjap64f0czdafn3b7x-boottest-1.0';

/** Kernel modules /init loads (with their dependencies); built-in ones are skipped. */
const MODULES = ['virtio_pci', 'virtio_blk', 'btrfs', 'vfat', 'nls_cp437', 'nls_ascii', 'nls_iso8859_1', 'nls_utf8'];
/** Loaded when the kernel has them (the generic kernel: SATA disks; faster crc32c). */
const OPTIONAL_MODULES = ['ahci', 'sd_mod', 'crc32c_intel', 'ext4'];
/** The verity variant's store: device mapper, its verity target, erofs (modules in Debian's cloud kernel). */
const VERITY_MODULES = ['dm_mod', 'dm_verity', 'erofs'];

/**
 * busybox has no dmsetup: the host's (Debian: dmsetup, pulled in by cryptsetup-bin) goes into the
 * initramfs with the shared objects ldd names, each at its path.
 */
const DMSETUP_CANDIDATES = ['/usr/sbin/dmsetup', '/sbin/dmsetup'];

export function findDmsetup(): string | undefined {
  return [process.env.BOOT_DMSETUP, ...DMSETUP_CANDIDATES].find((p): p is string => !!p && existsSync(p));
}

/**
 * The encrypted variant: dm-crypt, xts (aes itself is built in), and the kernel's user-space
 * crypto API, through which cryptsetup decrypts the keyslot area.
 */
const CRYPT_MODULES = ['dm_mod', 'dm_crypt', 'xts', 'ecb', 'af_alg', 'algif_skcipher', 'algif_hash'];
/** AES-NI needs the CPU's aes flag (TCG's default CPU lacks it); the generic aes then serves. */
const CRYPT_OPTIONAL_MODULES = ['aesni_intel'];
/** busybox has no cryptsetup: the host's (Debian: cryptsetup-bin) goes in as dmsetup does. */
const CRYPTSETUP_CANDIDATES = ['/usr/sbin/cryptsetup', '/sbin/cryptsetup'];

export function findCryptsetup(): string | undefined {
  return [process.env.BOOT_CRYPTSETUP, ...CRYPTSETUP_CANDIDATES].find((p): p is string => !!p && existsSync(p));
}

/**
 * The fixed key of the encrypted variant's home (--key-file= of both builders, and in the
 * initramfs: a test appliance, no secret). Not a text line: cryptsetup uses a key file's bytes as
 * they are, newline included, so a trailing newline would only hide a mismatch.
 */
export const HOME_KEY = Buffer.from('repart-ts boot test: home key 0123456789abcdef');
/** Files in the home tree; /init checks them (ids 1000:1000 are the appliance's user). */
const HOME_USER = 'user';
export const HOME_MARKER = 'repart-ts appliance: encrypted home marker\n';

/** The program and every object the dynamic loader maps for it (absolute paths, loader included). */
function sharedObjects(program: string): string[] {
  const r = spawnSync('ldd', [program], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`ldd ${program} failed: ${(r.error?.message ?? r.stderr).trim()}`);
  const out: string[] = [];
  for (const line of r.stdout.split('\n')) {
    // "libfoo.so.1 => /lib/…/libfoo.so.1 (0x…)", or the loader alone: "/lib64/ld-linux-x86-64.so.2 (0x…)".
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) out.push(m[1]!);
  }
  if (!out.some((p) => /\/ld-linux[^/]*\.so/.test(p))) throw new Error(`ldd ${program} names no dynamic loader:\n${r.stdout}`);
  return out;
}

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

/** Numbered lines, so any offset in the file is unique in the image (the verity test flips one). */
export const STORE_BLOB_LINE = (i: number): string => `repart-ts appliance: store blob line ${String(i).padStart(6, '0')}\n`;
/** 256 KiB: big enough for full data blocks (not inlined by erofs) and a hash tree of several levels. */
const STORE_BLOB_LINES = 256 * 1024 / STORE_BLOB_LINE(0).length;

function makeStoreTree(dir: string): void {
  const p = path.join(dir, path.basename(STORE_PATH));
  write(path.join(p, 'bin/hello'), '#!/bin/sh\necho store-ok\n', 0o555);
  write(path.join(p, 'share/boottest/marker'), 'repart-ts appliance: store path marker\n', 0o444);
  write(path.join(p, 'share/boottest/blob'), Array.from({ length: STORE_BLOB_LINES }, (_, i) => STORE_BLOB_LINE(i)).join(''), 0o444);
}

/** The home partition's tree: a user's directory with markers, private files and a program. */
function makeHomeTree(dir: string): void {
  const u = path.join(dir, HOME_USER);
  write(path.join(u, 'marker'), HOME_MARKER);
  write(path.join(u, '.ssh/authorized_keys'), 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBoottestBoottestBoottestBoottest user@appliance\n', 0o600);
  chmodSync(path.join(u, '.ssh'), 0o700);
  write(path.join(u, 'bin/hello-home'), '#!/bin/sh\necho home-ok\n', 0o755);
  // Several blocks of numbered lines: file data beyond the inode, spread over the container.
  write(path.join(u, 'notes.txt'), Array.from({ length: 4096 }, (_, i) => `home note ${String(i).padStart(5, '0')}\n`).join(''));
  // Owned by the user, as a home is (CopyFiles= keeps ids); only root can give files away.
  if (homeOwner() !== '0:0') {
    for (const p of [u, path.join(u, '.ssh'), path.join(u, '.ssh/authorized_keys'), path.join(u, 'bin'), path.join(u, 'bin/hello-home'), path.join(u, 'marker'), path.join(u, 'notes.txt')]) {
      chownSync(p, 1000, 1000);
    }
  }
}

const homeOwner = (): string => (process.getuid?.() === 0 ? '1000:1000' : '0:0');

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

export interface InitrdHome {
  /** sha256sum lines of the home tree, relative to the home's mount point. */
  checksums: string;
  /** the key cryptsetup gets (the negative test passes a wrong one). */
  key: Uint8Array;
}

export function buildInitrd(parts: BootParts, rootChecksums: string, espChecksums: string, opts: { verity?: boolean; home?: InitrdHome } = {}): Initrd {
  const mods = resolveModules(parts.modulesDir,
    [...MODULES, ...(opts.verity ? VERITY_MODULES : []), ...(opts.home ? CRYPT_MODULES : [])],
    [...OPTIONAL_MODULES, ...(opts.home ? CRYPT_OPTIONAL_MODULES : [])]);
  const b = new InitramfsBuilder();
  const programs: [string, string][] = [];
  const objects = new Set<string>();
  if (opts.verity) {
    const dmsetup = findDmsetup();
    if (!dmsetup) throw new Error(`the verity variant needs the host's dmsetup (${DMSETUP_CANDIDATES.join(', ')}; Debian: dmsetup)`);
    programs.push(['usr/sbin/dmsetup', dmsetup]);
  }
  if (opts.home) {
    const cryptsetup = findCryptsetup();
    if (!cryptsetup) throw new Error(`the encrypted variant needs the host's cryptsetup (${CRYPTSETUP_CANDIDATES.join(', ')}; Debian: cryptsetup-bin)`);
    programs.push(['usr/sbin/cryptsetup', cryptsetup]);
    // libargon2's threads end with pthread_exit, for which glibc dlopens libgcc_s (ldd does not
    // list it): without it an argon2id keyslot aborts cryptsetup.
    const gcc = path.join(path.dirname(sharedObjects(cryptsetup).find((so) => /\/libc\.so\.6$/.test(so)) ?? '/lib/x86_64-linux-gnu/libc.so.6'), 'libgcc_s.so.1');
    if (existsSync(gcc)) objects.add(gcc);
    b.file('etc/boottest/home.key', opts.home.key, 0o400);
    b.file('etc/boottest/home.sha256', opts.home.checksums);
    b.file('etc/boottest/home-owner', homeOwner());
    for (const d of ['run/cryptsetup', 'home']) b.dir(d);
  }
  for (const [at, program] of programs) {
    b.file(at, readFileSync(program), 0o755);
    for (const so of sharedObjects(program)) objects.add(so);
  }
  // Regular files at the paths ldd printed (readFileSync follows the host's symlinks).
  for (const so of objects) b.file(so, readFileSync(so), 0o755);
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
  variant: Variant;
  work: string;
  /** --root= for the definitions' CopyFiles= sources. */
  sources: string;
  definitions: string;
  parts: BootParts;
  /** sha256sum lines of the root (and store) tree, for /init. */
  rootChecksums: string;
  /** set once the ESP is complete: at once, or after the first build step of a verity variant. */
  initrd?: Initrd;
  /** encrypted variants: the key file both builders get (--key-file=), and /init's checks of home. */
  keyFile?: string;
  home?: InitrdHome;
}

export interface PrepareOptions {
  /** encrypted variants: the key put into the initramfs instead of the one the image is built with. */
  initrdKey?: Uint8Array;
}

/**
 * Writes the source trees and a copy of the variant's definitions below `work`. The ESP is
 * completed here, except for verity variants: their loader entry needs the store's root hash,
 * which only the first build step knows (buildImage calls finishEsp then).
 */
export function prepare(variant: Variant, work: string, parts: BootParts = ensureBootParts(), opts: PrepareOptions = {}): Prepared {
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
  const definitions = path.join(work, 'repart.d');
  rmSync(definitions, { recursive: true, force: true });
  cpSync(path.join(APPLIANCE_DIR, variant.name, 'repart.d'), definitions, { recursive: true });
  let rootSums = checksums(root, '.');
  // With a usr partition in the image, repart copies nothing into the root's /usr (it is that
  // partition's mount point); /init checks it is empty instead.
  if (variant.verity) rootSums = rootSums.split('\n').filter((l) => !/^\S+ {2}usr\//.test(l)).join('\n');
  const p: Prepared = { variant, work, sources, definitions, parts, rootChecksums: rootSums + checksums(store, './nix/store') };
  if (variant.encrypted) {
    const home = path.join(sources, 'home');
    makeHomeTree(mkdirp(home));
    p.keyFile = path.join(work, 'home.key');
    write(p.keyFile, HOME_KEY, 0o600);
    p.home = { checksums: checksums(home, '.'), key: opts.initrdKey ?? HOME_KEY };
  }
  if (!variant.verity) finishEsp(p);
  return p;
}

/** The loader entry (with `extra` boottest.* parameters) and the initramfs, which checks the ESP as it is now. */
export function finishEsp(p: Prepared, extra: Record<string, string> = {}): Initrd {
  const esp = path.join(p.sources, 'esp');
  const params = Object.entries({ variant: p.variant.name, ...p.variant.params, ...extra }).map(([k, v]) => `boottest.${k}=${v}`).join(' ');
  write(path.join(esp, 'loader/entries/appliance.conf'),
    `title repart-ts appliance (${p.variant.name})\nlinux /appliance/vmlinuz\ninitrd /appliance/initrd.img\n` +
    `options console=ttyS0 panic=-1 ${params}\n`);
  rmSync(path.join(esp, 'appliance/initrd.img'), { force: true });
  p.initrd = buildInitrd(p.parts, p.rootChecksums, checksums(esp, '.'), { verity: p.variant.verity, home: p.home });
  write(path.join(esp, 'appliance/initrd.img'), p.initrd.bytes);
  return p.initrd;
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
  /** verity variants: the usr-verity partition's roothash reported by step 1. */
  usrhash?: string;
  /** verity variants: the seconds of step 1 and step 2. */
  steps?: number[];
}

const UNSUPPORTED = /is not supported by repart-ts yet|populating Format=\S+ is not supported yet|is not supported by repart-ts/;

/** One entry of systemd-repart's --json output (the fields used here). */
interface JsonPartition { type: string; label: string; roothash?: string | null }

export function buildImage(p: Prepared, builder: Builder, image: string, sectorSize = 512): BuildResult {
  const { variant, work } = p;
  const common = ['--size=auto', `--seed=${SEED}`, '--dry-run=no',
    `--definitions=${path.relative(work, p.definitions)}`, `--root=${p.sources}`,
    `--sector-size=${sectorSize}`, '--json=pretty', ...(p.keyFile ? [`--key-file=${path.relative(work, p.keyFile)}`] : [])];
  const imageArg = path.relative(work, image);
  rmSync(image, { force: true });
  const env = { ...process.env, SOURCE_DATE_EPOCH };
  const run = (args: string[]): { status: number | null; stdout: string; stderr: string; seconds: number } => {
    const t0 = Date.now();
    const r = builder === 'reference'
      ? spawnSync(REFERENCE, args, { cwd: work, encoding: 'utf8', env: { ...env, REFERENCE_SUITE: referenceSuite(variant, sectorSize) }, timeout: 15 * 60 * 1000 })
      : spawnSync(process.execPath, [CLI, ...args], { cwd: work, encoding: 'utf8', env, timeout: 15 * 60 * 1000 });
    return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? `\n${r.error.message}` : ''), seconds: (Date.now() - t0) / 1000 };
  };
  const failed = (stderr: string, seconds: number, refusal: boolean): BuildResult => {
    const m = refusal && builder === 'repart-ts' ? stderr.split('\n').find((l) => UNSUPPORTED.test(l)) : undefined;
    return { ok: false, unsupported: m?.trim(), image, stderr, seconds };
  };
  const built = (): boolean => existsSync(image) && statSync(image).size > 0;

  if (!variant.verity) {
    const r = run(['--offline=yes', '--empty=create', ...common, imageArg]);
    if (r.status === 0 && built()) return { ok: true, image, stderr: r.stderr, seconds: r.seconds };
    return failed(r.stderr, r.seconds, true);
  }

  // Step 1, nixpkgs' intermediateImage: everything but the ESP, whose space is reserved.
  const s1 = run(['--offline=yes', '--empty=create', ...common, '--defer-partitions=esp', imageArg]);
  if (s1.status !== 0 || !built()) return failed(`step 1 (--empty=create --defer-partitions=esp):\n${s1.stderr}`, s1.seconds, true);
  let usrhash: string | undefined;
  try {
    const hashPart = (JSON.parse(s1.stdout) as JsonPartition[]).find((e) => /^usr-.*-verity$/.test(e.type));
    usrhash = hashPart?.roothash ?? undefined;
  } catch (e) {
    return failed(`step 1 printed no JSON (${(e as Error).message}):\n${s1.stdout}\n${s1.stderr}`, s1.seconds, false);
  }
  if (!usrhash || !/^[0-9a-f]{64}$/.test(usrhash)) return failed(`step 1 reported no usr-verity roothash:\n${s1.stdout}`, s1.seconds, false);
  // nixpkgs' uki: the hash goes on the kernel command line, then the ESP gets its contents.
  finishEsp(p, { usrhash });
  // Step 2, nixpkgs' finalImage: the same image, incrementally (no --empty=create), ESP included.
  const s2 = run(['--offline=yes', ...common, imageArg]);
  const seconds = s1.seconds + s2.seconds;
  const stderr = `step 1:\n${s1.stderr}\nstep 2:\n${s2.stderr}`;
  // A step-2 failure is never a skip: the definitions passed step 1, so incremental mode broke.
  if (s2.status !== 0) return failed(`step 2 (incremental, adds the ESP) exited with ${s2.status}:\n${s2.stderr}`, seconds, false);
  return { ok: true, image, stderr, seconds, usrhash, steps: [s1.seconds, s2.seconds] };
}
