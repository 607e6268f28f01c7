/**
 * UUIDs as repart handles them: 16 bytes in *string order*. GPT stores them in Microsoft's
 * mixed-endian form (first three groups byte-swapped), so conversion happens only here.
 */
export type Uuid = Uint8Array; // length 16, string order

const HEX = /^[0-9a-fA-F]{32}$/;

/** Parses 32 hex digits with or without the four dashes (sd_id128_from_string()). */
export function parseUuid(s: string): Uuid | null {
  let hex: string;
  if (s.length === 36) {
    if (s[8] !== '-' || s[13] !== '-' || s[18] !== '-' || s[23] !== '-') return null;
    hex = s.slice(0, 8) + s.slice(9, 13) + s.slice(14, 18) + s.slice(19, 23) + s.slice(24);
  } else if (s.length === 32) {
    hex = s;
  } else {
    return null;
  }
  if (!HEX.test(hex)) return null;
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export function formatUuid(u: Uuid): string {
  const h = Buffer.from(u).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** 32 lower-case hex digits, no dashes (the %T / %U specifier form). */
export function uuidHex(u: Uuid): string {
  return Buffer.from(u).toString('hex');
}

export function isNullUuid(u: Uuid): boolean {
  return u.every((b) => b === 0);
}

export function uuidEqual(a: Uuid, b: Uuid): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** string order → on-disk mixed-endian (and back: the swap is its own inverse). */
export function uuidToDisk(u: Uuid, out: Uint8Array = new Uint8Array(16), at = 0): Uint8Array {
  out[at + 0] = u[3]!; out[at + 1] = u[2]!; out[at + 2] = u[1]!; out[at + 3] = u[0]!;
  out[at + 4] = u[5]!; out[at + 5] = u[4]!;
  out[at + 6] = u[7]!; out[at + 7] = u[6]!;
  for (let i = 8; i < 16; i++) out[at + i] = u[i]!;
  return out;
}

export function uuidFromDisk(buf: Uint8Array, at = 0): Uuid {
  return uuidToDisk(buf.subarray(at, at + 16));
}
