/**
 * Builds the appliance example image and boots it under QEMU with OVMF.
 *
 *   node dist/tools/boot/main.js [--variant=ext4|btrfs|store|ext4-minimize|verity|encrypted] [--builder=repart-ts|reference]
 *                                [--sector-size=512|4096] [--work=DIR] [--quiet]
 *
 * Exits 0 when /init reported success on the serial console.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { REPO, VARIANTS, buildImage, prepare, type Builder } from './appliance.js';
import { ensureBootParts } from './debs.js';
import { boot, qemuSkipReason } from './qemu.js';

function main(argv: string[]): Promise<number> | number {
  const opt: Record<string, string> = { variant: 'ext4', builder: 'repart-ts', 'sector-size': '512', work: path.join(REPO, 'test-artifacts/boot/example') };
  let quiet = false;
  for (const a of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(a);
    if (a === '--quiet') quiet = true;
    else if (m && m[1]! in opt) opt[m[1]!] = m[2]!;
    else { console.error(`boot: unknown argument ${a}`); return 2; }
  }
  const variant = VARIANTS[opt.variant!];
  if (!variant) { console.error(`boot: unknown variant ${opt.variant} (${Object.keys(VARIANTS).join(', ')})`); return 2; }
  if (opt.builder !== 'repart-ts' && opt.builder !== 'reference') { console.error('boot: --builder must be repart-ts or reference'); return 2; }
  const sectorSize = Number(opt['sector-size']);
  if (sectorSize !== 512 && sectorSize !== 4096) { console.error('boot: --sector-size must be 512 or 4096'); return 2; }
  const skip = qemuSkipReason();
  if (skip) { console.error(`boot: ${skip}`); return 1; }
  const work = path.resolve(opt.work!);
  mkdirSync(work, { recursive: true });
  console.error(`boot: fetching Debian packages (cached) and preparing ${variant.name} sources in ${work}`);
  const p = prepare(variant, work, ensureBootParts());
  const image = path.join(work, `appliance-${variant.name}-${sectorSize}.raw`);
  const b = buildImage(p, opt.builder as Builder, image, sectorSize);
  if (!b.ok) { console.error(b.stderr.trim()); console.error(`boot: ${opt.builder} could not build the image${b.unsupported ? ` (${b.unsupported})` : ''}`); return 1; }
  if (p.initrd) console.error(`boot: initramfs ${(p.initrd.bytes.length / 1048576).toFixed(1)} MiB, modules: ${p.initrd.modules.join(' ')}`);
  const steps = b.steps ? ` (two steps: ${b.steps.map((s) => s.toFixed(1)).join(' s + ')} s; usrhash ${b.usrhash})` : '';
  console.error(`boot: built ${image} with ${opt.builder} in ${b.seconds.toFixed(1)} s${steps}; booting`);
  return boot({ image, sectorSize, memoryMiB: variant.memoryMiB, log: image.replace(/\.raw$/, '.log'), echo: !quiet }).then((r) => {
    console.error(`\nboot: ${r.verdict} (${r.seconds.toFixed(1)} s, ${r.accel}); serial log: ${r.log}`);
    return r.ok ? 0 : 1;
  });
}

Promise.resolve(main(process.argv.slice(2))).then((c) => { process.exitCode = c; }, (e: unknown) => {
  console.error(`boot: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
