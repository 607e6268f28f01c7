/**
 * systemd-repart's offline Encrypt=key-file on a partition window of an image file: the plaintext
 * file system already sits where the data segment will be (luksPlaintextWindow), is encrypted in
 * place, and the LUKS2 header area is written in front of it. Only bytes inside
 * [partitionOffset, partitionOffset + partitionSize) are touched.
 */
import { randomBytes } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { formatLuks2, validateFormatOptions, type Luks2FormatOptions } from './container.js';
import { LuksError } from './errors.js';
import { LUKS2_DATA_OFFSET, LUKS2_KEEP_FREE, LUKS2_KEYSLOTS_OFFSET } from './layout.js';
import { IV_UNIT, xtsSectors } from './xts.js';

/** Large sequential I/O, bounded memory: one buffer of this size. */
const CHUNK = 4 * 1024 * 1024;

export type LuksEncryptOptions = Luks2FormatOptions;

async function readFully(fh: FileHandle, buf: Uint8Array, pos: bigint): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, Number(pos) + done);
    if (bytesRead === 0) throw new LuksError('io', `unexpected end of file at ${Number(pos) + done}`);
    done += bytesRead;
  }
}

async function writeFully(fh: FileHandle, buf: Uint8Array, pos: bigint): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, Number(pos) + done);
    done += bytesWritten;
  }
}

export function validatePartition(partitionOffset: bigint, partitionSize: bigint, sectorSize: number): void {
  if (partitionOffset < 0n || partitionOffset % 512n !== 0n)
    throw new LuksError('bad-parameter', `partition offset ${partitionOffset} is not a multiple of 512`);
  if (partitionSize <= LUKS2_KEEP_FREE)
    throw new LuksError('bad-parameter', `partition of ${partitionSize} bytes is too small for LUKS2 (needs more than 32 MiB)`);
  if ((partitionSize - LUKS2_DATA_OFFSET) % BigInt(sectorSize) !== 0n)
    throw new LuksError('bad-parameter', `partition size ${partitionSize} leaves a data segment that is not whole ${sectorSize}-byte sectors`);
  if (partitionOffset + partitionSize > BigInt(Number.MAX_SAFE_INTEGER))
    throw new LuksError('bad-parameter', 'partition lies beyond 2^53 bytes');
}

/**
 * Encrypts the data segment [partitionOffset + 16 MiB, partitionOffset + partitionSize) in place
 * with a fresh random volume key and writes the LUKS2 header area (both headers, keyslot 0, the
 * rest of the keyslots area random as libcryptsetup leaves it) in the partition's first 16 MiB.
 * The file system must have been written at luksPlaintextWindow(partitionSize); whatever lies in
 * the data segment after it (zeros in a fresh image) is encrypted too.
 */
export async function encryptPartitionInPlace(
  file: string, partitionOffset: bigint, partitionSize: bigint, o: LuksEncryptOptions,
  random: (n: number) => Uint8Array = randomBytes,
): Promise<Uint8Array> {
  validateFormatOptions(o);
  validatePartition(partitionOffset, partitionSize, o.sectorSize);
  const f = formatLuks2(o, random);
  let fh: FileHandle;
  try {
    fh = await open(file, 'r+');
  } catch (e) {
    throw new LuksError('io', `cannot open ${file}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const st = await fh.stat();
    if (BigInt(st.size) < partitionOffset + partitionSize)
      throw new LuksError('bad-parameter', `${file} is ${st.size} bytes, the partition ends at ${partitionOffset + partitionSize}`);

    const segStart = partitionOffset + LUKS2_DATA_OFFSET;
    const segEnd = partitionOffset + partitionSize;
    const buf = new Uint8Array(CHUNK);
    for (let pos = segStart; pos < segEnd;) {
      const n = Number(segEnd - pos < BigInt(CHUNK) ? segEnd - pos : BigInt(CHUNK));
      const chunk = buf.subarray(0, n);
      await readFully(fh, chunk, pos);
      xtsSectors('encrypt', f.volumeKey, chunk, o.sectorSize, (pos - segStart) / BigInt(IV_UNIT));
      await writeFully(fh, chunk, pos);
      pos += BigInt(n);
    }

    // libcryptsetup wipes the keyslots area with random bytes before storing a keyslot.
    for (let at = LUKS2_KEYSLOTS_OFFSET; at < Number(LUKS2_DATA_OFFSET); at += CHUNK) {
      const n = Math.min(CHUNK, Number(LUKS2_DATA_OFFSET) - at);
      await writeFully(fh, random(n), partitionOffset + BigInt(at));
    }
    await writeFully(fh, f.keyslotMaterial, partitionOffset + BigInt(LUKS2_KEYSLOTS_OFFSET));
    // Primary last: until it is written the partition does not look like LUKS at all.
    await writeFully(fh, f.secondary, partitionOffset + BigInt(f.primary.length));
    await writeFully(fh, f.primary, partitionOffset);
    await fh.sync();
    // the caller may need it (crypttab's fixate-volume-key=); a copy, the container's stays private
    return Uint8Array.from(f.volumeKey);
  } catch (e) {
    if (e instanceof LuksError) throw e;
    throw new LuksError('io', `encrypting ${file}: ${(e as Error).message}`, { cause: e });
  } finally {
    await fh.close();
  }
}
