/**
 * The Debian pieces of the appliance (kernel, systemd-boot, busybox), fetched with `apt-get
 * download` and unpacked with `dpkg-deb -x` into a cache: no root, no installation on the host.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CACHE_DIR = process.env.REPART_TS_BOOT_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'repart-ts-boot');

/**
 * Debian's cloud kernel: half the size of linux-image-amd64, NVMe and ext4 built in, virtio-blk,
 * btrfs and vfat as modules. It has no AHCI driver, so the disk is attached as virtio-blk.
 */
export const KERNEL_PACKAGE = process.env.BOOT_KERNEL_PACKAGE ?? 'linux-image-cloud-amd64';

export class FetchError extends Error {
  override name = 'FetchError';
}

function run(cmd: string, args: string[], cwd?: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8' });
  if (r.error) throw new FetchError(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new FetchError(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`);
  return r.stdout;
}

/** A metapackage such as linux-image-cloud-amd64 → the versioned package it depends on. */
function resolveMeta(pkg: string): string {
  const out = run('apt-cache', ['depends', pkg]);
  const dep = out.split('\n').map((l) => /^\s*Depends:\s*(linux-image-\S+)/.exec(l)?.[1]).find(Boolean);
  return dep ?? pkg;
}

let updated = false;
function download(pkg: string, dir: string): string {
  const find = (): string | undefined => readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  const have = find();
  if (have) return path.join(dir, have);
  try {
    run('apt-get', ['download', '-q', pkg], dir);
  } catch (e) {
    // Fresh containers ship without package lists; refresh once and retry.
    if (updated || process.getuid?.() !== 0) throw e;
    updated = true;
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['download', '-q', pkg], dir);
  }
  const got = find();
  if (!got) throw new FetchError(`apt-get download ${pkg} left no .deb in ${dir}`);
  return path.join(dir, got);
}

export interface BootParts {
  kernelRelease: string;
  vmlinuz: string;
  modulesDir: string;
  systemdBoot: string;
  busybox: string;
}

/** Downloads and unpacks once; later calls only look into the cache (so they work offline). */
export function ensureBootParts(cacheDir = CACHE_DIR): BootParts {
  const tree = path.join(cacheDir, `tree-${KERNEL_PACKAGE}`);
  if (!existsSync(path.join(tree, '.complete'))) {
    const debs = path.join(cacheDir, 'debs');
    mkdirSync(debs, { recursive: true });
    const files = [resolveMeta(KERNEL_PACKAGE), 'systemd-boot-efi', 'busybox-static'].map((p) => download(p, debs));
    const tmp = `${tree}.partial-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    for (const f of files) run('dpkg-deb', ['-x', f, tmp]);
    writeFileSync(path.join(tmp, '.complete'), files.map((f) => path.basename(f)).join('\n') + '\n');
    rmSync(tree, { recursive: true, force: true });
    renameSync(tmp, tree);
  }
  const boot = path.join(tree, 'boot');
  const vmlinuz = readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
  if (!vmlinuz) throw new FetchError(`no vmlinuz-* in ${boot}`);
  const kernelRelease = vmlinuz.slice('vmlinuz-'.length);
  const parts: BootParts = {
    kernelRelease,
    vmlinuz: path.join(boot, vmlinuz),
    modulesDir: path.join(tree, 'lib/modules', kernelRelease),
    systemdBoot: path.join(tree, 'usr/lib/systemd/boot/efi/systemd-bootx64.efi'),
    busybox: path.join(tree, 'bin/busybox'),
  };
  for (const p of [parts.modulesDir, parts.systemdBoot, parts.busybox]) if (!existsSync(p)) throw new FetchError(`unpacked packages lack ${p}`);
  return parts;
}
