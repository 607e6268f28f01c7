import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from '../src/gpt/crc32.js';
import { formatUuid, parseUuid, uuidFromDisk, uuidToDisk } from '../src/gpt/guid.js';
import { decodeGptHeader, encodeGptHeader } from '../src/gpt/header.js';
import { decodeGptEntry, encodeGptEntry } from '../src/gpt/entry.js';
import { decodeProtectiveMbr, encodeProtectiveMbr, protectiveSizeFor } from '../src/gpt/mbr.js';
import { encodeGpt, gptGeometry, readGpt } from '../src/gpt/table.js';
import { resolveTypeName, typeForArchitecture, typeFromUuid } from '../src/gpt/types.js';

test('CRC-32 is the IEEE/zlib one', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('GUIDs: string order ↔ mixed-endian disk order (ESP example of the spec)', () => {
  const u = parseUuid('c12a7328-f81f-11d2-ba4b-00a0c93ec93b')!;
  assert.equal(Buffer.from(uuidToDisk(u)).toString('hex'), '28732ac11ff8d211ba4b00a0c93ec93b');
  assert.equal(formatUuid(uuidFromDisk(uuidToDisk(u))), 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
  assert.deepEqual(parseUuid('C12A7328F81F11D2BA4B00A0C93EC93B'), u);
  assert.equal(parseUuid('c12a7328-f81f-11d2-ba4b-00a0c93ec93'), null);
  assert.equal(parseUuid('c12a7328f-81f-11d2-ba4b-00a0c93ec93b'), null);
});

test('protective MBR bytes (spec §1.4 measured example) and round trip', () => {
  const b = encodeProtectiveMbr({ sizeInLba: protectiveSizeFor(350248n) });
  assert.equal(Buffer.from(b.subarray(0x1be, 0x1ce)).toString('hex'), '00000200eeffffff0100000027580500');
  assert.equal(b[510], 0x55);
  assert.equal(b[511], 0xaa);
  assert.ok(b.subarray(0, 446).every((x) => x === 0));
  assert.deepEqual(decodeProtectiveMbr(b), { sizeInLba: 350247 });
  assert.equal(protectiveSizeFor(1n << 40n), 0xffffffff);
});

test('header and entry codecs round-trip', () => {
  const h = {
    myLba: 1n, alternateLba: 999n, firstUsableLba: 2048n, lastUsableLba: 965n,
    diskGuid: parseUuid('ef7f7ee2-47b3-4251-b1a1-09ea8bf12d5d')!, entriesLba: 2n, numEntries: 128, entrySize: 128, entriesCrc32: 0xdeadbeef,
  };
  const d = decodeGptHeader(encodeGptHeader(h, 4096))!;
  assert.ok(d.headerCrcOk);
  const { headerCrcOk: _, ...rest } = d;
  assert.deepEqual(rest, h);
  const e = {
    typeGuid: parseUuid('4f68bce3-e8cd-4db1-96e7-fbcaf984b709')!, partGuid: parseUuid('ce9c76eb-a8f1-40ff-813c-11dca6c0a55b')!,
    firstLba: 2048n, lastLba: 4095n, attributes: 0x8000000000000000n, name: 'Grüße-日本-0123456789012345678901',
  };
  assert.deepEqual(decodeGptEntry(encodeGptEntry(e)), e);
  assert.equal(decodeGptEntry(new Uint8Array(128)), null);
  assert.throws(() => encodeGptEntry({ ...e, name: 'x'.repeat(37) }), RangeError);
});

test('geometry: first usable LBA follows libfdisk (1 MiB, or 34/6 below 4 MiB)', () => {
  assert.equal(gptGeometry(1n << 30n, 512).firstUsableLba, 2048n);
  assert.equal(gptGeometry(1n << 30n, 512).lastUsableLba, 2097118n);
  assert.equal(gptGeometry(1n << 30n, 4096).firstUsableLba, 256n);
  assert.equal(gptGeometry(1n << 30n, 4096).lastUsableLba, 262144n - 6n);
  assert.equal(gptGeometry(1093632n, 512).firstUsableLba, 34n);
  assert.equal(gptGeometry(3n << 20n, 4096).firstUsableLba, 6n);
  assert.equal(gptGeometry(4n << 20n, 512).firstUsableLba, 34n);
  assert.equal(gptGeometry((4n << 20n) + 4096n, 512).firstUsableLba, 2048n);
});

test('whole table: spec §1.10 test vector CRCs, decoded back by readGpt', async () => {
  const geo = gptGeometry(1n << 30n, 512);
  const t = (s: string) => resolveTypeName(s)!.uuid;
  const u = (s: string) => parseUuid(s)!;
  const entries = [
    { typeGuid: t('srv'), partGuid: u('4898ee7d-de9e-42af-8a35-a48ccff99443'), firstLba: 2048n, lastLba: 335279n, attributes: 0x0800000000000000n, name: 'srv' },
    { typeGuid: t('var'), partGuid: u('7a65c868-156a-468e-885d-bef887d75779'), firstLba: 335280n, lastLba: 540079n, attributes: 0x0800000000000000n, name: 'var' },
    { typeGuid: t('srv'), partGuid: u('33565d08-5fbc-4179-9bae-e36fd5271f4d'), firstLba: 706696n, lastLba: 1706399n, attributes: 0x0800000000000000n, name: 'mysrv' },
    { typeGuid: t('swap'), partGuid: u('2aa78cdb-59c7-4173-af11-c7453737a5d1'), firstLba: 1706400n, lastLba: 1706527n, attributes: 0x8000000000000000n, name: 'swap' },
    { typeGuid: t('root-x86-64-verity'), partGuid: u('caee3e11-0d5a-49e0-9898-9d798c3c1c62'), firstLba: 1706528n, lastLba: 1722911n, attributes: 0x1000000000000000n, name: 'root-x86-64-verity' },
    { typeGuid: t('home'), partGuid: u('a6005774-f558-4330-a8e5-d6d2c01c01d6'), firstLba: 1722912n, lastLba: 2056151n, attributes: 0x8800000000000000n, name: 'home' },
    { typeGuid: t('esp'), partGuid: u('34cf7fec-8be1-486f-8bd9-614094ea5c3d'), firstLba: 2056152n, lastLba: 2097111n, attributes: 0n, name: 'esp' },
  ];
  const g = encodeGpt({ diskGuid: u('ef7f7ee2-47b3-4251-b1a1-09ea8bf12d5d'), entries }, geo);
  const dv = new DataView(g.head.buffer);
  assert.equal(dv.getUint32(512 + 16, true), 0x60437a62);
  assert.equal(dv.getUint32(512 + 88, true), 0xf276dee6);
  assert.equal(new DataView(g.tail.buffer).getUint32(g.tail.length - 512 + 16, true), 0xf8b90bbe);
  assert.equal(Buffer.from(g.head.subarray(1024, 1024 + 64)).toString('hex'),
    '25848f3be0203b4f907f1a25a76f98e87dee98489edeaf428a35a48ccff994430008000000000000af1d05000000000000000000000000087300720076000000');
  assert.equal(g.tailOffset, (2097152n - 33n) * 512n);
  const image = new Uint8Array(Number(g.tailOffset) + g.tail.length);
  image.set(g.head, 0);
  image.set(g.tail, Number(g.tailOffset));
  const r = (await readGpt(async (off, len) => image.subarray(Number(off), Number(off) + len), BigInt(image.length)))!;
  assert.equal(r.sectorSize, 512);
  assert.deepEqual(r.table.entries, entries);
});

test('type names: aliases, native shortcuts, --architecture rewriting, unknown UUIDs', () => {
  assert.equal(resolveTypeName('root-amd64')!.name, 'root-x86-64');
  assert.equal(resolveTypeName('usr-aarch64-verity')!.name, 'usr-arm64-verity');
  assert.equal(resolveTypeName('root', 'x86-64')!.name, 'root-x86-64');
  assert.equal(resolveTypeName('root-secondary-verity', 'x86-64')!.name, 'root-x86-verity');
  assert.equal(resolveTypeName('usr-secondary', 'arm64')!.name, 'usr-arm');
  assert.equal(resolveTypeName('root-secondary', 'riscv64'), null);
  assert.equal(resolveTypeName('rooot'), null);
  assert.equal(typeForArchitecture(resolveTypeName('root-x86')!, 'arm64').name, 'root-arm64');
  assert.equal(typeForArchitecture(resolveTypeName('home')!, 'arm64').name, 'home');
  assert.equal(typeForArchitecture(resolveTypeName('root')!, 'sparc').name, resolveTypeName('root')!.name);
  const unk = resolveTypeName('12345678-1234-1234-1234-123456789ABC')!;
  assert.equal(unk.name, '12345678-1234-1234-1234-123456789abc');
  assert.equal(unk.role, null);
  assert.equal(typeFromUuid(parseUuid('0fc63daf-8483-4772-8e79-3d69d8477de4')!).name, 'linux-generic');
});
