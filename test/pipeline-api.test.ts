/**
 * Fast tier: the library API (buildImage, buildRequest) in process, without root: a real image is
 * written and read back, the build's single clock makes two builds identical, root hashes come
 * back in the result, errors cross boundaries as data, and the compat record names the
 * differences the old version numbers encoded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildImage, buildRequest, compatFor, FsError, mangleLinuxLabel, RepartError, fsLabelFor } from '../src/index.js';
import { readGpt } from '../src/gpt/table.js';
import { formatUuid } from '../src/gpt/guid.js';
import { parseUuid } from '../src/gpt/guid.js';

const SEED = parseUuid('e2a40bf9-73f1-4278-9160-49c031e7aef8')!;

function scratch(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'pipeline-api-'));
}

function defs(dir: string, files: Record<string, string>): string {
  const d = path.join(dir, 'defs');
  mkdirSync(d, { recursive: true });
  for (const [n, body] of Object.entries(files)) writeFileSync(path.join(d, n), `[Partition]\n${body}\n`);
  return d;
}

const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

test('buildImage writes an image whose GPT is what the result reports', { timeout: 60_000 }, async () => {
  const dir = scratch();
  try {
    mkdirSync(path.join(dir, 'esp/EFI'), { recursive: true });
    writeFileSync(path.join(dir, 'esp/EFI/hello.txt'), 'hello\n');
    const d = defs(dir, { '00-esp.conf': `Type=esp\nFormat=vfat\nSizeMinBytes=64M\nCopyFiles=${dir}/esp:/`, '10-root.conf': 'Type=root\nSizeMinBytes=16M\nSizeMaxBytes=16M' });
    const image = path.join(dir, 'disk.raw');
    const r = await buildImage(buildRequest(image, { definitions: [d], empty: 'create', size: 'auto', dryRun: false, seed: SEED, sourceDateEpoch: 1700000000 }));
    assert.deepEqual(r.written, [image]);
    assert.equal(r.changed, true);
    assert.ok(r.plan);
    const fd = readFileSync(image);
    const gpt = await readGpt(async (off, len) => fd.subarray(Number(off), Number(off) + len), BigInt(fd.length));
    assert.ok(gpt);
    const entries = gpt.table.entries.filter((e) => e !== null);
    assert.deepEqual(entries.map((e) => formatUuid(e!.partGuid)), r.rows.map((row) => row.uuid));
    assert.deepEqual(entries.map((e) => e!.firstLba * 512n), r.rows.map((row) => row.offset));
    assert.equal(r.stats?.partitions.length, 1, 'one formatted partition');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('one injected clock: two builds without SOURCE_DATE_EPOCH at the same "now" are identical', { timeout: 60_000 }, async () => {
  const dir = scratch();
  try {
    mkdirSync(path.join(dir, 'esp'), { recursive: true });
    writeFileSync(path.join(dir, 'esp/a.txt'), 'a\n');
    const d = defs(dir, { '00-esp.conf': `Type=esp\nFormat=vfat\nSizeMinBytes=64M\nCopyFiles=${dir}/esp:/\nMakeDirectories=/new` });
    const build = async (name: string, now: number) => {
      const image = path.join(dir, name);
      await buildImage(buildRequest(image, { definitions: [d], empty: 'create', size: 'auto', dryRun: false, seed: SEED, now }));
      return sha(image);
    };
    const a = await build('a.raw', 1_600_000_000_000);
    const b = await build('b.raw', 1_600_000_000_000);
    const c = await build('c.raw', 1_700_000_000_000);
    assert.equal(a, b, 'same now, same bytes');
    assert.notEqual(a, c, 'the time stamps come from the injected now');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('root hashes come back in the result (Verity= pair over a CopyBlocks= file)', { timeout: 60_000 }, async () => {
  const dir = scratch();
  try {
    writeFileSync(path.join(dir, 'blob.bin'), Buffer.alloc(1 << 20, 0x5a));
    const d = defs(dir, {
      '10-data.conf': `Type=root\nCopyBlocks=${dir}/blob.bin\nVerity=data\nVerityMatchKey=r`,
      '20-hash.conf': 'Type=root-verity\nVerity=hash\nVerityMatchKey=r\nMinimize=best',
    });
    const image = path.join(dir, 'disk.raw');
    const dry = await buildImage(buildRequest(image, { definitions: [d], empty: 'create', size: 'auto', dryRun: true, seed: SEED }));
    assert.equal(existsSync(image), false, 'a dry run writes nothing');
    const r = await buildImage(buildRequest(image, { definitions: [d], empty: 'create', size: 'auto', dryRun: false, seed: SEED }));
    const hashes = Object.values(r.rootHashes);
    assert.equal(hashes.length, 2);
    assert.match(hashes[0]!, /^[0-9a-f]{64}$/);
    assert.equal(hashes[0], hashes[1]);
    assert.deepEqual(dry.rootHashes, r.rootHashes, 'the dry run hashed the same data');
    // the pair is named by the root hash: data UUID = first 16 bytes, hash UUID = last 16
    const h = hashes[0]!;
    const uuid = (x: string) => `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
    assert.deepEqual(r.rows.map((row) => row.uuid).sort(), [uuid(h.slice(0, 32)), uuid(h.slice(32))].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('errors: the location is formatted from where, never baked into the text; they cross as data', () => {
  const e = new FsError('E_FS_NO_SPACE', 'does not fit', { file: '/x/10-root.conf', line: 3, key: 'Minimize' });
  assert.equal(e.detail, 'does not fit');
  assert.equal(e.message, '/x/10-root.conf:3: Minimize=: does not fit');
  const moved = e.at({ file: '/y/20-home.conf' });
  assert.equal(moved.message, '/y/20-home.conf: does not fit', 'one location, not two');
  const back = RepartError.fromJSON(JSON.parse(JSON.stringify(e.toJSON())));
  assert.ok(back instanceof FsError);
  assert.equal(back.code, 'E_FS_NO_SPACE');
  assert.deepEqual(back.where, e.where);
  assert.equal(back.message, e.message);
});

test('compat record: each 257/262 difference has a name', () => {
  const a = compatFor(257), b = compatFor(262);
  assert.equal(a.allocator262, false);
  assert.equal(b.allocator262, true);
  assert.equal(a.toolsSuite, 'trixie');
  assert.equal(b.toolsSuite, 'sid');
  assert.equal(compatFor(259).luksVolumeLabel, true);
  assert.equal(compatFor(258).luksVolumeLabel, false);
});

test('format facts: one label mangling (UTF-8 bytes, character boundary, lone surrogates refused)', () => {
  assert.equal(fsLabelFor('ext4', 'ääääääää€'), 'ääääääää');
  assert.equal(fsLabelFor('swap', 'a-very-long-swap-label'), 'a-very-long-swa');
  assert.equal(fsLabelFor('vfat', 'whatever-long-label'), 'whatever-long-label', 'vfat mangles its own way');
  assert.equal(mangleLinuxLabel('abc', 2), 'ab');
  assert.throws(() => mangleLinuxLabel('a\uD800', 16), (e: unknown) => e instanceof RepartError && e.code === 'E_FS');
});
