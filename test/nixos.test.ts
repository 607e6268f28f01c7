/** The NixOS image.repart JSON layer: definitions as nixpkgs writes them, and bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { builderArgs, definitionText, imageBaseName, parseNixosConfig } from '../src/nixos/config.js';
import { RepartError } from '../src/errors.js';

function withConfig(cfg: unknown, fn: (file: string, dir: string) => void): void {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-nixos-'));
  try {
    const store = path.join(dir, 'nix/store');
    for (const p of ['aaaa-glibc', 'bbbb-bash', 'cccc-with:colon']) mkdirSync(path.join(store, p), { recursive: true });
    writeFileSync(path.join(dir, 'store-paths'), `${store}/aaaa-glibc\n${store}/bbbb-bash\n\n`);
    const file = path.join(dir, 'image.json');
    writeFileSync(file, JSON.stringify(cfg).replaceAll('%STORE%', store).replaceAll('%DIR%', dir));
    fn(file, dir);
  } finally { rmSync(dir, { recursive: true, force: true }); }
}

test('nixStorePrefix rewrites closure paths; partitions sorted by name; contents become CopyFiles', () => {
  withConfig({
    name: 'appliance', version: '1.2', storeDir: '%STORE%',
    partitions: {
      root: { storePaths: ['%STORE%/cccc-with:colon'], closure: 'store-paths', repartConfig: { Type: 'root', Format: 'btrfs', Subvolumes: '/@ /@nix-store', MakeDirectories: ['/@', '/@nix-store'] }, nixStorePrefix: '/@nix-store' },
      esp: { contents: { '/EFI/BOOT/BOOTX64.EFI': { source: 'boot.efi' } }, repartConfig: { Type: 'esp', Format: 'vfat', SizeMinBytes: '96M' } },
      store: { closure: '%DIR%/store-paths', nixStorePrefix: '/', repartConfig: { Type: 'linux-generic', Label: 'nix-store', ReadOnly: true } },
    },
  }, (file, dir) => {
    const cfg = parseNixosConfig(file);
    assert.deepEqual(cfg.partitions.map(([n]) => n), ['esp', 'root', 'store']);
    assert.equal(imageBaseName(cfg), 'appliance_1.2');
    assert.equal(cfg.mapOwnersToRoot, true);
    const [esp, root, store] = cfg.partitions.map(([n, p]) => definitionText(cfg, n, p));
    const s = path.join(dir, 'nix/store');
    assert.equal(esp, `[Partition]\nType=esp\nFormat=vfat\nSizeMinBytes=96M\nCopyFiles=${dir}/boot.efi:/EFI/BOOT/BOOTX64.EFI\n`);
    assert.equal(root, `[Partition]\nType=root\nFormat=btrfs\nSubvolumes=/@ /@nix-store\nMakeDirectories=/@\nMakeDirectories=/@nix-store\n` +
      `CopyFiles=${s}/cccc-with\\x3acolon:/@nix-store/cccc-with\\x3acolon\nCopyFiles=${s}/aaaa-glibc:/@nix-store/aaaa-glibc\nCopyFiles=${s}/bbbb-bash:/@nix-store/bbbb-bash\n`);
    assert.equal(store, `[Partition]\nType=linux-generic\nLabel=nix-store\nReadOnly=yes\nCopyFiles=${s}/aaaa-glibc:/aaaa-glibc\nCopyFiles=${s}/bbbb-bash:/bbbb-bash\n`);
    assert.deepEqual(builderArgs(cfg, 'repart.d', 'appliance_1.2.raw', 'x86-64'), [
      '--architecture=x86-64', '--dry-run=no', '--size=auto', '--seed=0867da16-f251-457d-a9e8-c31f9a3c220b', '--definitions=repart.d',
      '--split=false', '--json=pretty', '--empty=create', 'appliance_1.2.raw']);
  });
});

const BAD: [string, unknown, RegExp][] = [
  ['relative nixStorePrefix', { partitions: { a: { nixStorePrefix: 'nix', repartConfig: { Type: 'root' } } } }, /nixStorePrefix: must be an absolute path/],
  ['target escaping with ..', { partitions: { a: { contents: { '/../etc/passwd': { source: '/etc/hosts' } }, repartConfig: { Type: 'root' } } } }, /escapes the file system/],
  ['missing Type', { partitions: { a: { repartConfig: { Format: 'ext4' } } } }, /Type is required/],
  ['bad seed', { seed: 'nope', partitions: {} }, /seed: not a UUID/],
  ['bad compression', { compression: { enable: true, algorithm: 'lz4' }, partitions: {} }, /must be zstd or xz/],
];
for (const [name, cfg, re] of BAD) {
  test(`bad NixOS configuration: ${name}`, () => {
    withConfig(cfg, (file) => assert.throws(() => parseNixosConfig(file), (e: unknown) => e instanceof RepartError && re.test(e.message) && e.message.includes(file)));
  });
}

test('bad closures: garbage lines and paths outside the store are refused with the line number', () => {
  withConfig({ storeDir: '%STORE%', partitions: { a: { closure: 'bad-paths', repartConfig: { Type: 'root' } } } }, (file, dir) => {
    writeFileSync(path.join(dir, 'bad-paths'), `${dir}/nix/store/aaaa-glibc\nhello world\n`);
    const cfg = parseNixosConfig(file);
    assert.throws(() => definitionText(cfg, 'a', cfg.partitions[0]![1]), /line 2 is not a store path/);
  });
  withConfig({ storeDir: '%STORE%', partitions: { a: { storePaths: ['/etc'], repartConfig: { Type: 'root' } } } }, (file) => {
    const cfg = parseNixosConfig(file);
    assert.throws(() => definitionText(cfg, 'a', cfg.partitions[0]![1]), /is not in the store/);
  });
  withConfig({ storeDir: '%STORE%', partitions: { a: { storePaths: ['%STORE%/zzzz-missing'], repartConfig: { Type: 'root' } } } }, (file) => {
    const cfg = parseNixosConfig(file);
    assert.throws(() => definitionText(cfg, 'a', cfg.partitions[0]![1]), /store path .*zzzz-missing does not exist/);
  });
});
