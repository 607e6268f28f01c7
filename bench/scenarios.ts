/**
 * Benchmark scenarios: each prepares a deterministic source tree (test-images/gen-tree) and a
 * repart.d directory that both builders (repart-ts and the reference systemd-repart) run on.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from '../test-images/gen-tree.js';

export interface Scenario {
  name: string;
  description: string;
  /** creates tree(s) and definitions under dir; returns extra CLI args */
  prepare(dir: string, quick: boolean): Prepared;
  /** systemd-repart suite needed (sid for offline btrfs subvolumes) */
  suite?: 'trixie' | 'sid';
  /** not run with the reference (it cannot build it in useful time; the scenario measures memory) */
  noReference?: boolean;
  /** heavy scenarios run only when named (--scenario) */
  onlyWhenNamed?: boolean;
  /**
   * Also time repart-ts with its default tool set (262's: sid's e2fsprogs), beside the one that
   * matches the reference: where the reference cannot build the scenario, the default is what a
   * user gets, and the two e2fsprogs versions differ in per-file cost.
   */
  bothToolSets?: boolean;
}

export interface Prepared {
  args: string[];
  sourceBytes: number;
  sourceDir: string;
  /**
   * Several runs on the same image, timed together (nixpkgs' verityStore flow): extra arguments
   * per step; steps after the first run without --empty=create.
   */
  steps?: string[][];
  /** after step k (with its stdout), before step k+1: what happens between the runs */
  between?: (step: number, stdout: string) => void;
  /** directories outside dir the reference must see (REFERENCE_BIND) */
  bind?: string[];
}

const MiB = 1024 * 1024;

function closure(dir: string, bytes: number, files: number, seed = 7): { storePaths: string[]; bytes: number; root: string } {
  const root = path.join(dir, 'tree');
  const stamp = path.join(root, '.generated');
  const want = `${bytes}/${files}/${seed}`;
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== want) {
    generate('closure', root, seed, bytes, files);
    writeFileSync(stamp, want);
  }
  const storePaths = readFileSync(path.join(root, 'store-paths'), 'utf8').trim().split('\n');
  return { storePaths, bytes, root };
}

function conf(dir: string, name: string, lines: string[]): void {
  mkdirSync(path.join(dir, 'repart.d'), { recursive: true });
  writeFileSync(path.join(dir, 'repart.d', name), ['[Partition]', ...lines, ''].join('\n'));
}

/** An ESP source tree (boot loader, and the UKI as `uki`, if given) and its definition. */
function esp(dir: string, uki?: Buffer): string {
  const root = path.join(dir, 'esp');
  mkdirSync(path.join(root, 'EFI/BOOT'), { recursive: true });
  mkdirSync(path.join(root, 'EFI/Linux'), { recursive: true });
  writeFileSync(path.join(root, 'EFI/BOOT/BOOTX64.EFI'), Buffer.alloc(120 * 1024, 0x4d));
  if (uki) writeFileSync(path.join(root, 'EFI/Linux/nixos.efi'), uki);
  conf(dir, '00-esp.conf', ['Type=esp', 'Format=vfat', 'SizeMinBytes=96M', `CopyFiles=${root}:/`]);
  return root;
}

function sizeFor(bytes: number, factor = 1.35): string {
  return `${Math.ceil((bytes * factor + 96 * MiB) / MiB)}M`;
}

/** The issue-18 definitions for a real tree: a 96M vfat ESP + an ext4 root, Minimize=guess, CopyFiles=SRC:/usr. */
function usrImage(dir: string, src: string): void {
  esp(dir);
  conf(dir, '10-root.conf', ['Type=root', 'Format=ext4', 'Minimize=guess', `CopyFiles=${src}:/usr`]);
}

/** Bytes under a tree (du's apparent size; the floor and report only). */
function treeBytes(root: string): number {
  const r = spawnSync('du', ['-sb', root], { encoding: 'utf8' });
  return Number(r.stdout.split('\t')[0]) || 0;
}

/** A generated tree of `files` empty files (gen-tree 'empty'), made once. */
function emptyFiles(dir: string, files: number): string {
  const root = path.join(dir, 'tree');
  const stamp = path.join(dir, '.generated');
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== `empty/${files}`) { generate('empty', root, 1, 0, files); writeFileSync(stamp, `empty/${files}`); }
  return root;
}

const REFERENCE_TREES = path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'repart-reference');

export const SCENARIOS: Scenario[] = [
  {
    name: 'debian-usr',
    description: "Debian trixie's /usr (the reference tree's, ~231 MB, ~7k entries): 96M vfat ESP + ext4 root, Minimize=guess",
    prepare(dir) {
      // read-only: the reference's own tree, exposed to its chroot at the same path
      const src = path.join(REFERENCE_TREES, 'trixie/usr');
      if (!existsSync(src)) throw new Error(`${src} missing: run ../shared/tools/reference-repart --setup first`);
      usrImage(dir, src);
      return { args: ['--size=auto'], sourceBytes: treeBytes(src), sourceDir: src, bind: [src] };
    },
  },
  {
    name: 'distro-usr-lib',
    description: "the host's /usr/lib (Debian, ~3.9 GB, ~72k entries) as /usr: 96M vfat ESP + ext4 root, Minimize=guess",
    onlyWhenNamed: true,
    prepare(dir) {
      // A hard-linked copy (cp -al: no data copied, same file system): the reference's chroot
      // cannot see the host's /usr/lib at its own path (its /usr/lib would be covered).
      const src = path.join(dir, 'tree/usr');
      if (!existsSync(path.join(dir, '.generated'))) {
        rmSync(path.join(dir, 'tree'), { recursive: true, force: true });
        mkdirSync(path.join(dir, 'tree'), { recursive: true });
        const r = spawnSync('cp', ['-al', '/usr/lib', src], { stdio: 'inherit' });
        if (r.status !== 0) throw new Error('cp -al /usr/lib failed');
        writeFileSync(path.join(dir, '.generated'), 'cp -al /usr/lib');
      }
      usrImage(dir, src);
      return { args: ['--size=auto'], sourceBytes: treeBytes(src), sourceDir: src };
    },
  },
  {
    name: 'empty-200k',
    description: '200,000 empty files (1,000 a directory) as /usr: 96M vfat ESP + ext4 root, Minimize=guess',
    onlyWhenNamed: true,
    bothToolSets: true,
    prepare(dir) {
      usrImage(dir, emptyFiles(dir, 200_000));
      return { args: ['--size=auto'], sourceBytes: 0, sourceDir: dir };
    },
  },
  {
    name: 'empty-1m',
    description: '1,000,000 empty files as /usr (memory: peak RSS flat in the number of files); repart-ts only',
    onlyWhenNamed: true,
    noReference: true,
    bothToolSets: true,
    prepare(dir) {
      usrImage(dir, emptyFiles(dir, 1_000_000));
      return { args: ['--size=auto'], sourceBytes: 0, sourceDir: dir };
    },
  },
  {
    name: 'appliance',
    description: "the seed's appliance image: ESP (vfat) + ext4 root holding a store closure",
    prepare(dir, quick) {
      const c = closure(dir, quick ? 120 * MiB : 400 * MiB, quick ? 3000 : 12000);
      esp(dir, Buffer.alloc(40 * MiB, 0x5a));
      conf(dir, '10-root.conf', ['Type=root', 'Format=ext4', 'Label=nixos', `SizeMinBytes=${sizeFor(c.bytes)}`,
        ...c.storePaths.map((p) => `CopyFiles=${p}:/nix/store/${path.basename(p)}`)]);
      return { args: ['--size=auto'], sourceBytes: c.bytes + 40 * MiB, sourceDir: dir };
    },
  },
  {
    name: 'store-partition',
    description: 'a store-only ext4 partition (nixStorePrefix = "/")',
    prepare(dir, quick) {
      const c = closure(dir, quick ? 120 * MiB : 400 * MiB, quick ? 3000 : 12000);
      conf(dir, '10-store.conf', ['Type=linux-generic', 'Format=ext4', 'Label=nix-store', `SizeMinBytes=${sizeFor(c.bytes)}`,
        ...c.storePaths.map((p) => `CopyFiles=${p}:/${path.basename(p)}`)]);
      return { args: ['--size=auto'], sourceBytes: c.bytes, sourceDir: dir };
    },
  },
  {
    name: 'btrfs-subvolumes',
    description: 'btrfs root with Subvolumes=/@ /@nix-store, store nested under /@nix-store',
    suite: 'sid',
    prepare(dir, quick) {
      const c = closure(dir, quick ? 120 * MiB : 400 * MiB, quick ? 3000 : 12000);
      // Minimize=best: systemd-repart 262 shrinks btrfs itself (mkfs.btrfs --shrink); a fixed size
      // would have to guess btrfs's metadata needs for many small files
      conf(dir, '10-root.conf', ['Type=root', 'Format=btrfs', 'Label=root', 'Subvolumes=/@ /@nix-store', 'MakeDirectories=/@ /@nix-store',
        'Minimize=best', ...c.storePaths.map((p) => `CopyFiles=${p}:/@nix-store/${path.basename(p)}`)]);
      return { args: ['--size=auto'], sourceBytes: c.bytes, sourceDir: dir };
    },
  },
  {
    name: 'closure-2g',
    description: 'a large synthetic Nix closure (2 GB, 60,000 files) on ext4',
    prepare(dir, quick) {
      const c = closure(dir, quick ? 300 * MiB : 2048 * MiB, quick ? 8000 : 60000);
      conf(dir, '10-root.conf', ['Type=root', 'Format=ext4', `SizeMinBytes=${sizeFor(c.bytes)}`,
        ...c.storePaths.map((p) => `CopyFiles=${p}:/nix/store/${path.basename(p)}`)]);
      return { args: ['--size=auto'], sourceBytes: c.bytes, sourceDir: dir };
    },
  },
  {
    name: 'tiny-files',
    description: '50,000 tiny files on ext4',
    prepare(dir, quick) {
      const n = quick ? 10000 : 50000;
      const root = path.join(dir, 'tree');
      const stamp = path.join(dir, '.generated');
      if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== String(n)) { generate('tiny', root, 3, 0, n); writeFileSync(stamp, String(n)); }
      // ext4's default inode ratio is one inode per 16 KiB: size for the inodes, not the bytes
      conf(dir, '10-root.conf', ['Type=root', 'Format=ext4', `SizeMinBytes=${sizeFor(n * 16384 * 1.2, 1)}`, `CopyFiles=${root}:/`]);
      return { args: ['--size=auto'], sourceBytes: n * 150, sourceDir: dir };
    },
  },
  {
    name: 'minimize-guess',
    description: 'Minimize=guess ext4 root from a 224 MB / 7,000-file closure (repart formats it twice)',
    prepare(dir, quick) {
      const c = closure(dir, quick ? 100 * MiB : 224 * MiB, quick ? 3000 : 7000);
      conf(dir, '10-root.conf', ['Type=root', 'Format=ext4', 'Minimize=guess', ...c.storePaths.map((p) => `CopyFiles=${p}:/nix/store/${path.basename(p)}`)]);
      return { args: ['--size=auto'], sourceBytes: c.bytes, sourceDir: dir };
    },
  },
  {
    name: 'verity-store',
    description: "nixpkgs' verityStore: erofs store + dm-verity hash (Minimize=best), then the ESP with the UKI added in a second run",
    prepare(dir, quick) {
      const c = closure(dir, quick ? 120 * MiB : 400 * MiB, quick ? 3000 : 12000);
      const espRoot = esp(dir);
      conf(dir, '10-store-verity.conf', ['Type=usr-verity', 'Label=store-verity', 'Verity=hash', 'VerityMatchKey=store', 'Minimize=best']);
      conf(dir, '20-store.conf', ['Type=usr', 'Label=store', 'Format=erofs', 'Verity=data', 'VerityMatchKey=store', 'Minimize=best',
        ...c.storePaths.map((p) => `CopyFiles=${p}:/nix/store/${path.basename(p)}`)]);
      return {
        args: ['--size=auto', '--architecture=x86-64'], sourceBytes: c.bytes + 40 * MiB, sourceDir: dir,
        steps: [['--defer-partitions=esp', '--json=short'], []],
        // the UKI (a stand-in of a typical size) carries the store's root hash, as ukify would put it
        between: (_step, stdout) => {
          const hash = (JSON.parse(stdout) as { type: string; roothash?: string }[]).find((r) => r.type.endsWith('-verity'))?.roothash ?? 'none';
          const uki = Buffer.alloc(40 * MiB, 0x5a);
          uki.write(`usrhash=${hash}`, 0);
          writeFileSync(path.join(espRoot, 'EFI/Linux/nixos.efi'), uki);
        },
      };
    },
  },
  {
    name: 'gpt-only',
    description: 'partition table only (no file systems): the fixed cost of each builder',
    prepare(dir) {
      for (let i = 0; i < 8; i++) conf(dir, `${i}.conf`, [`Type=${['root', 'home', 'srv', 'var'][i % 4]}`, `SizeMinBytes=${16 + i}M`]);
      return { args: ['--size=auto'], sourceBytes: 0, sourceDir: dir };
    },
  },
];
