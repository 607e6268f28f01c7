/**
 * The LUKS2 binary header (one per copy: primary at 0, secondary right after it) and the
 * checksum that binds it to its JSON area. Layout per the LUKS2 on-disk format: all integers
 * big-endian, strings NUL-padded, the checksum computed over the whole copy (binary header with
 * the checksum field zeroed + JSON area).
 */
import { createHash } from 'node:crypto';
import { LuksError } from './errors.js';
import { LUKS2_BINARY_HEADER_SIZE } from './layout.js';

const MAGIC_PRIMARY = Uint8Array.of(0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe); // "LUKS\xba\xbe"
const MAGIC_SECONDARY = Uint8Array.of(0x53, 0x4b, 0x55, 0x4c, 0xba, 0xbe); // "SKUL\xba\xbe"

const OFF = {
  magic: 0, version: 6, hdrSize: 8, seqid: 16, label: 24, csumAlg: 72, salt: 104, uuid: 168,
  subsystem: 208, hdrOffset: 256, csum: 448,
} as const;
const LEN = { label: 48, csumAlg: 32, salt: 64, uuid: 40, subsystem: 48, csum: 64 } as const;

export interface Luks2BinaryHeader {
  /** size of this copy including its JSON area */
  hdrSize: number;
  /** bumped on every metadata write; both copies carry the same value */
  seqid: bigint;
  label: string;
  /** only sha256 is written; libcryptsetup also reads others */
  checksumAlgorithm: string;
  /** 64 random bytes, different per copy (libcryptsetup does the same) */
  salt: Uint8Array;
  uuid: string;
  subsystem: string;
  /** byte offset of this copy: 0 = primary, otherwise the secondary */
  hdrOffset: bigint;
}

function putString(buf: Uint8Array, at: number, max: number, s: string, what: string): void {
  const b = Buffer.from(s, 'utf8');
  // One byte stays NUL: libcryptsetup reads these as C strings.
  if (b.length > max - 1) throw new LuksError('bad-parameter', `${what} "${s}" is longer than ${max - 1} bytes`);
  buf.set(b, at);
}

function getString(buf: Uint8Array, at: number, max: number): string {
  const field = buf.subarray(at, at + max);
  const nul = field.indexOf(0);
  return Buffer.from(field.subarray(0, nul < 0 ? max : nul)).toString('utf8');
}

export function headerChecksum(copy: Uint8Array): Uint8Array {
  const h = createHash('sha256');
  h.update(copy.subarray(0, OFF.csum));
  h.update(new Uint8Array(LEN.csum));
  h.update(copy.subarray(OFF.csum + LEN.csum));
  return h.digest();
}

/** One header copy: binary header + `jsonArea` (already padded to hdrSize - 4096), checksummed. */
export function encodeLuks2Header(h: Luks2BinaryHeader, jsonArea: Uint8Array): Uint8Array {
  if (jsonArea.length !== h.hdrSize - LUKS2_BINARY_HEADER_SIZE)
    throw new LuksError('bad-parameter', `JSON area is ${jsonArea.length} bytes, header size ${h.hdrSize} needs ${h.hdrSize - LUKS2_BINARY_HEADER_SIZE}`);
  if (h.salt.length !== LEN.salt) throw new LuksError('bad-parameter', `header salt must be ${LEN.salt} bytes`);
  if (h.checksumAlgorithm !== 'sha256') throw new LuksError('bad-parameter', `checksum algorithm ${h.checksumAlgorithm} is not supported`);
  const out = new Uint8Array(h.hdrSize);
  const dv = new DataView(out.buffer);
  out.set(h.hdrOffset === 0n ? MAGIC_PRIMARY : MAGIC_SECONDARY, OFF.magic);
  dv.setUint16(OFF.version, 2);
  dv.setBigUint64(OFF.hdrSize, BigInt(h.hdrSize));
  dv.setBigUint64(OFF.seqid, h.seqid);
  putString(out, OFF.label, LEN.label, h.label, 'label');
  putString(out, OFF.csumAlg, LEN.csumAlg, h.checksumAlgorithm, 'checksum algorithm');
  out.set(h.salt, OFF.salt);
  putString(out, OFF.uuid, LEN.uuid, h.uuid, 'UUID');
  putString(out, OFF.subsystem, LEN.subsystem, h.subsystem, 'subsystem');
  dv.setBigUint64(OFF.hdrOffset, h.hdrOffset);
  out.set(jsonArea, LUKS2_BINARY_HEADER_SIZE);
  out.set(headerChecksum(out), OFF.csum);
  return out;
}

export interface DecodedLuks2Header {
  header: Luks2BinaryHeader;
  /** the JSON text (up to the first NUL of the JSON area) */
  json: string;
}

/** Decodes and verifies one copy; `copy` must hold at least hdrSize bytes. */
export function decodeLuks2Header(copy: Uint8Array): DecodedLuks2Header {
  if (copy.length < LUKS2_BINARY_HEADER_SIZE) throw new LuksError('bad-header', 'header is truncated');
  const magic = copy.subarray(0, 6);
  const primary = Buffer.from(magic).equals(MAGIC_PRIMARY);
  if (!primary && !Buffer.from(magic).equals(MAGIC_SECONDARY)) throw new LuksError('bad-header', 'no LUKS magic');
  const dv = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  const version = dv.getUint16(OFF.version);
  if (version !== 2) throw new LuksError('bad-header', `version ${version} is not LUKS2`);
  const hdrSize = Number(dv.getBigUint64(OFF.hdrSize));
  if (hdrSize < LUKS2_BINARY_HEADER_SIZE + 4096 || hdrSize > copy.length)
    throw new LuksError('bad-header', `header size ${hdrSize} is invalid or beyond the ${copy.length} bytes given`);
  const header: Luks2BinaryHeader = {
    hdrSize,
    seqid: dv.getBigUint64(OFF.seqid),
    label: getString(copy, OFF.label, LEN.label),
    checksumAlgorithm: getString(copy, OFF.csumAlg, LEN.csumAlg),
    salt: Uint8Array.from(copy.subarray(OFF.salt, OFF.salt + LEN.salt)),
    uuid: getString(copy, OFF.uuid, LEN.uuid),
    subsystem: getString(copy, OFF.subsystem, LEN.subsystem),
    hdrOffset: dv.getBigUint64(OFF.hdrOffset),
  };
  if (primary !== (header.hdrOffset === 0n)) throw new LuksError('bad-header', `magic does not match header offset ${header.hdrOffset}`);
  if (header.checksumAlgorithm !== 'sha256') throw new LuksError('bad-header', `checksum algorithm ${header.checksumAlgorithm} is not supported`);
  const whole = copy.subarray(0, hdrSize);
  const stored = whole.subarray(OFF.csum, OFF.csum + 32);
  if (!Buffer.from(stored).equals(headerChecksum(whole))) throw new LuksError('bad-header', `checksum mismatch in the header at ${header.hdrOffset}`);
  const area = whole.subarray(LUKS2_BINARY_HEADER_SIZE);
  const nul = area.indexOf(0);
  const json = Buffer.from(area.subarray(0, nul < 0 ? area.length : nul)).toString('utf8');
  return { header, json };
}
