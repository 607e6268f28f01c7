/**
 * dm-verity: superblock codec, tree geometry, seed derivations, and the hash device judged by
 * the real veritysetup (Debian cryptsetup-bin): `veritysetup format` with the same parameters must
 * produce the same bytes and root hash, and `veritysetup verify` must accept ours.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decodeVeritySuperblock, deriveVeritySalt, deriveVerityUuid, encodeVeritySuperblock, formatVerityHash,
  repartVerityHashSize, verityHashBytes, verityLayout, verityPartitionUuids, VERITY_SB_SIZE, VerityTreeBuilder,
  type HashBlockRun, type VeritySuperblock,
} from '../src/verity/index.js';
import { formatUuid, parseUuid } from '../src/gpt/guid.js';
import { RepartError } from '../src/errors.js';

const SEED = parseUuid('e2a40bf9-73f1-4278-9160-49c031e7aef8')!;
const SALT = Buffer.from('64677cd9b5340bcbb7f73ecb0cb03db408f8a5ac6a6e5e810f6a7754f052c952', 'hex');
const UUID = 'ae9578dc-39f1-4c39-9498-f6d9311960d4';

const veritysetup = spawnSync('veritysetup', ['--version'], { encoding: 'utf8' });
const vsSkip = veritysetup.status === 0 ? false : 'veritysetup not installed (Debian package cryptsetup-bin)';

test('superblock: field offsets as libcryptsetup writes them, round trip', () => {
  const sb: VeritySuperblock = {
    version: 1, hashType: 1, uuid: parseUuid(UUID)!, algorithm: 'sha256',
    dataBlockSize: 4096, hashBlockSize: 512, dataBlocks: 0x1_0000_0001n, salt: SALT,
  };
  const b = encodeVeritySuperblock(sb);
  assert.equal(b.length, VERITY_SB_SIZE);
  assert.equal(Buffer.from(b.subarray(0, 8)).toString('latin1'), 'verity\0\0');
  const v = new DataView(b.buffer);
  assert.equal(v.getUint32(8, true), 1);
  assert.equal(v.getUint32(12, true), 1);
  assert.equal(formatUuid(b.subarray(16, 32)), UUID); // string order, not GPT mixed-endian
  assert.equal(Buffer.from(b.subarray(32, 38)).toString('ascii'), 'sha256');
  assert.ok(b.subarray(38, 64).every((x) => x === 0));
  assert.equal(v.getUint32(64, true), 4096);
  assert.equal(v.getUint32(68, true), 512);
  assert.equal(v.getBigUint64(72, true), 0x1_0000_0001n);
  assert.equal(v.getUint16(80, true), 32);
  assert.deepEqual(Buffer.from(b.subarray(88, 120)), SALT);
  assert.ok(b.subarray(120).every((x) => x === 0));
  const d = decodeVeritySuperblock(b);
  assert.deepEqual({ ...d, uuid: Buffer.from(d.uuid), salt: Buffer.from(d.salt) }, { ...sb, uuid: Buffer.from(sb.uuid), salt: Buffer.from(sb.salt) });
  assert.deepEqual(encodeVeritySuperblock(d), b);
  const empty = decodeVeritySuperblock(encodeVeritySuperblock({ ...sb, salt: new Uint8Array(0), hashType: 0 }));
  assert.equal(empty.salt.length, 0);
  assert.equal(empty.hashType, 0);
});

test('superblock: decode rejects what veritysetup rejects', () => {
  const good = encodeVeritySuperblock({ version: 1, hashType: 1, uuid: new Uint8Array(16), algorithm: 'sha256', dataBlockSize: 4096, hashBlockSize: 4096, dataBlocks: 1n, salt: new Uint8Array(0) });
  const bad = (f: (b: Uint8Array, v: DataView) => void) => {
    const b = Uint8Array.from(good);
    f(b, new DataView(b.buffer));
    assert.throws(() => decodeVeritySuperblock(b), RepartError);
  };
  bad((b) => { b[0] = 0x56; });
  bad((_, v) => v.setUint32(8, 2, true));
  bad((_, v) => v.setUint32(12, 2, true));
  bad((_, v) => v.setUint32(64, 1000, true));
  bad((_, v) => v.setUint32(68, 256, true));
  bad((_, v) => v.setUint16(80, 257, true));
  assert.throws(() => decodeVeritySuperblock(good.subarray(0, 100)), RepartError);
  assert.throws(() => encodeVeritySuperblock({ ...decodeVeritySuperblock(good), salt: new Uint8Array(257) }), RepartError);
});

test('geometry: levels top first after the superblock block, sizes as libcryptsetup computes them', () => {
  const l1 = verityLayout(1, 4096, 4096);
  assert.deepEqual(l1.levels, []); // the root hash is the single data block's digest
  assert.equal(l1.hashBytes, 4096);
  const l = verityLayout(16385, 4096, 4096);
  assert.deepEqual(l.levels, [{ firstBlock: 4, blocks: 129 }, { firstBlock: 2, blocks: 2 }, { firstBlock: 1, blocks: 1 }]);
  assert.equal(l.hashBytes, 133 * 4096);
  assert.equal(verityLayout(128, 4096, 4096).levels.length, 1);
  assert.equal(verityLayout(129, 4096, 4096).levels.length, 2);
  assert.equal(verityLayout(4097, 512, 512).levels.length, 4);
  assert.equal(verityLayout(4, 512, 512, false).levels[0]!.firstBlock, 0);
  // 512-byte superblock in a 4096-byte hash block, and one 512-byte hash block
  assert.equal(verityLayout(2, 4096, 512).treeStartBlock, 1);
  assert.equal(verityHashBytes(4096 * 769 + 2560, 4096, 4096), 9 * 4096); // partial trailing block not hashed
  assert.throws(() => verityLayout(10, 1000, 4096), RepartError);
  assert.throws(() => verityLayout(10, 4096, 256), RepartError);
});

test('geometry: repart calculate_verity_hash_size() (systemd TEST-58 vector: 10 GiB, 4 KiB blocks → 84557824)', () => {
  assert.equal(repartVerityHashSize(10n << 30n, 4096n, 4096n), 84557824n);
  assert.equal(repartVerityHashSize(16n << 20n, 4096n, 4096n), 139264n); // measured in 257 and 262
  for (const [bytes, dbs, hbs] of [[8192, 4096, 4096], [4096 * 129, 4096, 4096], [512 * 5000, 512, 512], [4096 * 300, 4096, 512], [64 << 20, 4096, 4096]] as const) {
    assert.equal(repartVerityHashSize(BigInt(bytes), BigInt(hbs), BigInt(dbs)), BigInt(verityHashBytes(bytes, dbs, hbs)), `${bytes}/${dbs}/${hbs}`);
  }
  // one data block: repart still counts a root block that libcryptsetup does not write
  assert.equal(repartVerityHashSize(4096n, 4096n, 4096n), 8192n);
  assert.equal(verityHashBytes(4096, 4096, 4096), 4096);
  // data rounded up to whole blocks by repart
  assert.equal(repartVerityHashSize(4096n * 128n + 1n, 4096n, 4096n), 4n * 4096n);
});

test('derivations: salt and superblock UUID from the seed; partition UUIDs are raw halves of the root hash', () => {
  assert.deepEqual(Buffer.from(deriveVeritySalt(SEED)), SALT);
  assert.equal(formatUuid(deriveVerityUuid(SEED)), UUID);
  // measured on systemd-repart 257 and 262 (CopyBlocks= + Verity=data, 769 blocks)
  const root = Buffer.from('aef592ad62e3ee1ef6ba0da4c78304a9045d15d74c259a7972218289daa72f46', 'hex');
  const u = verityPartitionUuids(root);
  assert.equal(formatUuid(u.data), 'aef592ad-62e3-ee1e-f6ba-0da4c78304a9');
  assert.equal(formatUuid(u.hash), '045d15d7-4c25-9a79-7221-8289daa72f46');
});

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'verity-test-'));
}

function vs(args: string[]): { status: number; out: string } {
  const r = spawnSync('veritysetup', args, { encoding: 'utf8' });
  return { status: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

interface Case { blocks: number; dbs: number; hbs: number; salt: 'derived' | 'none' | 'odd'; format?: 0 | 1 }

const CASES: Case[] = [
  { blocks: 1, dbs: 4096, hbs: 4096, salt: 'derived' }, // 0 levels
  { blocks: 2, dbs: 4096, hbs: 4096, salt: 'none' },
  { blocks: 128, dbs: 4096, hbs: 4096, salt: 'derived' }, // exactly one full hash block
  { blocks: 769, dbs: 4096, hbs: 4096, salt: 'derived' }, // 2 levels, partial blocks
  { blocks: 16385, dbs: 4096, hbs: 4096, salt: 'none' }, // 3 levels (64 MiB)
  { blocks: 1, dbs: 512, hbs: 512, salt: 'derived' },
  { blocks: 17, dbs: 512, hbs: 512, salt: 'derived' },
  { blocks: 257, dbs: 512, hbs: 512, salt: 'none' }, // 3 levels
  { blocks: 4097, dbs: 512, hbs: 512, salt: 'odd' }, // 4 levels, 13-byte salt
  { blocks: 1000, dbs: 512, hbs: 4096, salt: 'derived' },
  { blocks: 300, dbs: 4096, hbs: 512, salt: 'derived' },
  { blocks: 777, dbs: 4096, hbs: 4096, salt: 'derived', format: 0 },
];

function saltOf(c: Case): Buffer {
  return c.salt === 'derived' ? SALT : c.salt === 'none' ? Buffer.alloc(0) : Buffer.from('0123456789abcdef0123456789', 'hex');
}

test('hash device byte-identical to veritysetup format; veritysetup verify accepts it', { skip: vsSkip }, async () => {
  const dir = scratch();
  try {
    for (const c of CASES) {
      const name = `${c.blocks}x${c.dbs}/${c.hbs} salt=${c.salt} format=${c.format ?? 1}`;
      const data = join(dir, 'data');
      const ref = join(dir, 'ref');
      const ours = join(dir, 'ours');
      const salt = saltOf(c);
      writeFileSync(data, randomBytes(c.blocks * c.dbs));
      writeFileSync(ref, '');
      const f = vs(['format', '--hash=sha256', `--format=${c.format ?? 1}`, `--data-block-size=${c.dbs}`, `--hash-block-size=${c.hbs}`,
        `--salt=${salt.length ? salt.toString('hex') : '-'}`, `--uuid=${UUID}`, data, ref]);
      assert.equal(f.status, 0, f.out);
      const refRoot = /Root hash:\s+([0-9a-f]+)/.exec(f.out)![1]!;
      const refBytes = readFileSync(ref);
      writeFileSync(ours, Buffer.alloc(refBytes.length + 8192, 0xa5)); // zeroRest must clear the tail
      const r = await formatVerityHash({ path: data, offset: 0, length: c.blocks * c.dbs }, { path: ours, offset: 0, length: refBytes.length + 8192 },
        { dataBlockSize: c.dbs, hashBlockSize: c.hbs, salt, uuid: UUID, hashType: c.format ?? 1 });
      assert.equal(r.rootHashHex, refRoot, name);
      assert.equal(r.hashBytes, refBytes.length, name);
      const got = readFileSync(ours);
      assert.ok(got.subarray(0, refBytes.length).equals(refBytes), `${name}: hash device differs`);
      assert.ok(got.subarray(refBytes.length).every((x) => x === 0), `${name}: tail not zeroed`);
      const v = vs(['verify', data, ours, r.rootHashHex]);
      assert.equal(v.status, 0, `${name}: ${v.out}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('windows inside one image file: only the hash window is written; a flipped data byte fails verify', { skip: vsSkip }, async () => {
  const dir = scratch();
  try {
    const img = join(dir, 'img');
    const dataOff = 1 << 20, dataLen = 3 << 20, hashOff = dataOff + dataLen + 4096, hashLen = 64 << 10;
    const bytes = randomBytes(hashOff + hashLen + 4096);
    writeFileSync(img, bytes);
    const r = await formatVerityHash({ path: img, offset: BigInt(dataOff), length: BigInt(dataLen) }, { path: img, offset: BigInt(hashOff), length: BigInt(hashLen) },
      { dataBlockSize: 4096, hashBlockSize: 4096, salt: SALT, uuid: parseUuid(UUID)!, chunkBytes: 64 << 10 });
    const after = readFileSync(img);
    assert.ok(after.subarray(0, hashOff).equals(bytes.subarray(0, hashOff)), 'bytes before the hash window changed');
    assert.ok(after.subarray(hashOff + hashLen).equals(bytes.subarray(hashOff + hashLen)), 'bytes after the hash window changed');
    const data = join(dir, 'data');
    const hash = join(dir, 'hash');
    writeFileSync(data, after.subarray(dataOff, dataOff + dataLen));
    writeFileSync(hash, after.subarray(hashOff, hashOff + hashLen));
    assert.equal(vs(['verify', data, hash, r.rootHashHex]).status, 0);
    // the superblock as veritysetup reads it
    const dump = vs(['dump', hash]).out;
    assert.match(dump, /Data blocks:\s+768\b/);
    assert.match(dump, new RegExp(`UUID:\\s+${UUID}`));
    assert.match(dump, new RegExp(`Salt:\\s+${SALT.toString('hex')}`));
    const sb = decodeVeritySuperblock(after.subarray(hashOff, hashOff + 512));
    assert.equal(sb.dataBlocks, 768n);
    const corrupt = Buffer.from(after.subarray(dataOff, dataOff + dataLen));
    corrupt[12345]! ^= 1;
    writeFileSync(data, corrupt);
    assert.notEqual(vs(['verify', data, hash, r.rootHashHex]).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('root hash of a single block is sha256(salt ‖ block); errors are typed', async () => {
  const dir = scratch();
  try {
    const data = join(dir, 'data');
    const hash = join(dir, 'hash');
    const block = randomBytes(4096);
    writeFileSync(data, Buffer.concat([block, Buffer.alloc(100)])); // 100 trailing bytes: not a whole block, ignored
    writeFileSync(hash, Buffer.alloc(4096));
    const r = await formatVerityHash({ path: data, offset: 0, length: 4196 }, { path: hash, offset: 0, length: 4096 }, { dataBlockSize: 4096, hashBlockSize: 4096, salt: SALT, uuid: UUID });
    assert.equal(r.rootHashHex, createHash('sha256').update(SALT).update(block).digest('hex'));
    assert.equal(r.dataBlocks, 1);
    writeFileSync(data, randomBytes(4096 * 200));
    await assert.rejects(formatVerityHash({ path: data, offset: 0, length: 4096 * 200 }, { path: hash, offset: 0, length: 8192 }, { dataBlockSize: 4096, hashBlockSize: 4096, salt: SALT, uuid: UUID }),
      (e: RepartError) => e.code === 'E_FS_NO_SPACE' && /needs 16384 bytes/.test(e.message));
    await assert.rejects(formatVerityHash({ path: data, offset: 0, length: 4096 * 300 }, { path: hash, offset: 0, length: 1 << 20 }, { dataBlockSize: 4096, hashBlockSize: 4096, salt: SALT, uuid: UUID }),
      (e: RepartError) => e.code === 'E_IMAGE_IO' && /short/.test(e.message));
    await assert.rejects(formatVerityHash({ path: data, offset: 0, length: 4096 }, { path: hash, offset: 0, length: 8192 }, { dataBlockSize: 4096, hashBlockSize: 4096, salt: SALT, uuid: 'nope' }),
      (e: RepartError) => e.code === 'E_CONFIG_VALUE');
    await assert.rejects(formatVerityHash({ path: data, offset: 0, length: 100 }, { path: hash, offset: 0, length: 8192 }, { dataBlockSize: 4096, hashBlockSize: 4096, salt: SALT, uuid: UUID }),
      (e: RepartError) => e.code === 'E_FS');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('tree builder: output independent of read chunking and write-run size', () => {
  for (const [blocks, bs] of [[4097, 512], [16385, 4096], [129, 4096]] as const) {
    const data = Buffer.alloc(blocks * bs);
    for (let i = 0; i < blocks; i++) data.writeUInt32LE(i * 2654435761 >>> 0, i * bs);
    const layout = verityLayout(blocks, bs, bs);
    const render = (chunkBlocks: number, runBytes: number) => {
      const b = new VerityTreeBuilder(layout, SALT, 1, runBytes);
      const dev = Buffer.alloc(layout.hashBytes);
      const put = (runs: HashBlockRun[]) => { for (const r of runs) dev.set(r.bytes, r.block * bs); };
      for (let o = 0; o < data.length; o += chunkBlocks * bs) put(b.pushData(data.subarray(o, Math.min(data.length, o + chunkBlocks * bs))));
      const f = b.finish();
      put(f.runs);
      return { dev, root: Buffer.from(f.rootHash).toString('hex') };
    };
    const a = render(1024, 1 << 20);
    for (const [c, r] of [[1, bs], [3, 3 * bs], [7, 5 * bs]] as const) {
      const x = render(c, r);
      assert.equal(x.root, a.root, `${blocks}x${bs} chunk ${c} run ${r}`);
      assert.ok(x.dev.equals(a.dev), `${blocks}x${bs} chunk ${c} run ${r}`);
    }
  }
});
