/**
 * Boots an image with real UEFI firmware (OVMF) under QEMU and watches the serial console for
 * the line /init prints. KVM when /dev/kvm is usable, else TCG (software emulation, as in CI).
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const QEMU = process.env.BOOT_QEMU ?? 'qemu-system-x86_64';
const OVMF_CANDIDATES = ['/usr/share/ovmf/OVMF.fd', '/usr/share/qemu/OVMF.fd', '/usr/share/OVMF/OVMF.fd'];

export function findOvmf(): string | undefined {
  return [process.env.BOOT_OVMF, ...OVMF_CANDIDATES].find((p): p is string => !!p && existsSync(p));
}

/** null when a boot can be attempted, else why not. */
export function qemuSkipReason(): string | null {
  const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `${QEMU} is not installed (Debian: qemu-system-x86)`;
  if (!findOvmf()) return `no OVMF firmware found (${OVMF_CANDIDATES.join(', ')}; Debian: ovmf)`;
  return null;
}

export function accel(): 'kvm' | 'tcg' {
  const want = process.env.BOOT_ACCEL;
  if (want === 'tcg' || want === 'kvm') return want;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return 'kvm';
  } catch {
    return 'tcg';
  }
}

export interface BootOptions {
  image: string;
  sectorSize?: 512 | 4096;
  timeoutSeconds?: number;
  /** guest RAM in MiB (512 unless a variant needs more). */
  memoryMiB?: number;
  /** where the serial log is written (always; callers delete it when they do not need it). */
  log: string;
  /** stream the console to this process's stderr as it comes. */
  echo?: boolean;
}

export interface BootResult {
  ok: boolean;
  /** the BOOTTEST-OK/BOOTTEST-FAIL line, or a description of what happened instead. */
  verdict: string;
  seconds: number;
  accel: string;
  log: string;
  /** everything QEMU printed (serial console and its own messages). */
  output: string;
}

export const OK_LINE = /^BOOTTEST-OK variant=(\S+)/m;
const FAIL_LINE = /^BOOTTEST-FAIL: .*$/m;

export function qemuArgs(o: BootOptions, ovmf: string, acc: string): string[] {
  const blk = o.sectorSize === 4096 ? ',logical_block_size=4096,physical_block_size=4096' : '';
  return [
    '-machine', `q35,accel=${acc}`, '-m', String(o.memoryMiB ?? 512), '-smp', '1',
    '-bios', ovmf, '-nographic', '-monitor', 'none', '-no-reboot',
    // snapshot=on: /init writes to the root file system; the image file stays as it was built.
    '-drive', `file=${o.image},format=raw,if=none,id=disk0,snapshot=on`,
    '-device', `virtio-blk-pci,drive=disk0${blk}`,
    '-net', 'none',
  ];
}

/** Nested or half-working KVM (seen on CI-like hosts) fails like this; TCG then still works. */
const KVM_BROKEN = /KVM internal error|failed to set MSR|kvm_\w+: Assertion|Could not access KVM|failed to initialize kvm/i;
let kvmBroken = false;

export async function boot(o: BootOptions): Promise<BootResult> {
  const ovmf = findOvmf();
  if (!ovmf) throw new Error('no OVMF firmware found');
  let acc = kvmBroken ? 'tcg' : accel();
  let r = await bootOnce(o, ovmf, acc);
  if (!r.ok && acc === 'kvm' && r.kvmFailed) {
    kvmBroken = true;
    acc = 'tcg';
    r = await bootOnce(o, ovmf, acc);
    r.verdict += ' (KVM failed, retried with TCG)';
  }
  return r;
}

function bootOnce(o: BootOptions, ovmf: string, acc: string): Promise<BootResult & { kvmFailed: boolean }> {
  const timeout = (o.timeoutSeconds ?? 180) * 1000;
  mkdirSync(path.dirname(o.log), { recursive: true });
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(QEMU, qemuArgs(o, ovmf, acc), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let verdict: string | undefined;
    let ok = false;
    let kvmFailed = false;
    const onData = (b: Buffer): void => {
      const s = b.toString('latin1');
      out += s;
      if (o.echo) process.stderr.write(s);
      if (verdict) return;
      // The OK line may arrive before poweroff; don't wait for QEMU to exit to judge it.
      const m = OK_LINE.exec(out) ?? FAIL_LINE.exec(out);
      if (m && out.indexOf('\n', m.index) >= 0) {
        verdict = m[0].trim();
        ok = verdict.startsWith('BOOTTEST-OK');
      } else if (acc === 'kvm' && KVM_BROKEN.test(out)) {
        // A KVM emulation failure leaves QEMU hanging: give up on it now.
        kvmFailed = true;
        verdict = 'KVM failed';
        child.kill('SIGKILL');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => {
      verdict ??= `no verdict within ${timeout / 1000} s`;
      child.kill('SIGKILL');
    }, timeout);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      verdict ??= `QEMU exited (${signal ?? `status ${code}`}) without a verdict`;
      writeFileSync(o.log, out);
      resolve({ ok, verdict, seconds: (Date.now() - t0) / 1000, accel: acc, log: o.log, output: out, kvmFailed });
    });
  });
}
