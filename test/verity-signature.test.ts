/**
 * Verity=signature: the PKCS#7 our DER writer makes is accepted by OpenSSL (RSA and EC keys), and
 * whole images with a data/hash/signature triple signed with an RSA key are byte-identical to
 * systemd-repart 257's and 262's (RSA PKCS#1 v1.5 is deterministic, so the signature is too);
 * offline signing with --join-signature=; and --make-ddi= (signed erofs DDIs from the built-in
 * definitions).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { issuerAndSerial, readTlv, veritySignatureJson } from '../src/verity/signature.js';
import { referenceSkipReason, runOurs, runReference, type Suite } from './helpers/reference.js';

const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';
const haveOpenssl = spawnSync('openssl', ['version']).status === 0;

/** A self-signed certificate and its key, made by the openssl tool. */
function keyPair(dir: string, kind: 'rsa' | 'ec'): { key: string; cert: string } {
  const key = path.join(dir, `${kind}.key`), cert = path.join(dir, `${kind}.crt`);
  const newkey = kind === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  const r = spawnSync('openssl', ['req', '-x509', ...newkey, '-nodes', '-keyout', key, '-out', cert, '-days', '30', '-subj', `/CN=repart-ts ${kind} test/O=Example`, '-set_serial', '0x00e1f2'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return { key, cert };
}

test('issuerAndSerial reads a certificate as OpenSSL encodes it', { skip: haveOpenssl ? false : 'openssl not installed' }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'verity-sig-'));
  try {
    const { cert } = keyPair(dir, 'rsa');
    const der = new Uint8Array(new X509Certificate(readFileSync(cert)).raw);
    const { issuer, serial } = issuerAndSerial(der);
    assert.equal(Buffer.from(serial).toString('hex'), '020300e1f2', 'INTEGER 0x00e1f2 keeps its sign byte');
    assert.equal(readTlv(issuer, 0).tag, 0x30);
    assert.ok(Buffer.from(issuer).toString('latin1').includes('repart-ts rsa test'));
    assert.throws(() => issuerAndSerial(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01)));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

for (const kind of ['rsa', 'ec'] as const) {
  test(`the signature JSON verifies with openssl cms (${kind} key)`, { skip: haveOpenssl ? false : 'openssl not installed' }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'verity-sig-'));
    try {
      const { key, cert } = keyPair(dir, kind);
      const hash = 'b0d89ae7defef6c4b0115aac243c73b428202cb0899482df9b460a9e79c50775';
      const json = JSON.parse(veritySignatureJson(hash, { key: createPrivateKey(readFileSync(key)), certificate: new X509Certificate(readFileSync(cert)) }));
      assert.deepEqual(Object.keys(json), ['rootHash', 'certificateFingerprint', 'signature']);
      assert.equal(json.rootHash, hash);
      const fp = spawnSync('openssl', ['x509', '-in', cert, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' }).stdout;
      assert.equal(json.certificateFingerprint, fp.split('=')[1]!.trim().replaceAll(':', '').toLowerCase());
      writeFileSync(path.join(dir, 'sig.der'), Buffer.from(json.signature, 'base64'));
      writeFileSync(path.join(dir, 'content'), hash);
      const verify = (content: string) => spawnSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', path.join(dir, 'sig.der'),
        '-content', content, '-CAfile', cert, '-purpose', 'any', '-out', '/dev/null'], { encoding: 'utf8' });
      const ok = verify(path.join(dir, 'content'));
      assert.equal(ok.status, 0, ok.stderr);
      writeFileSync(path.join(dir, 'other'), hash.replace('b0', 'b1'));
      assert.notEqual(verify(path.join(dir, 'other')).status, 0, 'a different root hash must not verify');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
}

const DEFS: Record<string, string> = {
  '10-root.conf': '[Partition]\nType=root\nCopyBlocks=%DIR%/data.bin\nVerity=data\nVerityMatchKey=r\n',
  '20-root-verity.conf': '[Partition]\nType=root-verity\nVerity=hash\nVerityMatchKey=r\nMinimize=best\n',
  '30-root-verity-sig.conf': '[Partition]\nType=root-verity-sig\nVerity=signature\nVerityMatchKey=r\n',
};

function setup(dir: string): void {
  mkdirSync(path.join(dir, 'defs'));
  for (const [n, c] of Object.entries(DEFS)) writeFileSync(path.join(dir, 'defs', n), c.replaceAll('%DIR%', dir));
  const data = Buffer.alloc(4096 * 64);
  for (let i = 0; i < data.length; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
  writeFileSync(path.join(dir, 'data.bin'), data);
}

test('signing needs --private-key= and --certificate= that belong together; nothing is left behind otherwise', { skip: haveOpenssl ? false : 'openssl not installed' }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'verity-sig-'));
  try {
    setup(dir);
    const rsa = keyPair(dir, 'rsa'), ec = keyPair(dir, 'ec');
    const args = ['--quiet', '--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=off', '--dry-run=no'];
    const noKey = runOurs([...args, 'a.raw'], dir);
    assert.equal(noKey.status, 1);
    assert.match(noKey.stderr, /30-root-verity-sig\.conf: Verity signature partition signing requested but no private key provided \(--private-key=\)/);
    const mismatch = runOurs([...args, `--private-key=${ec.key}`, `--certificate=${rsa.cert}`, 'a.raw'], dir);
    assert.equal(mismatch.status, 1);
    assert.match(mismatch.stderr, /the private key does not belong to the certificate/);
    assert.equal(existsSync(path.join(dir, 'a.raw')), false);
    // a dry run needs no key, and says which root hash would be signed
    writeFileSync(path.join(dir, 'b.raw'), '');
    const dry = runOurs([...args.filter((a) => !['--json=off', '--dry-run=no', '--empty=create'].includes(a)), '--empty=force', '--json=short', '--dry-run=yes', 'b.raw'], dir);
    assert.equal(dry.status, 0, dry.stderr);
    const rows = JSON.parse(dry.stdout) as { type: string; roothash: string }[];
    assert.match(rows.find((x) => x.type.endsWith('-verity-sig'))!.roothash, /^[0-9a-f]{64}$/);
    assert.equal(readFileSync(path.join(dir, 'b.raw')).length, 0, 'a dry run writes nothing');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('--join-signature= (258+): a signature made elsewhere completes an image whose signature partition was deferred; identical to systemd-repart 262', { skip: !haveOpenssl ? 'openssl not installed' : referenceSkipReason('sid') ?? false }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'verity-sig-'));
  try {
    setup(dir);
    const { key, cert } = keyPair(dir, 'rsa');
    const base = ['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--json=short', '--dry-run=no'];
    const first = runReference('sid', [...base, '--empty=create', '--size=auto', '--defer-partitions=root-verity-sig', 'first.raw'], dir);
    assert.equal(first.status, 0, first.stderr);
    const hash = (JSON.parse(first.stdout) as { type: string; roothash: string }[]).find((x) => x.type.endsWith('-verity'))!.roothash;
    // offline signing, as the systemd-repart manual shows it
    writeFileSync(path.join(dir, 'roothash'), hash);
    const s = spawnSync('openssl', ['smime', '-sign', '-binary', '-noattr', '-outform', 'DER', '-in', path.join(dir, 'roothash'), '-signer', cert, '-inkey', key, '-out', path.join(dir, 'roothash.p7s')], { encoding: 'utf8' });
    assert.equal(s.status, 0, s.stderr);
    for (const f of ['ref.raw', 'ours.raw', 'bad.raw', 'nocert.raw']) writeFileSync(path.join(dir, f), readFileSync(path.join(dir, 'first.raw')));
    const join = [`--join-signature=${hash}:roothash.p7s`, `--certificate=${cert}`];
    const r = runReference('sid', [...base, ...join, 'ref.raw'], dir);
    assert.equal(r.status, 0, r.stderr);
    const o = runOurs(['--quiet', ...base, ...join, 'ours.raw'], dir);
    assert.equal(o.status, 0, o.stderr);
    assert.equal(o.stdout.replaceAll('ours.raw', 'IMG'), r.stdout.replaceAll('ref.raw', 'IMG'), 'JSON');
    assert.ok(readFileSync(path.join(dir, 'ours.raw')).equals(readFileSync(path.join(dir, 'ref.raw'))), 'whole image');
    // a signature for another root hash is refused, and so is a missing certificate (as repart does)
    const other = hash.slice(0, 10) + (hash[10] === '0' ? '1' : '0') + hash.slice(11);
    const bad = runOurs(['--quiet', ...base, `--join-signature=${other}:roothash.p7s`, `--certificate=${cert}`, 'bad.raw'], dir);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /does not verify/);
    const nocert = runOurs(['--quiet', ...base, `--join-signature=${hash}:roothash.p7s`, 'nocert.raw'], dir);
    assert.equal(nocert.status, 1);
    assert.match(nocert.stderr, /Verity signature specified without --certificate=/);
    for (const f of ['bad.raw', 'nocert.raw']) assert.ok(readFileSync(path.join(dir, f)).equals(readFileSync(path.join(dir, 'first.raw'))), `${f} untouched`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

for (const suite of ['trixie', 'sid'] as Suite[]) {
  const skip = !haveOpenssl ? 'openssl not installed' : referenceSkipReason(suite) ?? false;
  test(`a signed verity triple: the whole image is identical to systemd-repart (${suite})`, { skip }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'verity-sig-'));
    try {
      setup(dir);
      const { key, cert } = keyPair(dir, 'rsa');
      const args = ['--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short', '--dry-run=no',
        `--private-key=${key}`, `--certificate=${cert}`];
      const r = runReference(suite, [...args, 'ref.raw'], dir);
      assert.equal(r.status, 0, r.stderr);
      const o = runOurs([...(suite === 'trixie' ? ['--compat=257'] : []), '--quiet', ...args, 'ours.raw'], dir);
      assert.equal(o.status, 0, o.stderr);
      assert.equal(o.stdout.replaceAll('ours.raw', 'IMG'), r.stdout.replaceAll('ref.raw', 'IMG'), 'JSON');
      const rows = JSON.parse(o.stdout) as { type: string; offset: number; raw_size: number; roothash: string }[];
      const sig = rows.find((x) => x.type.endsWith('-verity-sig'))!;
      const img = readFileSync(path.join(dir, 'ours.raw'));
      const text = img.subarray(sig.offset, sig.offset + sig.raw_size).toString('latin1').replace(/\0+$/, '');
      assert.equal(JSON.parse(text).rootHash, sig.roothash);
      assert.ok(img.equals(readFileSync(path.join(dir, 'ref.raw'))), 'whole image');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
}

for (const ddi of ['sysext', 'confext', 'portable'] as const) {
  test(`--make-ddi=${ddi}: a signed erofs DDI from the built-in definitions, identical to systemd-repart 257`, { skip: !haveOpenssl ? 'openssl not installed' : referenceSkipReason('trixie') ?? false }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'verity-ddi-'));
    try {
      const tree = path.join(dir, 'tree');
      for (const d of ['usr/lib/extension-release.d', 'usr/bin', 'opt/foo', 'etc/extension-release.d']) mkdirSync(path.join(tree, d), { recursive: true });
      writeFileSync(path.join(tree, 'usr/lib/extension-release.d/extension-release.foo'), 'ID=_any\n');
      writeFileSync(path.join(tree, 'etc/extension-release.d/extension-release.foo'), 'ID=_any\n');
      writeFileSync(path.join(tree, 'usr/bin/foo'), '#!/bin/sh\necho foo\n');
      writeFileSync(path.join(tree, 'opt/foo/data'), Buffer.alloc(50_000, 7));
      const { key, cert } = keyPair(dir, 'rsa');
      const env = { SOURCE_DATE_EPOCH: '1700000000' };
      const args = ['--offline=yes', '-s', 'tree', `--seed=${SEED}`, `--private-key=${key}`, `--certificate=${cert}`, '--json=short'];
      const r = runReference('trixie', [`--make-ddi=${ddi}`, ...args, 'ref.raw'], dir, env);
      assert.equal(r.status, 0, r.stderr);
      // the short option, as systemd-repart spells it
      const o = runOurs(['--compat=257', '--quiet', `-${ddi[0]!.toUpperCase()}`, ...args, 'ours.raw'], dir, env);
      assert.equal(o.status, 0, o.stderr);
      assert.equal(o.stdout.replaceAll('ours.raw', 'IMG'), r.stdout.replaceAll('ref.raw', 'IMG'), 'JSON (names the definitions by systemd\'s paths)');
      assert.ok(readFileSync(path.join(dir, 'ours.raw')).equals(readFileSync(path.join(dir, 'ref.raw'))), 'whole image');
      // without a key there is nothing to sign with
      const nokey = runOurs(['--quiet', `--make-ddi=${ddi}`, '--offline=yes', '-s', 'tree', 'nokey.raw'], dir, env);
      assert.equal(nokey.status, 1);
      assert.match(nokey.stderr, /30-root-verity-sig\.conf: Verity signature partition signing requested but no private key provided/);
      assert.equal(existsSync(path.join(dir, 'nokey.raw')), false);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
}
