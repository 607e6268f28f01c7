/**
 * What a disk carries when it is not a GPT: another partition label (what libfdisk probes for:
 * DOS/MBR, Sun, SGI — systemd-repart says "has non-GPT disk label") or a signature at its
 * whole-disk offset (as libblkid probes: a file system, LUKS, LVM, RAID, swap, ISO9660, a BSD
 * label, a GPT header without protective MBR). systemd-repart 262 overwrites the latter with
 * --empty=allow/require; repart-ts refuses both (README, "Existing disks"). Pure.
 */
import type { ReadAt } from './table.js';

export interface ForeignLabel {
  /** 'label': a partition table libfdisk knows; 'signature': anything else blkid would name */
  kind: 'label' | 'signature';
  name: string;
}

interface Magic { name: string; offset: number; bytes: number[] | string }

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const le32 = (x: number) => [x & 0xff, (x >>> 8) & 0xff, (x >>> 16) & 0xff, x >>> 24];

const SIGNATURES: Magic[] = [
  { name: 'ext2/3/4 file system', offset: 1080, bytes: [0x53, 0xef] },
  { name: 'btrfs file system', offset: 65600, bytes: '_BHRfS_M' },
  { name: 'XFS file system', offset: 0, bytes: 'XFSB' },
  { name: 'LUKS header', offset: 0, bytes: [...ascii('LUKS'), 0xba, 0xbe] },
  { name: 'squashfs file system', offset: 0, bytes: 'hsqs' },
  { name: 'EROFS file system', offset: 1024, bytes: le32(0xe0f5e1e2) },
  { name: 'F2FS file system', offset: 1024, bytes: le32(0xf2f52010) },
  { name: 'ISO9660 file system', offset: 32769, bytes: 'CD001' },
  { name: 'Linux RAID (md 1.1) member', offset: 0, bytes: le32(0xa92b4efc) },
  { name: 'Linux RAID (md 1.2) member', offset: 4096, bytes: le32(0xa92b4efc) },
  { name: 'BSD disk label', offset: 512, bytes: le32(0x82564557) },
  { name: 'GPT header without protective MBR', offset: 512, bytes: 'EFI PART' },
  { name: 'GPT header without protective MBR', offset: 4096, bytes: 'EFI PART' },
  ...[0, 1, 2, 3].map((s) => ({ name: 'LVM2 physical volume', offset: 512 * s, bytes: 'LABELONE' })),
  ...[4096, 8192, 16384, 65536].flatMap((p) => [
    { name: 'swap area', offset: p - 10, bytes: 'SWAPSPACE2' },
    { name: 'swap area', offset: p - 10, bytes: 'SWAP-SPACE' },
  ]),
];

/** Everything probed lies in the first 64 KiB + 72 bytes. */
const PROBE_BYTES = 65536 + 72;

function at(b: Uint8Array, m: Magic): boolean {
  const want = typeof m.bytes === 'string' ? ascii(m.bytes) : m.bytes;
  if (m.offset + want.length > b.length) return false;
  return want.every((x, i) => b[m.offset + i] === x);
}

/** Call only when probeGpt() found no protective MBR. */
export async function foreignLabel(read: ReadAt, imageBytes: bigint): Promise<ForeignLabel | null> {
  const n = imageBytes < BigInt(PROBE_BYTES) ? Number(imageBytes) : PROBE_BYTES;
  if (n < 512) return null;
  const b = await read(0n, n);
  // libfdisk's labels: DOS needs only the 0x55AA boot signature (a FAT boot sector is one too)
  if (b[510] === 0x55 && b[511] === 0xaa) return { kind: 'label', name: 'dos' };
  if (b[508] === 0xda && b[509] === 0xbe) return { kind: 'label', name: 'sun' };
  if (b[0] === 0x0b && b[1] === 0xe5 && b[2] === 0xa9 && b[3] === 0x41) return { kind: 'label', name: 'sgi' };
  const m = SIGNATURES.find((s) => at(b, s));
  return m ? { kind: 'signature', name: m.name } : null;
}
