/** Keys, certificates and the data/hash/signature definitions shared by the Verity=signature tests. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';
export const haveOpenssl = spawnSync('openssl', ['version']).status === 0;

/** A self-signed certificate and its key, made by the openssl tool. */
export function keyPair(dir: string, kind: 'rsa' | 'ec'): { key: string; cert: string } {
  const key = path.join(dir, `${kind}.key`), cert = path.join(dir, `${kind}.crt`);
  const newkey = kind === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  const r = spawnSync('openssl', ['req', '-x509', ...newkey, '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', `/CN=repart-ts ${kind} test/O=Example`, '-set_serial', '0x00e1f2'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { key, cert };
}

const DEFS: Record<string, string> = {
  '10-root.conf': '[Partition]\nType=root\nCopyBlocks=%DIR%/data.bin\nVerity=data\nVerityMatchKey=r\n',
  '20-root-verity.conf': '[Partition]\nType=root-verity\nVerity=hash\nVerityMatchKey=r\nMinimize=best\n',
  '30-root-verity-sig.conf': '[Partition]\nType=root-verity-sig\nVerity=signature\nVerityMatchKey=r\n',
};

export function setup(dir: string): void {
  mkdirSync(path.join(dir, 'defs'));
  for (const [n, c] of Object.entries(DEFS)) writeFileSync(path.join(dir, 'defs', n), c.replaceAll('%DIR%', dir));
  const data = Buffer.alloc(4096 * 64);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  writeFileSync(path.join(dir, 'data.bin'), data);
}
