/**
 * dm-verity against the real systemd-repart 257 (trixie) and 262 (sid): a CopyBlocks= data
 * partition with Verity=data and a Verity=hash sibling. Our hash tree over the oracle's data
 * partition must equal the oracle's hash partition byte for byte, with the same root hash,
 * partition UUIDs and hash partition size. Skipped without root or the oracle.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { referenceSkipReason, runReference, type Suite } from '../helpers/reference.js';
import {
  decodeVeritySuperblock, deriveVeritySalt, deriveVerityUuid, formatVerityHash, repartVerityHashSize, verityHashBytes, verityPartitionUuids,
} from '../../src/verity/index.js';
import { formatUuid, parseUuid } from '../../src/gpt/guid.js';

const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';
// 3 MiB + 5 sectors: the data partition (rounded to 4096) has a partly filled last block
const SOURCE_BYTES = 3 * 1024 * 1024 + 5 * 512;

interface Case {
  name: string;
  data?: string[];
  hash?: string[];
  args?: string[];
  bs: number;
  /** Minimize=best on the hash partition hashes the CopyBlocks= source itself, not the partition */
  hashesSource?: boolean;
  hashSize?: (sourceBytes: number) => number;
}

const CASES: Case[] = [
  { name: 'hash SizeMinBytes=64K', hash: ['SizeMinBytes=64K'], bs: 4096, hashSize: () => 65536 },
  {
    name: 'hash Minimize=best', hash: ['Minimize=best'], bs: 4096, hashesSource: true,
    hashSize: (src) => Math.ceil(verityHashBytes(src, 4096, 4096) / 4096) * 4096,
  },
  { name: 'data SizeMaxBytes=16M sizes the hash partition', data: ['SizeMaxBytes=16M'], bs: 4096, hashSize: () => Number(repartVerityHashSize(16n << 20n, 4096n, 4096n)) },
  { name: '512-byte verity blocks on the hash partition', hash: ['SizeMinBytes=1M', 'VerityDataBlockSizeBytes=512', 'VerityHashBlockSizeBytes=512'], bs: 512 },
  { name: '--sector-size=512: verity blocks default to the fs sector size', hash: ['SizeMinBytes=1M'], args: ['--sector-size=512'], bs: 512 },
];

function pseudoRandom(n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0, off = 0; off < n; i++, off += 32) createHash('sha256').update(`verity-${i}`).digest().copy(out, off);
  return out;
}

function readAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    closeSync(fd);
  }
}

for (const suite of ['trixie', 'sid'] as Suite[]) {
  const skip = referenceSkipReason(suite) ?? false;
  test(`verity hash partition identical to systemd-repart (${suite})`, { skip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), `verity-oracle-${suite}-`));
    try {
      const source = join(dir, 'blob.bin');
      writeFileSync(source, pseudoRandom(SOURCE_BYTES));
      const seed = parseUuid(SEED)!;
      const salt = deriveVeritySalt(seed);
      const uuid = deriveVerityUuid(seed);
      for (const [i, c] of CASES.entries()) {
        const defs = join(dir, `defs${i}`);
        mkdirSync(defs);
        writeFileSync(join(defs, '10-root.conf'), ['[Partition]', 'Type=root', `CopyBlocks=${source}`, 'Verity=data', 'VerityMatchKey=x', ...(c.data ?? []), ''].join('\n'));
        writeFileSync(join(defs, '20-root-verity.conf'), ['[Partition]', 'Type=root-verity', 'Verity=hash', 'VerityMatchKey=x', ...(c.hash ?? []), ''].join('\n'));
        const img = join(dir, `img${i}.raw`);
        const r = runReference(suite, ['--offline=yes', `--definitions=${defs}`, '--empty=create', '--size=auto', `--seed=${SEED}`, '--json=short', '--dry-run=no', ...(c.args ?? []), img], dir);
        assert.equal(r.status, 0, `${c.name}: ${r.stderr.slice(-2000)}`);
        const [dp, hp] = JSON.parse(r.stdout) as { offset: number; raw_size: number; uuid: string; roothash: string }[];
        const dataLen = c.hashesSource ? SOURCE_BYTES : dp!.raw_size;
        if (c.hashSize) assert.equal(hp!.raw_size, c.hashSize(SOURCE_BYTES), `${c.name}: hash partition size`);

        const ours = join(dir, `ours${i}`);
        writeFileSync(ours, Buffer.alloc(hp!.raw_size, 0xee));
        const res = await formatVerityHash({ path: img, offset: dp!.offset, length: dataLen }, { path: ours, offset: 0, length: hp!.raw_size },
          { dataBlockSize: c.bs, hashBlockSize: c.bs, salt, uuid });
        const theirs = readAt(img, hp!.offset, hp!.raw_size);
        assert.ok(readFileSync(ours).equals(theirs), `${c.name}: hash partition bytes differ`);
        assert.equal(res.rootHashHex, dp!.roothash, `${c.name}: root hash`);
        assert.equal(res.rootHashHex, hp!.roothash);
        const u = verityPartitionUuids(res.rootHash);
        assert.equal(formatUuid(u.data), dp!.uuid, `${c.name}: data partition UUID`);
        assert.equal(formatUuid(u.hash), hp!.uuid, `${c.name}: hash partition UUID`);
        const sb = decodeVeritySuperblock(theirs);
        assert.equal(formatUuid(sb.uuid), formatUuid(uuid));
        assert.deepEqual(Buffer.from(sb.salt), Buffer.from(salt));
        assert.equal(sb.dataBlocks, BigInt(Math.floor(dataLen / c.bs)));
      }

      // That suite's own veritysetup (cryptsetup 2.7.5 / 2.8.8) agrees, too.
      const data = join(dir, 'data.bin');
      const hash = join(dir, 'hash.bin');
      const mine = join(dir, 'mine.bin');
      writeFileSync(data, pseudoRandom(4096 * 1000));
      writeFileSync(hash, '');
      const f = runReference(suite, ['--exec', 'veritysetup', 'format', '--hash=sha256', '--format=1', '--data-block-size=4096', '--hash-block-size=4096',
        `--salt=${Buffer.from(salt).toString('hex')}`, `--uuid=${formatUuid(uuid)}`, data, hash], dir);
      assert.equal(f.status, 0, f.stderr);
      const ref = readFileSync(hash);
      writeFileSync(mine, Buffer.alloc(ref.length));
      const res = await formatVerityHash({ path: data, offset: 0, length: 4096 * 1000 }, { path: mine, offset: 0, length: ref.length }, { dataBlockSize: 4096, hashBlockSize: 4096, salt, uuid });
      assert.equal(res.rootHashHex, /Root hash:\s+([0-9a-f]+)/.exec(f.stdout)?.[1]);
      assert.ok(readFileSync(mine).equals(ref), `${suite} veritysetup format output differs`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
