/** One 128-byte GPT partition entry. */
import { isNullUuid, uuidFromDisk, uuidToDisk, type Uuid } from './guid.js';

export const GPT_ENTRY_SIZE = 128;
export const GPT_NAME_UNITS = 36;

export interface GptEntry {
  typeGuid: Uuid;
  partGuid: Uuid;
  firstLba: bigint;
  /** inclusive */
  lastLba: bigint;
  attributes: bigint;
  /** at most 36 UTF-16 code units */
  name: string;
}

export function encodeGptEntry(e: GptEntry, out: Uint8Array = new Uint8Array(GPT_ENTRY_SIZE), at = 0): Uint8Array {
  const v = new DataView(out.buffer, out.byteOffset + at, GPT_ENTRY_SIZE);
  uuidToDisk(e.typeGuid, out, at);
  uuidToDisk(e.partGuid, out, at + 16);
  v.setBigUint64(32, e.firstLba, true);
  v.setBigUint64(40, e.lastLba, true);
  v.setBigUint64(48, e.attributes, true);
  if (e.name.length > GPT_NAME_UNITS) throw new RangeError(`GPT name longer than ${GPT_NAME_UNITS} UTF-16 units`);
  for (let i = 0; i < e.name.length; i++) v.setUint16(56 + 2 * i, e.name.charCodeAt(i), true);
  return out;
}

/** Returns null for an unused (all-zero type) slot. */
export function decodeGptEntry(b: Uint8Array, at = 0): GptEntry | null {
  const typeGuid = uuidFromDisk(b, at);
  if (isNullUuid(typeGuid)) return null;
  const v = new DataView(b.buffer, b.byteOffset + at, GPT_ENTRY_SIZE);
  let name = '';
  for (let i = 0; i < GPT_NAME_UNITS; i++) {
    const c = v.getUint16(56 + 2 * i, true);
    if (c === 0) break;
    name += String.fromCharCode(c);
  }
  return {
    typeGuid,
    partGuid: uuidFromDisk(b, at + 16),
    firstLba: v.getBigUint64(32, true),
    lastLba: v.getBigUint64(40, true),
    attributes: v.getBigUint64(48, true),
    name,
  };
}
