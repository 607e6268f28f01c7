/**
 * Oracle tier: the same Encrypt=key-file partition built by the real systemd-repart 257 and 262
 * and by our LUKS2 writer: layout, UUID rule and label rule identical (all but the benchmarked
 * argon2 cost), the file system at the plaintext window.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encryptPartitionInPlace, luksLabel, luksPlaintextWindow } from '../../src/luks/index.js';
import { formatUuid, parseUuid } from '../../src/gpt/guid.js';
import { deriveUuid } from '../../src/plan/ids.js';
import { referenceSkipReason, runReference, type Suite } from '../helpers/reference.js';
import { cryptsetupDecrypt, luksDump, readRange, run } from '../helpers/luks.js';

const cryptsetupSkip = spawnSync('cryptsetup', ['--version']).status === 0 ? false : 'cryptsetup not installed (Debian package cryptsetup-bin)';

// ---- oracle ---------------------------------------------------------------------------------

const SEED = '0123456789abcdef0123456789abcdef';

for (const suite of ['trixie', 'sid'] as Suite[]) {
  const version = suite === 'trixie' ? 257 : 262;
  test(`oracle systemd-repart ${version}: same layout, UUID rule, label rule; file system at the plaintext window`, { skip: cryptsetupSkip }, async (t) => {
    const why = referenceSkipReason(suite);
    if (why) {
      t.skip(why);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), `luks-oracle-${suite}-`));
    try {
      mkdirSync(join(dir, 'defs'));
      writeFileSync(join(dir, 'defs', '10-home.conf'), '[Partition]\nType=home\nFormat=ext4\nEncrypt=key-file\nSizeMinBytes=100M\n');
      writeFileSync(join(dir, 'key.bin'), randomBytes(32));
      const r = runReference(suite, ['--definitions=defs', '--key-file=key.bin', '--offline=yes', '--empty=create', '--size=auto',
        `--seed=${SEED}`, '--dry-run=no', '--json=short', 'disk.img'], dir);
      assert.equal(r.status, 0, r.stderr);
      const [p] = JSON.parse(r.stdout) as { uuid: string; label: string; offset: number; raw_size: number }[];
      assert.ok(p);
      writeFileSync(join(dir, 'theirs.img'), readRange(join(dir, 'disk.img'), p.offset, p.raw_size));
      const theirs = luksDump(join(dir, 'theirs.img'));

      const uuid = formatUuid(deriveUuid(parseUuid(p.uuid)!, 'luks-uuid'));
      assert.equal(theirs.uuid, uuid, 'LUKS UUID = derive_uuid(partition UUID, "luks-uuid")');
      assert.equal(theirs.label, luksLabel(version, p.label));

      // Ours for the same partition: the file system content does not matter for the layout.
      writeFileSync(join(dir, 'ours.img'), new Uint8Array(p.raw_size));
      await encryptPartitionInPlace(join(dir, 'ours.img'), 0n, BigInt(p.raw_size), {
        keyFile: readFileSync(join(dir, 'key.bin')), uuid, label: luksLabel(version, p.label), sectorSize: 4096,
        allowDiscards: version >= 261,
      });
      const ours = luksDump(join(dir, 'ours.img'));
      // all but the benchmarked argon2 memory (theirs ~787 MiB, ours a fixed 256 MiB)
      assert.equal(theirs.keyslot.pbkdf, 'argon2id');
      assert.match(theirs.kdf.memory ?? '', /^[0-9]+$/);
      // libcryptsetup benchmarks the argon2 time cost (4 or more) and memory; ours are fixed
      assert.ok(Number(theirs.kdf.time) >= 4, `oracle time cost ${theirs.kdf.time}`);
      assert.deepEqual({ ...ours, kdf: { ...ours.kdf, memory: '', time: '' } }, { ...theirs, kdf: { ...theirs.kdf, memory: '', time: '' } });
      if (version !== 257) return;
      // Where the real tool leaves the file system: at the start of the decrypted volume,
      // exactly luksPlaintextWindow().length long (dumpe2fs on cryptsetup's own decryption).
      const dec = cryptsetupDecrypt(dir, join(dir, 'theirs.img'), join(dir, 'key.bin'), 4096);
      const fsFile = join(dir, 'their-fs.img');
      const win = luksPlaintextWindow(BigInt(p.raw_size));
      writeFileSync(fsFile, dec.subarray(0, Number(win.length)));
      const de = run('dumpe2fs', ['-h', fsFile]).stdout;
      const blocks = Number(/^Block count:\s+(\d+)/m.exec(de)![1]);
      const bsize = Number(/^Block size:\s+(\d+)/m.exec(de)![1]);
      assert.equal(BigInt(blocks * bsize), win.length);
      run('e2fsck', ['-fn', fsFile]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
