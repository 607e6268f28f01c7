/**
 * Where systemd-repart's offline `Encrypt=` puts things inside the partition (measured on
 * systemd-repart 257 and 262 with libcryptsetup; see README.md). Everything is relative to the
 * partition start.
 */
import { asCompat, type Compat } from '../compat.js';
import { LuksError } from './errors.js';

const MIB = 1024n * 1024n;

/** LUKS2_METADATA_SIZE in repart.c: the data segment starts here (crypt_set_data_offset). */
export const LUKS2_DATA_OFFSET = 16n * MIB;
/** LUKS2_METADATA_KEEP_FREE: the file system is made this much smaller than the partition. */
export const LUKS2_KEEP_FREE = 32n * MIB;
/** One header copy: 4 KiB binary header + JSON area (libcryptsetup's default metadata size). */
export const LUKS2_HEADER_SIZE = 16384;
export const LUKS2_BINARY_HEADER_SIZE = 4096;
export const LUKS2_JSON_SIZE = LUKS2_HEADER_SIZE - LUKS2_BINARY_HEADER_SIZE;
/** Keyslots area: everything between the two header copies and the data segment. */
export const LUKS2_KEYSLOTS_OFFSET = 2 * LUKS2_HEADER_SIZE;
export const LUKS2_KEYSLOTS_SIZE = Number(LUKS2_DATA_OFFSET) - LUKS2_KEYSLOTS_OFFSET;
export const LUKS2_AF_STRIPES = 4000;
/** aes-xts-plain64 with two AES-256 keys. */
export const LUKS2_VOLUME_KEY_SIZE = 64;
export const LUKS2_CIPHER = 'aes-xts-plain64';

/** Bytes of keyslot material: the AF-split key, rounded up to 4 KiB as libcryptsetup does. */
export function keyslotAreaSize(keySize = LUKS2_VOLUME_KEY_SIZE, stripes = LUKS2_AF_STRIPES): number {
  return Math.ceil((keySize * stripes) / 4096) * 4096;
}

export interface PlaintextWindow {
  /** offset of the plaintext file system from the partition start */
  offset: bigint;
  /** its length: what the file system formatter must be given as the device size */
  length: bigint;
}

/**
 * Where the caller writes the plaintext file system before `encryptPartitionInPlace`: at the data
 * segment's start, `partitionSize - 32 MiB` long. After encryption the decrypted volume shows the
 * file system at offset 0, exactly as systemd-repart's offline reencryption leaves it.
 */
export function luksPlaintextWindow(partitionSize: bigint): PlaintextWindow {
  if (partitionSize <= LUKS2_KEEP_FREE)
    throw new LuksError('bad-parameter', `partition of ${partitionSize} bytes leaves no room for a file system (needs more than 32 MiB)`);
  return { offset: LUKS2_DATA_OFFSET, length: partitionSize - LUKS2_KEEP_FREE };
}

/**
 * The LUKS superblock label repart writes: the GPT label before v259; from v259 `VolumeLabel=`
 * if set, else `luks-` + the GPT label.
 */
export function luksLabel(compat: Compat | number, gptLabel: string, volumeLabel?: string): string {
  if (!asCompat(compat).luksVolumeLabel) return gptLabel;
  return volumeLabel !== undefined && volumeLabel !== '' ? volumeLabel : `luks-${gptLabel}`;
}
