/**
 * Format=swap: the header util-linux mkswap writes (swap_header_v1_2 in the first page,
 * "SWAPSPACE2" at its end). Pure encode/decode; repart mangles the label to 15 bytes.
 */
import { FORMAT_FACTS, mangleLinuxLabel } from './facts.js';
import { closeSync, openSync, writeSync } from 'node:fs';
import { parseUuid } from '../gpt/guid.js';
import type { FsDriver } from './driver.js';

export const SWAP_PAGE_SIZE = 4096;
export const SWAP_MAGIC = 'SWAPSPACE2';

export interface SwapHeader {
  lastPage: number;
  uuid: Uint8Array; // string order
  label: string;
  pageSize: number;
}

export function encodeSwapHeader(h: SwapHeader): Uint8Array {
  const b = new Uint8Array(h.pageSize);
  const v = new DataView(b.buffer);
  v.setUint32(1024, 1, true); // version
  v.setUint32(1028, h.lastPage, true);
  v.setUint32(1032, 0, true); // nr_badpages
  b.set(h.uuid.subarray(0, 16), 1036);
  const label = Buffer.from(h.label, 'utf8');
  b.set(label.subarray(0, 16), 1052);
  b.set(Buffer.from(SWAP_MAGIC, 'ascii'), h.pageSize - 10);
  return b;
}

export function decodeSwapHeader(b: Uint8Array, pageSize = SWAP_PAGE_SIZE): SwapHeader | null {
  if (Buffer.from(b.subarray(pageSize - 10, pageSize)).toString('latin1') !== SWAP_MAGIC) return null;
  const v = new DataView(b.buffer, b.byteOffset, pageSize);
  const rawLabel = b.subarray(1052, 1068);
  const end = rawLabel.indexOf(0);
  return {
    lastPage: v.getUint32(1028, true),
    uuid: Uint8Array.from(b.subarray(1036, 1052)),
    label: Buffer.from(end < 0 ? rawLabel : rawLabel.subarray(0, end)).toString('utf8'),
    pageSize,
  };
}

export function swapHeaderFor(size: bigint, uuid: Uint8Array, label: string): SwapHeader {
  return { lastPage: Number(size / BigInt(SWAP_PAGE_SIZE)) - 1, uuid, label: mangleLinuxLabel(label, FORMAT_FACTS.swap!.labelMax!), pageSize: SWAP_PAGE_SIZE };
}


export const swapDriver: FsDriver = {
  formats: ['swap'],
  async format(job) {
    const h = swapHeaderFor(BigInt(job.window.size), parseUuid(job.fsUuid)!, job.label);
    const fd = openSync(job.window.path, 'r+');
    try {
      const b = encodeSwapHeader(h);
      writeSync(fd, b, 0, b.length, job.window.offset);
    } finally {
      closeSync(fd);
    }
    return { warnings: [], passes: 1 };
  },
};
