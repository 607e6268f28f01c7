/**
 * LUKS errors reuse the project's stable codes (src/errors.ts has no LUKS-specific one yet):
 * E_CONFIG_VALUE for parameters the caller got wrong, E_IMAGE_IO for the image file, E_FS for a
 * container that does not decode. `reason` is a finer, equally stable tag for tests and logs.
 */
import { RepartError, type ErrorCode } from '../errors.js';

export type LuksReason =
  | 'bad-parameter' // a size, offset, sector size, UUID, label or key the container cannot hold
  | 'bad-header' // magic, version, checksum or field of a binary header
  | 'bad-metadata' // the JSON area does not parse or lacks what LUKS2 requires
  | 'wrong-key' // no keyslot opens with the given key
  | 'io'; // reading or writing the image failed

export class LuksError extends RepartError {
  readonly reason: LuksReason;

  constructor(reason: LuksReason, message: string, options?: { cause?: unknown }) {
    const code: ErrorCode = reason === 'bad-parameter' ? 'E_CONFIG_VALUE' : reason === 'io' ? 'E_IMAGE_IO' : 'E_FS';
    super(code, `LUKS2: ${message}`, {}, 1, options);
    this.name = 'LuksError';
    this.reason = reason;
  }
}
