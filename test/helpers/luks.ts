/**
 * Judging LUKS2 containers with the host's real cryptsetup only (no device-mapper, no loop device):
 * the fields of `luksDump`, and a full decryption done by cryptsetup itself.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LUKS2_DATA_OFFSET } from '../../src/luks/index.js';

const MIB = 1024 * 1024;

export function run(cmd: string, args: string[], opts: { cwd?: string; ok?: boolean } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: 'utf8', timeout: 120_000 });
  const res = { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  if (opts.ok !== false && res.status !== 0) assert.fail(`${cmd} ${args.join(' ')} failed (${res.status}): ${res.stderr}${res.stdout}`);
  return res;
}

/** The parts of `cryptsetup luksDump` that define the container (not salts, keys, epoch). */
export interface DumpFacts {
  metadataArea: string; keyslotsArea: string; uuid: string; label: string; flags: string;
  segment: { offset: string; length: string; cipher: string; sector: string };
  keyslot: { key: string; cipher: string; cipherKey: string; stripes: string; afHash: string; areaOffset: string; areaLength: string; pbkdf: string };
  /** keyslot 0's KDF parameters: time/memory (KiB)/threads for argon2, hash/iterations for pbkdf2 */
  kdf: { time?: string; memory?: string; threads?: string; hash?: string; iterations?: string };
  digest: string;
}

export function luksDump(file: string): DumpFacts {
  const out = run('cryptsetup', ['luksDump', file]).stdout;
  const field = (name: string, from = 0): string => {
    const m = new RegExp(`^\\s*${name}:\\s*(.*)$`, 'm').exec(out.slice(from));
    assert.ok(m, `luksDump has no ${name}:\n${out}`);
    return m[1]!.trim();
  };
  const seg = out.indexOf('Data segments:');
  const ks = out.indexOf('Keyslots:');
  const dg = out.indexOf('Digests:');
  return {
    metadataArea: field('Metadata area'), keyslotsArea: field('Keyslots area'), uuid: field('UUID'), label: field('Label'),
    flags: field('Flags'),
    segment: { offset: field('offset', seg), length: field('length', seg), cipher: field('cipher', seg), sector: field('sector', seg) },
    keyslot: {
      key: field('Key', ks), cipher: field('Cipher', ks), cipherKey: field('Cipher key', ks), stripes: field('AF stripes', ks),
      afHash: field('AF hash', ks), areaOffset: field('Area offset', ks), areaLength: field('Area length', ks), pbkdf: field('PBKDF', ks),
    },
    kdf: kdfFields(out.slice(ks, dg)),
    digest: field('0', dg),
  };
}

function kdfFields(keyslots: string): DumpFacts['kdf'] {
  const f: DumpFacts['kdf'] = {};
  for (const [k, name] of [['time', 'Time cost'], ['memory', 'Memory'], ['threads', 'Threads'], ['hash', 'Hash'], ['iterations', 'Iterations']] as const) {
    const m = new RegExp(`^\\s*${name}:\\s*(.*)$`, 'm').exec(keyslots);
    if (m) f[k] = m[1]!.trim();
  }
  return f;
}

/**
 * Decrypts the data segment of `part` with cryptsetup alone: dump the volume key with the key file,
 * format a detached header (data offset 0) around that key, and let `cryptsetup reencrypt --decrypt`
 * rewrite a copy of the segment in plaintext. Returns the plaintext segment.
 */
export function cryptsetupDecrypt(dir: string, part: string, keyFile: string, sectorSize: number): Buffer {
  const vk = join(dir, 'vk.bin');
  const hdr = join(dir, 'detached.hdr');
  const seg = join(dir, 'segment.img');
  rmSync(vk, { force: true });
  run('cryptsetup', ['luksDump', '--dump-volume-key', '--volume-key-file', vk, '--key-file', keyFile, '-q', part]);
  writeFileSync(seg, readFileSync(part).subarray(Number(LUKS2_DATA_OFFSET)));
  writeFileSync(hdr, new Uint8Array(4 * MIB));
  run('cryptsetup', ['luksFormat', '-q', '--type', 'luks2', '--header', hdr, '--offset', '0', '--volume-key-file', vk,
    '--key-size', '512', '--cipher', 'aes-xts-plain64', '--sector-size', String(sectorSize),
    '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', keyFile, seg]);
  run('cryptsetup', ['reencrypt', '--decrypt', '--force-offline-reencrypt', '--header', hdr, '--key-file', keyFile, '-q', seg]);
  return readFileSync(seg);
}

/** `len` bytes of `file` at `at`. */
export function readRange(file: string, at: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, b, 0, len, at);
  } finally {
    closeSync(fd);
  }
  return b;
}
