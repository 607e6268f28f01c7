/**
 * The synthetic Nix store and the NixOS configurations shared by the repart-ts build tests
 * (test/nixos-build.test.ts) and their comparisons with systemd-repart (test/oracle/nixos-build.test.ts).
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generate } from '../../test-images/gen-tree.js';

export const EPOCH = 1700000000;

/** A closure of 11 store paths (6 MiB, 400 files) with its store-paths file, in a new directory. */
export function makeStore(): { dir: string; store: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-nixos-'));
  generate('closure', path.join(dir, 'store-root'), 11, 6 * 1024 * 1024, 400);
  return { dir, store: path.join(dir, 'store-root/nix/store') };
}

/** nixpkgs' verityStore example: an ESP, the store on erofs under dm-verity; the UKI is faked. */
export function nixosVerityConfig(dir: string, store: string, efi: string): Record<string, unknown> {
  return {
    name: 'image', storeDir: store, split: true, architecture: 'x86-64',
    // the UKI at the top of the ESP: systemd-repart 257 copies ESP sub-directories in its staging
    // directory's readdir order (not reproducible), so the oracle test keeps one entry per sub-directory
    verityStore: { enable: true, ukiPath: '/image.efi', ukiCommand: ['sh', '-c', 'printf "fake UKI usrhash=%s\\n" "$USRHASH" >"$UKI_OUT" && touch -d @1700000000 "$UKI_OUT"'] },
    partitions: {
      '00-esp': { contents: { '/EFI/BOOT/BOOTX64.EFI': { source: efi } }, repartConfig: { Type: 'esp', Format: 'vfat', SizeMinBytes: '300M' } },
      '20-store': { closure: path.join(dir, 'store-root/store-paths'), nixStorePrefix: '/', repartConfig: { Minimize: 'best' } },
      '10-store-verity': { repartConfig: { Minimize: 'best' } },
    },
  };
}
