/**
 * Images that boot: the seed's appliance image (test-images/appliance) started by real UEFI
 * firmware (OVMF) under QEMU. systemd-boot loads the kernel and our initramfs from the ESP;
 * /init finds the partitions by GPT label, mounts them with the kernel's own drivers, checks
 * contents, modes, links and programs, and prints BOOTTEST-OK on the serial console.
 *
 * Each case is built twice: by the real systemd-repart (proving the boot chain itself) and by
 * repart-ts. repart-ts cases skip, naming the reason, while repart-ts refuses the definitions
 * (a Format= or key it does not implement yet). Serial logs of failed boots are kept in
 * test-artifacts/boot/. The verity variant is built in nixpkgs' two steps (the second one
 * incremental); a failure of the second step fails the test, it is never a skip. The encrypted
 * variant's home is a LUKS2 container (Encrypt=key-file) that the real cryptsetup must unlock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HOME_KEY, HOME_MARKER, REPO, STORE_BLOB_LINE, VARIANTS, buildImage, findCryptsetup, findDmsetup, prepare, referenceSuite, type Builder, type PrepareOptions, type Variant } from '../../tools/boot/appliance.js';
import { ensureBootParts, type BootParts } from '../../tools/boot/debs.js';
import { boot, qemuSkipReason } from '../../tools/boot/qemu.js';
import { referenceSkipReason } from '../helpers/reference.js';

const ARTIFACTS = path.join(REPO, 'test-artifacts/boot');
const TIMEOUT_S = Number(process.env.BOOT_TIMEOUT ?? 180);

/** Every variant once at 512-byte sectors; 4096-byte sectors for the plain ext4 image only (CI time). */
const CASES: { variant: string; sectorSize: 512 | 4096 }[] = [
  { variant: 'ext4', sectorSize: 512 },
  { variant: 'ext4', sectorSize: 4096 },
  { variant: 'btrfs', sectorSize: 512 },
  { variant: 'store', sectorSize: 512 },
  { variant: 'ext4-minimize', sectorSize: 512 },
  // nixpkgs' verityStore: two build steps (the second incremental), store read through dm-verity.
  { variant: 'verity', sectorSize: 512 },
  // Encrypt=key-file: /home in LUKS2, unlocked in the initramfs by the host's cryptsetup.
  { variant: 'encrypted', sectorSize: 512 },
];

let parts: BootParts | undefined;
let skipAll = qemuSkipReason();
if (!skipAll) {
  try {
    parts = ensureBootParts();
  } catch (e) {
    skipAll = `cannot get the Debian kernel/systemd-boot/busybox packages: ${(e as Error).message}`;
  }
}

function builderSkip(builder: Builder, suite: 'trixie' | 'sid', variant: Variant): string | null {
  if (skipAll) return skipAll;
  if (variant.verity && !findDmsetup()) return 'the verity variant puts the host\'s dmsetup into the initramfs: install dmsetup';
  if (variant.encrypted && !findCryptsetup()) return 'the encrypted variant puts the host\'s cryptsetup into the initramfs: install cryptsetup-bin';
  if (builder === 'reference') {
    const r = referenceSkipReason(suite);
    return r && `the reference build needs the real systemd-repart: ${r}`;
  }
  return null;
}

async function buildAndBoot(t: { skip: (m: string) => void }, variantName: string, builder: Builder, sectorSize: 512 | 4096,
  tamper?: (image: string) => void, prepareOpts?: PrepareOptions): Promise<{ ok: boolean; verdict: string; output: string; log: string; usrhash?: string } | undefined> {
  const variant = VARIANTS[variantName]!;
  const skip = builderSkip(builder, referenceSuite(variant, sectorSize), variant);
  if (skip) { t.skip(skip); return undefined; }
  const work = mkdtempSync(path.join(os.tmpdir(), `repart-boot-${variantName}-`));
  try {
    const p = prepare(variant, work, parts, prepareOpts);
    const image = path.join(work, 'appliance.raw');
    const b = buildImage(p, builder, image, sectorSize);
    if (!b.ok && b.unsupported) {
      t.skip(`repart-ts cannot build the ${variantName} appliance yet: ${b.unsupported}`);
      return undefined;
    }
    assert.ok(b.ok, `${builder} failed to build the ${variantName} image:\n${b.stderr.trim()}`);
    // The home's files must not be readable in the image: the container really is encrypted.
    if (variant.encrypted) assert.equal(readFileSync(image).indexOf(HOME_MARKER), -1, `${builder} left the home marker in plaintext in the image`);
    tamper?.(image);
    const name = `${variantName}-${sectorSize}-${builder}${tamper ? '-tampered' : ''}${prepareOpts?.initrdKey ? '-wrong-key' : ''}`;
    mkdirSync(ARTIFACTS, { recursive: true });
    const r = await boot({ image, sectorSize, log: path.join(ARTIFACTS, `${name}.log`), timeoutSeconds: TIMEOUT_S, memoryMiB: variant.memoryMiB });
    const steps = b.steps ? ` (step 1 ${b.steps[0]!.toFixed(1)} s, step 2 ${b.steps[1]!.toFixed(1)} s)` : '';
    console.log(`# boot ${name}: ${r.verdict} in ${r.seconds.toFixed(1)} s (${r.accel}), build ${b.seconds.toFixed(1)} s${steps}`);
    return { ...r, usrhash: b.usrhash };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

for (const c of CASES) {
  for (const builder of ['reference', 'repart-ts'] as const) {
    test(`boot: ${c.variant} appliance at ${c.sectorSize}-byte sectors, built by ${builder}, starts under OVMF`, { timeout: (TIMEOUT_S * 2 + 120) * 1000 }, async (t) => {
      const r = await buildAndBoot(t, c.variant, builder, c.sectorSize);
      if (!r) return;
      assert.ok(r.ok, `${r.verdict}; serial log kept in ${r.log}`);
      assert.match(r.output, new RegExp(`^BOOTTEST-OK variant=${c.variant}\\s*$`, 'm'));
      // The guest must really have seen the sector size the image was built for.
      assert.match(r.output, new RegExp(`\\[vda\\] \\d+ ${c.sectorSize}-byte logical blocks`), 'virtio-blk sector size');
      if (VARIANTS[c.variant]!.verity) {
        // The store really went through dm-verity, keyed by the hash step 1 reported.
        assert.ok(r.usrhash, 'step 1 reported the usr-verity roothash');
        assert.match(r.output, new RegExp(`dm-verity table: 0 \\d+ verity 1 /dev/vda\\d+ /dev/vda\\d+ \\d+ \\d+ \\d+ 1 sha256 ${r.usrhash} [0-9a-f]+`));
        assert.match(r.output, new RegExp(`all \\d+ KiB of the store verified against usrhash ${r.usrhash}`));
      }
      if (VARIANTS[c.variant]!.encrypted) {
        // cryptsetup opened the container as LUKS2 and the ext4 inside had the size repart gives it.
        assert.match(r.output, /^boottest: unlocked \/dev\/vda\d+ in [\d.]+ s: LUKS2 aes-xts-plain64 512 bits/m);
        assert.match(r.output, /^boottest: mounted \/dev\/mapper\/home \(LUKS2 on \/dev\/vda\d+, ext4 of 64 MiB, mapping 80 MiB, partition 96 MiB\)/m);
      }
      rmSync(r.log, { force: true });
    });
  }
}

test('boot: a root file changed after the build is caught (the check can fail)', { timeout: (TIMEOUT_S + 120) * 1000 }, async (t) => {
  const marker = 'repart-ts appliance: root file system marker';
  const r = await buildAndBoot(t, 'ext4', 'reference', 512, (image) => {
    // ext4 has no data checksums: the kernel reads the altered bytes, only /init can notice.
    const at = readFileSync(image).indexOf(marker);
    assert.ok(at > 0, 'marker found in the image');
    const fd = openSync(image, 'r+');
    try { writeSync(fd, Buffer.from('MARKER'), 0, 6, at + marker.indexOf('marker')); } finally { closeSync(fd); }
  });
  if (!r) return;
  assert.equal(r.ok, false, 'a tampered image must not pass');
  assert.match(r.verdict, /^BOOTTEST-FAIL: root file contents differ/);
  assert.match(r.output, /etc\/boottest\/marker: FAILED/);
  rmSync(r.log, { force: true });
});

test('boot: a store block changed after the verity build is refused by dm-verity (the check can fail)', { timeout: (TIMEOUT_S + 120) * 1000 }, async (t) => {
  // A line in the middle of the 256 KiB blob: a full erofs data block, not inline metadata.
  const line = STORE_BLOB_LINE(3000);
  const r = await buildAndBoot(t, 'verity', 'reference', 512, (image) => {
    const bytes = readFileSync(image);
    const at = bytes.indexOf(line);
    assert.ok(at > 0, 'blob line found in the image');
    assert.equal(bytes.indexOf(line, at + 1), -1, 'the blob line is in the image once (the store partition)');
    // One byte: dm-verity must notice what erofs (no data checksums) would hand out as is.
    const fd = openSync(image, 'r+');
    try { writeSync(fd, Buffer.from('X'), 0, 1, at + line.indexOf('blob')); } finally { closeSync(fd); }
  });
  if (!r) return;
  assert.equal(r.ok, false, 'a tampered store must not pass');
  assert.match(r.verdict, /^BOOTTEST-FAIL: dm-verity refused a read of the store: .*device-mapper: verity: .*data block \d+ is corrupted/);
  assert.match(r.output, /nix\/store\/[^ ]*\/share\/boottest\/blob: FAILED/);
  rmSync(r.log, { force: true });
});

test('boot: the encrypted home does not open with a wrong key (the unlock can fail)', { timeout: (TIMEOUT_S + 120) * 1000 }, async (t) => {
  // Built by repart-ts with the right key; the initramfs carries the key with its last byte changed.
  const wrong = Buffer.from(HOME_KEY);
  wrong[wrong.length - 1] ^= 1;
  const r = await buildAndBoot(t, 'encrypted', 'repart-ts', 512, undefined, { initrdKey: wrong });
  if (!r) return;
  assert.equal(r.ok, false, 'a wrong key must not unlock the home');
  assert.match(r.verdict, /^BOOTTEST-FAIL: cryptsetup could not unlock \/dev\/vda\d+ with \/etc\/boottest\/home.key: No key available with this passphrase/);
  assert.doesNotMatch(r.output, /mounted \/dev\/mapper\/home/);
  rmSync(r.log, { force: true });
});
