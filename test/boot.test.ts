/**
 * Images that boot: the seed's appliance image (test-images/appliance) started by real UEFI
 * firmware (OVMF) under QEMU. systemd-boot loads the kernel and our initramfs from the ESP;
 * /init finds the partitions by GPT label, mounts them with the kernel's own drivers, checks
 * contents, modes, links and programs, and prints BOOTTEST-OK on the serial console.
 *
 * Each case is built twice: by the real systemd-repart (proving the boot chain itself) and by
 * repart-ts. repart-ts cases skip, naming the reason, while repart-ts refuses the definitions
 * (a Format= or key it does not implement yet). Serial logs of failed boots are kept in
 * test-artifacts/boot/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO, VARIANTS, buildImage, prepare, referenceSuite, type Builder } from '../tools/boot/appliance.js';
import { ensureBootParts, type BootParts } from '../tools/boot/debs.js';
import { boot, qemuSkipReason } from '../tools/boot/qemu.js';
import { referenceSkipReason } from './helpers/reference.js';

const ARTIFACTS = path.join(REPO, 'test-artifacts/boot');
const TIMEOUT_S = Number(process.env.BOOT_TIMEOUT ?? 180);

/** Every variant once at 512-byte sectors; 4096-byte sectors for the plain ext4 image only (CI time). */
const CASES: { variant: string; sectorSize: 512 | 4096 }[] = [
  { variant: 'ext4', sectorSize: 512 },
  { variant: 'ext4', sectorSize: 4096 },
  { variant: 'btrfs', sectorSize: 512 },
  { variant: 'store', sectorSize: 512 },
  { variant: 'ext4-minimize', sectorSize: 512 },
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

function builderSkip(builder: Builder, suite: 'trixie' | 'sid'): string | null {
  if (skipAll) return skipAll;
  if (builder === 'reference') {
    const r = referenceSkipReason(suite);
    return r && `the reference build needs the real systemd-repart: ${r}`;
  }
  return null;
}

async function buildAndBoot(t: { skip: (m: string) => void }, variantName: string, builder: Builder, sectorSize: 512 | 4096,
  tamper?: (image: string) => void): Promise<{ ok: boolean; verdict: string; output: string; log: string } | undefined> {
  const variant = VARIANTS[variantName]!;
  const skip = builderSkip(builder, referenceSuite(variant, sectorSize));
  if (skip) { t.skip(skip); return undefined; }
  const work = mkdtempSync(path.join(os.tmpdir(), `repart-boot-${variantName}-`));
  try {
    prepare(variant, work, parts);
    const image = path.join(work, 'appliance.raw');
    const b = buildImage(variant, builder, work, image, sectorSize);
    if (!b.ok && b.unsupported) {
      t.skip(`repart-ts cannot build the ${variantName} appliance yet: ${b.unsupported}`);
      return undefined;
    }
    assert.ok(b.ok, `${builder} failed to build the ${variantName} image:\n${b.stderr.trim()}`);
    tamper?.(image);
    const name = `${variantName}-${sectorSize}-${builder}${tamper ? '-tampered' : ''}`;
    mkdirSync(ARTIFACTS, { recursive: true });
    const r = await boot({ image, sectorSize, log: path.join(ARTIFACTS, `${name}.log`), timeoutSeconds: TIMEOUT_S });
    console.log(`# boot ${name}: ${r.verdict} in ${r.seconds.toFixed(1)} s (${r.accel}), build ${b.seconds.toFixed(1)} s`);
    return r;
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
