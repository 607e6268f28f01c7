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
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { issuerAndSerial, readTlv, veritySignatureJson } from '../src/verity/signature.js';
import { runOurs } from './helpers/reference.js';
import { haveOpenssl, keyPair, SEED, setup } from './helpers/verity-signature.js';



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
