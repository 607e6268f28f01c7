/**
 * Fast-tier checks of the facts behind the TEST-58 / mkosi conformance work (issue 14), each
 * fixed by a measurement against systemd-repart 262 (recorded here as golden values): the El
 * Torito sectors, format_bytes(), the table and bar, the debug JSON columns, crypttab's
 * luks-<UUID> and fixate-volume-key=, quoted MountPoint= fields, --version for mkosi, the key
 * source options, and the allocation facts on existing tables (no oracle, no root).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeElTorito, encodeElTorito, EL_TORITO_LENGTH } from '../../src/image/el-torito.js';
import { fmtBytes } from '../../src/plan/allocate.js';
import { glyphsFor, renderTable, sizeChange } from '../../src/report/table.js';
import { formatJson, partitionsJson, type PartitionRow } from '../../src/report/json.js';
import { crypttabText, parseEncryptedVolume, volumeKeyId } from '../../src/report/crypttab.js';
import { fstabLines } from '../../src/report/fstab.js';
import { splitQuotedColonFields } from '../../src/config/values.js';
import { parseCommandLine } from '../../src/config/cli.js';
import { versionText } from '../../src/report/version.js';
import { run } from '../../src/cli/run.js';
import { readGpt } from '../../src/gpt/table.js';
import type { PlannedPartition } from '../../src/plan/plan.js';

const SEED = '750b6cd5c4ae4012a15e7be3c29e6a47';

describe('El Torito boot catalog (--el-torito=yes)', () => {
  const opts = { espOffset: 1048576n, system: 'sys-lower', volume: 'Vol_1.x', publisher: 'pub lisher', time: 1700000000 };
  it('is byte for byte what 262 writes (sectors 16-20 of its image, SOURCE_DATE_EPOCH=1700000000)', () => {
    const b = encodeElTorito(opts);
    assert.equal(b.length, EL_TORITO_LENGTH);
    assert.equal(createHash('sha256').update(b).digest('hex'), 'aa63c32419df86207f6b0191066009ac5beb71b7c323030255f1df876eec9ac5');
  });
  it('decodes back: identifiers, catalog, EFI default entry at the ESP', () => {
    const d = decodeElTorito(encodeElTorito(opts))!;
    assert.deepEqual({ ...d }, {
      system: 'sys-lower', volume: 'Vol_1.x', publisher: 'pub lisher', application: 'SYSTEMD-REPART', catalogSector: 19,
      platform: 0xef, bootable: true, loadRba: 512, created: '2023111422132000',
    });
    assert.equal(decodeElTorito(Buffer.alloc(EL_TORITO_LENGTH)), null);
  });
  it('the options: 32/32/128 characters, refused beyond; 257 does not know them', () => {
    assert.equal(parseCommandLine(['--el-torito=yes', `--el-torito-volume=${'v'.repeat(32)}`, 'x']).elTorito, true);
    assert.throws(() => parseCommandLine([`--el-torito-volume=${'v'.repeat(33)}`, 'x']), /Invalid value .* for --el-torito-volume=/);
    assert.throws(() => parseCommandLine([`--el-torito-publisher=${'p'.repeat(129)}`, 'x']), /--el-torito-publisher=/);
    assert.throws(() => parseCommandLine(['--compat=257', '--el-torito=yes', 'x']), /261 or newer/);
  });
  it('an image without an ESP is refused and not written', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'eltorito-'));
    try {
      mkdirSync(path.join(dir, 'defs'));
      writeFileSync(path.join(dir, 'defs/root.conf'), '[Partition]\nType=root\nSizeMinBytes=15M\n');
      let err = '';
      const st = await run(['--definitions', path.join(dir, 'defs'), '--empty=create', '--size=auto', '--dry-run=no', '--el-torito=yes', path.join(dir, 'img')],
        { stdout: () => {}, stderr: (s) => { err += s; }, isTTY: false, env: {} });
      assert.equal(st, 1);
      assert.match(err, /El Torito boot catalog requires an ESP/);
      assert.throws(() => readFileSync(path.join(dir, 'img')));
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

describe('format_bytes() and the table', () => {
  it('truncates the decimal as systemd does', () => {
    assert.equal(fmtBytes(103788544n), '98.9M'); // 98.98M: 262 prints 98.9M
    assert.equal(fmtBytes(33554432n), '32M');
    assert.equal(fmtBytes(70234112n), '66.9M');
    assert.equal(fmtBytes(512n), '512B');
    assert.equal(fmtBytes(1536n), '1.5K');
  });
  it('sizes and paddings as "-> 32M", "14M -> 0B" (SYSTEMD_UTF8=0) or with →', () => {
    const ascii = glyphsFor({ SYSTEMD_UTF8: '0' });
    assert.equal(sizeChange(undefined, 33554432n, ascii), '-> 32M');
    assert.equal(sizeChange(14680064n, 0n, ascii), '14M -> 0B');
    assert.equal(sizeChange(10485760n, 10485760n, glyphsFor({})), '10M');
    assert.equal(sizeChange(undefined, 0n, glyphsFor({})), '→ 0B');
  });

  const row = (o: Partial<PartitionRow>): PartitionRow => ({
    type: 'root-x86-64', label: 'root-x86-64', uuid: '60f33797-1d71-4dcb-aa6f-20564f036cd0', partno: 0, file: null, node: '/i/zzz1',
    offset: 1048576n, oldSize: 67088384n, rawSize: 67088384n, oldPadding: 0n, rawPadding: 0n, activity: 'unchanged', ...o,
  });
  const rows = [
    row({}),
    row({ type: 'esp', label: 'esp', uuid: '39107b09-615d-48fb-ba37-c663885fce67', partno: 1, node: '/i/zzz2', offset: 68136960n, oldSize: 20971520n, rawSize: 20971520n }),
    row({ type: 'swap', label: 'sw', uuid: '78c92db8-3d2b-4823-b0dc-792b78f66f1e', partno: 2, node: '/i/zzz3', offset: 89108480n, oldSize: 10485760n, rawSize: 10485760n, oldPadding: 5242880n, rawPadding: 5242880n }),
  ];
  it('listing an existing table: 262\'s table, sum row, bar and legend (SYSTEMD_UTF8=0, 80 columns)', () => {
    const out = renderTable(rows, 104857600n, { legend: true, compat: 262, width: 80, color: false, glyphs: glyphsFor({ SYSTEMD_UTF8: '0' }) });
    assert.equal(out, [
      'TYPE        LABEL       UUID                                 PART FILE RAW SIZE      SIZE PADDING',
      'root-x86-64 root-x86-64 60f33797-1d71-4dcb-aa6f-20564f036cd0    0      67088384     63.9M      0B',
      'esp         esp         39107b09-615d-48fb-ba37-c663885fce67    1      20971520       20M      0B',
      'swap        sw          78c92db8-3d2b-4823-b0dc-792b78f66f1e    2      10485760       10M      5M',
      '                                                                                S = 93.9M  S = 5M',
      '',
      ` ${'X'.repeat(74)}----`,
      ` |${' '.repeat(49)}|${' '.repeat(15)}\`- sw${' '.repeat(7)}`,
      ` |${' '.repeat(49)}\`- esp${' '.repeat(22)}`,
      ` \`- root-x86-64${' '.repeat(64)}`,
      '', '',
    ].join('\n'));
  });
  it('257: PARTNO, left-aligned except SIZE', () => {
    const out = renderTable(rows, 104857600n, { legend: true, compat: 257, width: 80, color: false, glyphs: glyphsFor({}) });
    assert.match(out.split('\n')[0]!, /^TYPE {8}LABEL {7}UUID {33}PARTNO FILE RAW SIZE {6}SIZE PADDING$/);
    assert.match(out.split('\n')[1]!, / 0 {11}67088384 {5}63\.9M 0B$/);
  });
  it('--json under SYSTEMD_LOG_LEVEL=debug: "size" after raw_size, "padding" after raw_padding', () => {
    const j = formatJson(partitionsJson([row({ activity: 'create', oldSize: 0n, rawSize: 33554432n, rawPadding: 70234112n })], 262, glyphsFor({ SYSTEMD_UTF8: '0' })), 'pretty');
    assert.match(j, /"raw_size" : 33554432,\n\t\t"size" : "-> 32M",\n\t\t"old_padding" : 0,\n\t\t"raw_padding" : 70234112,\n\t\t"padding" : "-> 66.9M",\n\t\t"activity" : "create"/);
    assert.doesNotMatch(formatJson(partitionsJson([row({})], 262), 'short'), /"size"/);
  });
});

describe('fstab and crypttab (262)', () => {
  const p = (o: { role?: string; format?: string; mountPoints?: string[]; mountOptions?: string[]; encryptedVolume?: string }): PlannedPartition => ({
    def: { format: o.format, mountPoints: o.mountPoints ?? [], mountOptions: o.mountOptions ?? [], encrypt: 'key-file', encryptedVolume: o.encryptedVolume },
    type: { role: o.role ?? null }, dropped: false,
  }) as unknown as PlannedPartition;
  it('MountPoint= fields: quotes group, keep the colon, are removed', () => {
    assert.deepEqual(splitQuotedColonFields('/:"subvol=@,zstd:1,noatime,lazytime"'), ['/', 'subvol=@,zstd:1,noatime,lazytime']);
    assert.deepEqual(splitQuotedColonFields('/srv:a:b'), ['/srv', 'a', 'b']);
    assert.equal(splitQuotedColonFields('/x:"open'), null);
  });
  it('mount points on the root partition all get pass 1 (2 elsewhere)', () => {
    const root = p({ role: 'root', format: 'btrfs', mountPoints: ['/', '/home'], mountOptions: ['subvol=@', 'subvol=@home'] });
    const srv = p({ role: 'srv', format: 'ext4', mountPoints: ['/srv'] });
    const lines = fstabLines([root, srv], () => 'u', 262);
    assert.deepEqual(lines.map((l) => l.split(' ').slice(1, 2).concat(l.split(' ').slice(-1))), [['/', '1'], ['/home', '1'], ['/srv', '2']]);
    assert.equal(fstabLines([root], () => 'u', 257)[1]!.endsWith(' 0 2'), true);
  });
  it('EncryptedVolume=: luks-<UUID> for an empty name, unknown extra options warned about', () => {
    const t = crypttabText([p({ encryptedVolume: ':none:discard' })], () => 'c18c486e-56b5-40e5-a0e4-18f043778732');
    assert.match(t, /^luks-c18c486e-56b5-40e5-a0e4-18f043778732 UUID=c18c486e-56b5-40e5-a0e4-18f043778732 none discard$/m);
    const warned: string[] = [];
    assert.deepEqual(parseEncryptedVolume('v2:::bogus', (m) => warned.push(m)), { name: 'v2', keyFile: '', options: '', fixateVolumeKey: false });
    assert.deepEqual(warned, ["Unknown extra option 'bogus', ignoring"]);
  });
  it('fixate-volume-key= is HMAC-SHA256(volume key, "cryptsetup:<name>:<LUKS UUID>") (262\'s image and key)', () => {
    const vk = Buffer.from('522a44f10502b98c7293648a9c6c2863d78a35101ec3f3d41b5eafd318846961fc6bdaade27ba31bf44b4fdde92ffe18cbe8962605809446b4ae465a8af4936d', 'hex');
    assert.equal(volumeKeyId(vk, 'vol', '5b19cf31-7c1d-403e-82c0-ff7156e3d489'), 'bb980be3344b45a3634644b6df49d0c77c96475bcbb70d8ba2e00519323b35be');
    const t = crypttabText([p({ encryptedVolume: 'vol:::fixate-volume-key' })], () => '5b19cf31-7c1d-403e-82c0-ff7156e3d489', () => vk);
    assert.match(t, /^vol UUID=5b19cf31-7c1d-403e-82c0-ff7156e3d489 - fixate-volume-key=bb980be3344b45a3634644b6df49d0c77c96475bcbb70d8ba2e00519323b35be$/m);
  });
});

describe('command line for clients', () => {
  it('--version: systemd\'s shape; mkosi reads the third field as the version', () => {
    for (const compat of [262, 257]) {
      const first = versionText(compat, '0.1.0').split('\n')[0]!;
      assert.match(first, new RegExp(`^systemd ${compat} \\(${compat}\\.\\d+-repart-ts-0\\.1\\.0\\)$`));
      assert.ok(Number.parseInt(first.split(/\s+/)[2]!.replace(/[()]/g, ''), 10) >= 254);
    }
  });
  it('--private-key-source=/--certificate-source=: file accepted, providers and engines refused clearly', () => {
    assert.doesNotThrow(() => parseCommandLine(['--private-key-source=file', '--certificate-source=file', 'x']));
    assert.throws(() => parseCommandLine(['--private-key-source=engine:pkcs11', 'x']), /OpenSSL engines are not supported by repart-ts/);
    assert.throws(() => parseCommandLine(['--certificate-source=provider:pkcs11', 'x']), /OpenSSL providers are not supported/);
    assert.throws(() => parseCommandLine(['--private-key-source=bogus', 'x']), /Failed to parse --private-key-source=/);
  });
});

describe('images (no oracle)', () => {
  const build = async (dir: string, args: string[]) => {
    let out = '', err = '';
    const st = await run(args, { stdout: (s) => { out += s; }, stderr: (s) => { err += s; }, isTTY: false, env: { SYSTEMD_UTF8: '0' } });
    return { st, out, err };
  };
  const table = async (file: string) => {
    const b = readFileSync(file);
    return (await readGpt(async (o, l) => b.subarray(Number(o), Number(o) + l), BigInt(b.length), ""))!.table;
  };
  it('vfat Minimize= with labels over 11 characters builds (no GeometryError)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vfatlabel-'));
    try {
      mkdirSync(path.join(dir, 'defs'));
      mkdirSync(path.join(dir, 'src'));
      writeFileSync(path.join(dir, 'src/f'), 'x');
      for (const n of ['a', 'b']) writeFileSync(path.join(dir, `defs/${n}.conf`), '[Partition]\nType=root\nFormat=vfat\nCopyFiles=/f\nMinimize=guess\n');
      const r = await build(dir, ['--definitions', path.join(dir, 'defs'), '--root', path.join(dir, 'src'), '--empty=create', '--size=auto', `--seed=${SEED}`, '--dry-run=no', '--quiet', path.join(dir, 'img')]);
      assert.equal(r.st, 0, r.err);
      const g = await table(path.join(dir, 'img'));
      assert.deepEqual(g.entries.filter((e) => e).map((e) => e!.name), ['root-x86-64', 'root-x86-64-2']);
      // the second one's FAT label is the mangled GPT label
      const e = g.entries[1]!;
      const boot = readFileSync(path.join(dir, 'img')).subarray(Number(e.firstLba) * 512, Number(e.firstLba) * 512 + 512);
      assert.equal(boot.toString('latin1', 71, 82), 'ROOT-X86-64');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
  it('Format=erofs/squashfs without CopyFiles= (262): empty file systems; 257 refuses', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'emptyro-'));
    try {
      mkdirSync(path.join(dir, 'defs'));
      writeFileSync(path.join(dir, 'defs/a.conf'), '[Partition]\nType=root\nFormat=erofs\n');
      writeFileSync(path.join(dir, 'defs/b.conf'), '[Partition]\nType=usr\nFormat=squashfs\n');
      const args = ['--definitions', path.join(dir, 'defs'), '--empty=create', '--size=auto', `--seed=${SEED}`, '--dry-run=no', '--quiet'];
      const r = await build(dir, [...args, path.join(dir, 'img')]);
      assert.equal(r.st, 0, r.err);
      const img = readFileSync(path.join(dir, 'img'));
      const g = await table(path.join(dir, 'img'));
      const at = (i: number) => Number(g.entries[i]!.firstLba) * 512;
      assert.equal(img.readUInt32LE(at(0) + 1024), 0xe0f5e1e2, 'erofs superblock');
      assert.equal(img.toString('latin1', at(1), at(1) + 4), 'hsqs', 'squashfs superblock');
      const old = await build(dir, ['--compat=257', ...args, path.join(dir, 'img257')]);
      assert.equal(old.st, 1);
      assert.match(old.err, /Cannot format erofs filesystem without source files/);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

describe('orchestration (issue 14 items 1, 2, 9, 11, 16, 17), no oracle', () => {
  const SEED2 = '750b6cd5c4ae4012a15e7be3c29e6a47';
  const go = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    let out = '', err = '';
    const st = await run(['--no-progress', ...args], { stdout: (s) => { out += s; }, stderr: (s) => { err += s; }, isTTY: false, env: { SYSTEMD_UTF8: '0', ...env } });
    return { st, out, err };
  };
  const gpt = async (file: string) => {
    const b = readFileSync(file);
    return (await readGpt(async (o, l) => b.subarray(Number(o), Number(o) + l), BigInt(b.length), ''))!;
  };
  const withDir = async (fn: (dir: string) => Promise<void>) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'orch-'));
    try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
  };

  it('no definitions with --empty=create: an image with an empty GPT (also an empty or missing --definitions= directory)', () => withDir(async (dir) => {
    mkdirSync(path.join(dir, 'empty'));
    for (const [name, extra] of [['a', []], ['b', ['--definitions', path.join(dir, 'empty')]], ['c', ['--definitions', path.join(dir, 'missing')]]] as const) {
      const r = await go(['--empty=create', '--size=1G', `--seed=${SEED2}`, ...extra, path.join(dir, name)]);
      assert.equal(r.st, 0, r.err);
      const g = await gpt(path.join(dir, name));
      assert.equal(g.table.entries.filter((e) => e).length, 0);
      assert.equal(Buffer.from(g.table.diskGuid).toString('hex'), '1d2ce2917cce4f7dbc83fdb49ad74ebd', 'label-id 1D2CE291-7CCE-4F7D-BC83-FDB49AD74EBD (TEST-58 basic)');
      assert.equal(readFileSync(path.join(dir, name)).length, 1 << 30);
    }
  }));

  it('device "-": the automatically determined minimal size, nothing written (TEST-58 get_size)', () => withDir(async (dir) => {
    mkdirSync(path.join(dir, 'defs'));
    writeFileSync(path.join(dir, 'defs/a.conf'), '[Partition]\nType=root\nSizeMinBytes=15M\n');
    writeFileSync(path.join(dir, 'defs/b.conf'), '[Partition]\nType=linux-generic\nSizeMinBytes=23M\n');
    const r = await go(['--definitions', path.join(dir, 'defs'), '-']);
    assert.equal(r.st, 0, r.err);
    assert.equal(r.out, '');
    assert.match(r.err, /Automatically determined minimal disk image size as 39M\./);
  }));

  it('--generate-fstab= with --root=: under the root, before populating, so CopyFiles=/etc takes it in; never outside', () => withDir(async (dir) => {
    mkdirSync(path.join(dir, 'defs'));
    mkdirSync(path.join(dir, 'root/etc'), { recursive: true });
    writeFileSync(path.join(dir, 'root/etc/hostname'), 'h\n');
    writeFileSync(path.join(dir, 'defs/r.conf'), '[Partition]\nType=linux-generic\nFormat=vfat\nCopyFiles=/etc\nMountPoint=/mnt/volume\n');
    const r = await go(['--definitions', path.join(dir, 'defs'), '--root', path.join(dir, 'root'), '--empty=create', '--size=100M', `--seed=${SEED2}`,
      '--dry-run=no', '--generate-fstab=/etc/fstab', '--generate-crypttab=/etc/crypttab', path.join(dir, 'img')]);
    assert.equal(r.st, 0, r.err);
    const fstab = readFileSync(path.join(dir, 'root/etc/fstab'), 'utf8');
    assert.match(fstab, /\/mnt\/volume vfat /);
    assert.match(r.err, /EncryptedVolume= is not specified for any eligible partitions, not generating \/etc\/crypttab/);
    // the vfat partition holds /etc/fstab: its 8.3 directory entry "FSTAB" is in the image
    assert.ok(readFileSync(path.join(dir, 'img')).includes(Buffer.from('FSTAB      ', 'latin1')));
  }));

  it('--size= grows an image with nothing else to change (the backup GPT moves); --split=yes writes the split files', () => withDir(async (dir) => {
    mkdirSync(path.join(dir, 'defs'));
    writeFileSync(path.join(dir, 'defs/home.conf'), '[Partition]\nType=home\nSizeMaxBytes=20M\n');
    const img = path.join(dir, 'disk.raw');
    const base = ['--definitions', path.join(dir, 'defs'), `--seed=${SEED2}`, '--dry-run=no'];
    assert.equal((await go([...base, '--empty=create', '--size=64M', img])).st, 0);
    const r = await go([...base, '--size=128M', img]);
    assert.equal(r.st, 0, r.err);
    assert.match(r.err, /No changes\./);
    assert.equal(readFileSync(img).length, 128 << 20);
    const g = await gpt(img);
    assert.equal(g.header.alternateLba, BigInt((128 << 20) / 512 - 1));
    const s = await go([...base, '--split=yes', '--json=short', img]);
    assert.equal(s.st, 0, s.err);
    const row = JSON.parse(s.out)[0] as { split_path: string; offset: number; raw_size: number };
    assert.equal(row.split_path, path.join(dir, 'disk.home.raw'));
    assert.ok(readFileSync(row.split_path).equals(readFileSync(img).subarray(row.offset, row.offset + row.raw_size)));
  }));
});

describe('btrfs Minimize=guess twice (item 11)', () => {
  it('two minimized btrfs partitions: two 101M partitions, as 262 makes them (no "unable to zero the output file")', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'btrfs2-'));
    try {
      mkdirSync(path.join(dir, 'defs'));
      mkdirSync(path.join(dir, 'content'));
      writeFileSync(path.join(dir, 'content/hello'), 'hi\n');
      for (const n of ['a', 'b']) writeFileSync(path.join(dir, `defs/${n}.conf`), `[Partition]\nType=root\nFormat=btrfs\nCopyFiles=${path.join(dir, 'content')}\nMinimize=guess\n`);
      let out = '', err = '';
      const st = await run(['--quiet', '--definitions', path.join(dir, 'defs'), '--empty=create', '--size=auto', `--seed=${SEED}`, '--dry-run=no', '--json=short', path.join(dir, 'img')],
        { stdout: (s) => { out += s; }, stderr: (s) => { err += s; }, isTTY: false, env: {} });
      assert.equal(st, 0, err);
      // measured with systemd-repart 262: both 105906176 bytes, the second at 106954752
      assert.deepEqual((JSON.parse(out) as { offset: number; raw_size: number }[]).map((r) => [r.offset, r.raw_size]), [[1048576, 105906176], [106954752, 105906176]]);
      const img = readFileSync(path.join(dir, 'img'));
      for (const off of [1048576, 106954752]) assert.equal(img.toString('latin1', off + 0x10040, off + 0x10048), '_BHRfS_M', 'btrfs superblock');
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});
