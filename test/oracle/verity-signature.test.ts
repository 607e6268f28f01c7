/**
 * Oracle tier: Verity=signature images against the real systemd-repart — a signed triple (whole
 * image, 257 and 262), --join-signature= (262) and --make-ddi= (257).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { referenceSkipReason, runOurs, runReference, type Suite } from '../helpers/reference.js';
import { haveOpenssl, keyPair, SEED, setup } from '../helpers/verity-signature.js';

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
