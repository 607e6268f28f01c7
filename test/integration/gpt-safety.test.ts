/**
 * Existing disks are never damaged (issue 15, "Data safety on existing disks"): foreign labels and
 * signatures are refused, a damaged primary GPT is read from its backup, corrupt but CRC-valid
 * tables are refused before any write, incremental runs write in place (links, mode, owner
 * kept), and inputs no image can hold fail with a RepartError before formatting. Every refusal
 * leaves the image byte-identical (sha256).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../../src/cli/run.js';
import { HEADER, copies, patch, setEntry, sha256 } from '../helpers/gpt-craft.js';
import { readGpt, probeGpt } from '../../src/gpt/table.js';
import { InPlaceImage } from '../../src/image/in-place.js';
import { encodeGpt, gptGeometry } from '../../src/gpt/table.js';
import { parseUuid } from '../../src/gpt/guid.js';

const SEED = '--seed=e2a40bf9-73f1-4278-9160-49c031e7aef8';
const T = { timeout: 240_000 };
let dir: string;
const base: Record<number, string> = {};
const KEEP_AT = 4096 * 512; // inside partition 1 (LBA 2048… with 512-byte sectors; 4096-byte: LBA 512…)

function defs(name: string, files: Record<string, string>): string {
  const d = path.join(dir, name);
  mkdirSync(d, { recursive: true });
  for (const [f, c] of Object.entries(files)) writeFileSync(path.join(d, f), c);
  return d;
}

const ONE = '[Partition]\nType=linux-generic\nSizeMinBytes=10M\nSizeMaxBytes=10M\n';
const HOME = '[Partition]\nType=home\nSizeMinBytes=10M\n';

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'gpt-safety-'));
  defs('d1', { '10.conf': ONE });
  defs('d2', { '10.conf': ONE, '20.conf': HOME });
  for (const ss of [512, 4096]) {
    const f = path.join(dir, `base-${ss}.img`);
    const r = await ours(['--definitions=d1', '--empty=create', '--size=40M', `--sector-size=${ss}`, SEED, '--dry-run=no', '--json=off', f]);
    assert.equal(r.status, 0, r.stderr);
    const b = readFileSync(f);
    b.write('KEEP-ME', KEEP_AT, 'latin1');
    writeFileSync(f, b);
    base[ss] = f;
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The CLI in process (as the fuzz test does): much cheaper than a node process per run on a busy
 * machine; an exception that is not a RepartError shows up as a stack trace in stderr.
 */
async function ours(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  process.chdir(dir);
  let stdout = '', stderr = '';
  try {
    const status = await run(args, { stdout: (x) => { stdout += x; }, stderr: (x) => { stderr += x; }, isTTY: false, env: {} });
    return { status, stdout, stderr };
  } catch (e) {
    return { status: -1, stdout, stderr: `${stderr}${(e as Error).stack}\nNode.js ${process.version}\n` };
  }
}

let n = 0;
/** A copy of the base image (or a blank file), changed by `mutate`. */
function image(ss: number, mutate?: (b: Buffer) => Buffer | void, blank?: number): string {
  const f = path.join(dir, `t${n++}.img`);
  let b: Buffer = blank !== undefined ? Buffer.alloc(blank) : readFileSync(base[ss]!);
  b = mutate?.(b) ?? b;
  writeFileSync(f, b);
  return f;
}

/** Runs the incremental step on `img`; a refusal must leave it byte-identical. */
async function refused(img: string, args: string[], status: number, message: RegExp): Promise<void> {
  const before = sha256(img);
  const r = await ours(['--definitions=d2', SEED, '--json=off', ...args, img]);
  assert.equal(r.status, status, r.stderr);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /\n\s+at |Node\.js v/, 'no stack trace');
  assert.equal(sha256(img), before, 'image unchanged');
  assert.deepEqual(readdirSync(dir).filter((x) => x.endsWith('.tmp')), [], 'no temporary files');
}

const keep = (img: string, ss: number) => readFileSync(img).toString('latin1', KEEP_AT, KEEP_AT + 7) === 'KEEP-ME' && ss > 0;

async function gptOf(img: string) {
  const b = readFileSync(img);
  return readGpt(async (off, len) => b.subarray(Number(off), Number(off) + len), BigInt(b.length));
}

/** Both copies present, valid, and describing the same entries. */
async function bothCopiesValid(img: string, ss: number): Promise<void> {
  const b = readFileSync(img);
  const full = await probeGpt(async (off, len) => b.subarray(Number(off), Number(off) + len), BigInt(b.length));
  assert.equal(full.kind, 'gpt');
  if (full.kind !== 'gpt') return;
  assert.equal(full.gpt.source, 'primary');
  assert.equal(full.gpt.otherProblem, undefined, 'backup valid too');
  const [p, k] = copies(b, ss);
  assert.ok(b.subarray(p!.entries, p!.entries + 16384).equals(b.subarray(k!.entries, k!.entries + 16384)), 'same entries in both copies');
}

const mbrPartition = (b: Buffer, type: number) => {
  b.fill(0, 0, 512);
  b[446 + 4] = type;
  b.writeUInt32LE(2048, 446 + 8);
  b.writeUInt32LE(100000, 446 + 12);
  b[510] = 0x55; b[511] = 0xaa;
};

describe('1: labels other than a GPT are refused, untouched', () => {
  const modes: [string, RegExp][] = [
    ['allow', /Disk has non-GPT disk label \(dos partition table\), not repartitioning\./],
    ['require', /Disk already has a disk label \(dos partition table\), refusing\./],
    ['refuse', /Disk has no GPT disk label \(dos partition table\), not repartitioning\./],
  ];
  for (const [mode, msg] of modes) {
    for (const dry of ['no', 'yes']) {
      it(`DOS/MBR label, --empty=${mode}, dry-run=${dry}: 77, unchanged`, T, async () => {
        const img = image(512, (b) => { mbrPartition(b, 0x83); b.write('KEEP-ME', KEEP_AT, 'latin1'); }, 100 << 20);
        await refused(img, [`--empty=${mode}`, `--dry-run=${dry}`], 77, msg);
      });
    }
  }
  it('an empty MBR (just 0x55AA), a Sun and an SGI label: 77 "non-GPT disk label"', T, async () => {
    const sets: [string, (b: Buffer) => void][] = [
      ['dos', (b) => { b[510] = 0x55; b[511] = 0xaa; }],
      ['sun', (b) => { b[508] = 0xda; b[509] = 0xbe; }],
      ['sgi', (b) => { b.writeUInt32BE(0x0be5a941, 0); }],
    ];
    for (const [name, set] of sets) {
      const img = image(512, (b) => { set(b); }, 64 << 20);
      await refused(img, ['--empty=allow', '--dry-run=no'], 77, new RegExp(`non-GPT disk label \\(${name} partition table\\)`));
    }
  });
  const signatures: [string, (b: Buffer) => void][] = [
    ['ext2/3/4 file system', (b) => b.writeUInt16LE(0xef53, 1080)],
    ['btrfs file system', (b) => b.write('_BHRfS_M', 65600, 'latin1')],
    ['XFS file system', (b) => b.write('XFSB', 0, 'latin1')],
    ['LUKS header', (b) => Buffer.from('4c554b53babe0002', 'hex').copy(b, 0)],
    ['LVM2 physical volume', (b) => { b.write('LABELONE', 512, 'latin1'); b.write('LVM2 001', 512 + 24, 'latin1'); }],
    ['ISO9660 file system', (b) => b.write('\x01CD001\x01', 32768, 'latin1')],
    ['swap area', (b) => b.write('SWAPSPACE2', 4086, 'latin1')],
    ['squashfs file system', (b) => b.write('hsqs', 0, 'latin1')],
    ['EROFS file system', (b) => b.writeUInt32LE(0xe0f5e1e2, 1024)],
    ['BSD disk label', (b) => b.writeUInt32LE(0x82564557, 512)],
    ['Linux RAID \\(md 1.2\\) member', (b) => b.writeUInt32LE(0xa92b4efc, 4096)],
  ];
  for (const [name, set] of signatures) {
    it(`a whole-disk ${name.replace(/\\/g, '')}: refused with allow and require (systemd-repart overwrites it), unchanged`, T, async () => {
      const img = image(512, (b) => { set(b); b.write('KEEP-ME', KEEP_AT, 'latin1'); }, 64 << 20);
      await refused(img, ['--empty=allow', '--dry-run=no'], 77, new RegExp(`non-GPT disk label \\(it carries a ${name}\\).*--empty=force`));
      await refused(img, ['--empty=require', '--dry-run=no'], 77, new RegExp(`already has a disk label \\(it carries a ${name}\\)`));
    });
  }
  it('a GPT header without its protective MBR is refused, not overwritten', T, async () => {
    const img = image(512, (b) => { b.fill(0, 0, 512); });
    await refused(img, ['--empty=allow', '--dry-run=no'], 77, /it carries a GPT header without protective MBR/);
  });
  it('--empty=force still overwrites a DOS disk (what force asks for)', T, async () => {
    const img = image(512, (b) => { mbrPartition(b, 0x83); }, 64 << 20);
    const r = await ours(['--definitions=d2', SEED, '--json=off', '--empty=force', '--dry-run=no', img]);
    assert.equal(r.status, 0, r.stderr);
  });
  it('a protective MBR + GPT is accepted, also as a hybrid MBR and with 0xEE in another slot', T, async () => {
    for (const mbr of [(b: Buffer) => { b[446 + 16 + 4] = 0x83; b.writeUInt32LE(40000, 446 + 16 + 8); b.writeUInt32LE(100, 446 + 16 + 12); },
      (b: Buffer) => { b.copy(b, 446 + 16, 446, 446 + 16); b.fill(0, 446, 446 + 16); }]) {
      const img = image(512, (b) => { mbr(b); });
      const r = await ours(['--definitions=d2', SEED, '--json=off', '--empty=allow', '--dry-run=no', img]);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(keep(img, 512));
      assert.equal((await gptOf(img))!.table.entries.filter(Boolean).length, 2);
    }
    // a hybrid MBR's legacy records are left as they are (libfdisk does not rewrite it)
    const hybrid = image(512, (b) => { b[446 + 16 + 4] = 0x83; b.writeUInt32LE(40000, 446 + 16 + 8); b.writeUInt32LE(100, 446 + 16 + 12); });
    const mbrBefore = readFileSync(hybrid).subarray(0, 512);
    const r = await ours(['--definitions=d2', SEED, '--json=off', '--empty=allow', '--dry-run=no', '--size=48M', hybrid]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(readFileSync(hybrid).subarray(0, 512).equals(mbrBefore), 'hybrid MBR kept');
  });
});

describe('2: a damaged primary GPT is read from the backup; neither valid: refused', () => {
  for (const ss of [512, 4096]) {
    const damage: [string, (b: Buffer) => void][] = [
      ['primary header zeroed', (b) => b.fill(0, ss, 2 * ss)],
      ['primary header CRC wrong', (b) => { b[ss + 40] ^= 1; }],
      ['primary entry array CRC wrong', (b) => { b[2 * ss + 200] ^= 1; }],
      ['primary header CRC-valid but MyLBA wrong', (b) => { patch(b, ss, ['primary'], (x, c) => x.writeBigUInt64LE(5n, c.header + HEADER.myLba)); }],
      ['backup header zeroed', (b) => b.fill(0, b.length - ss)],
      ['backup entry array CRC wrong', (b) => { b[b.length - ss - 4 * ss + 200] ^= 1; }],
    ];
    for (const [what, hurt] of damage) {
      it(`${ss}-byte sectors, ${what}: partitions and data kept, both copies written`, T, async () => {
        const img = image(ss, (b) => { hurt(b); });
        const r = await ours(['--definitions=d2', SEED, '--json=off', '--empty=allow', '--dry-run=no', img]);
        assert.equal(r.status, 0, r.stderr);
        assert.ok(keep(img, ss), 'data in partition 1 kept');
        const g = (await gptOf(img))!;
        assert.equal(g.table.entries.filter(Boolean).length, 2);
        assert.equal(g.table.entries[0]!.firstLba, BigInt((1 << 20) / ss), 'partition 1 where it was');
        await bothCopiesValid(img, ss);
      });
    }
    it(`${ss}-byte sectors, dry run on a backup-only table: nothing written`, T, async () => {
      const img = image(ss, (b) => { b.fill(0, ss, 2 * ss); });
      const before = sha256(img);
      const r = await ours(['--definitions=d2', SEED, '--json=off', '--empty=allow', '--dry-run=yes', img]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(sha256(img), before);
    });
    it(`${ss}-byte sectors, both headers damaged: 77, unchanged`, T, async () => {
      const img = image(ss, (b) => { b.fill(0, ss, 2 * ss); b.fill(0, b.length - ss); });
      await refused(img, ['--empty=allow', '--dry-run=no'], 77, /non-GPT disk label \(protective MBR, but no GPT header at LBA 1 or at the disk end\)/);
      await refused(img, ['--empty=refuse', '--dry-run=no'], 77, /no GPT disk label/);
    });
  }
});

describe('3: corrupt but CRC-valid tables are refused before any write', () => {
  for (const ss of [512, 4096]) {
    const N = BigInt((40 << 20) / ss);
    const E = BigInt(16384 / ss);
    const both = ['primary', 'backup'] as const;
    const set = (field: keyof typeof HEADER, v: bigint | number, which: ('primary' | 'backup')[] = [...both]) => (b: Buffer) => {
      patch(b, ss, which, (x, c) => typeof v === 'bigint' ? x.writeBigUInt64LE(v, c.header + HEADER[field]) : x.writeUInt32LE(v, c.header + HEADER[field]));
    };
    const p1 = BigInt((1 << 20) / ss);
    const cases: [string, (b: Buffer) => void, number, RegExp][] = [
      ['LastUsableLBA 2^48-1 (past the disk end)', set('lastUsable', (1n << 48n) - 1n), 77, /LastUsableLBA 281474976710655 is beyond the disk end/],
      ['LastUsableLBA over the backup array', set('lastUsable', N - 2n), 77, /no room for the backup entry array|overlaps the usable area/],
      ['FirstUsableLBA 1', set('firstUsable', 1n), 77, /lies inside the usable area|leaves no room/],
      ['FirstUsableLBA 2 (over the primary array)', set('firstUsable', 2n), 77, /leaves no room for the primary entry array|overlaps the usable area/],
      ['entry array LBA near 2^64', set('entriesLba', (1n << 64n) - 5n), 77, /entry array \(LBA 18446744073709551611…/],
      ['entry array inside the usable area (both copies)', (b) => { set('entriesLba', 4096n)(b); }, 77, /overlaps the usable area/],
      ['0 entries', set('numEntries', 0), 77, /NumberOfPartitionEntries is 0/],
      ['2^28 entries', set('numEntries', 1 << 28), 77, /is larger than 1048576 bytes/],
      ['entry size 100', set('entrySize', 100), 77, /SizeOfPartitionEntry 100 is not a multiple of 128/],
      ['header size 91', set('headerSize', 91), 77, /HeaderSize 91/],
      ['header size beyond the sector', set('headerSize', ss + 8), 77, /HeaderSize \d+ is not within/],
      ['revision 2.0', set('revision', 0x20000), 77, /Revision 0x00020000 is not 1\.0/],
      ['overlapping entries', (b) => { setEntry(b, ss, 1, p1 + 100n, p1 + 5000n); }, 1, /corrupt GPT \(primary copy\): partitions 1 .* and 2 .* overlap/],
      ['an entry starting at LBA 1', (b) => { setEntry(b, ss, 1, 1n, 10n); }, 1, /partition 2 starts at LBA 1, before FirstUsableLBA/],
      ['an entry in the header area', (b) => { setEntry(b, ss, 1, 2n + E, 2n + E + 1n); }, 1, /before FirstUsableLBA/],
      ['an entry past the disk end', (b) => { setEntry(b, ss, 1, N - 200n, N + 100n); }, 1, /partition 2 ends at LBA \d+, past LastUsableLBA/],
      ['an entry past LastUsableLBA, inside the backup', (b) => { setEntry(b, ss, 1, N - 200n, N - 2n); }, 1, /past LastUsableLBA/],
      ['a reversed entry', (b) => { setEntry(b, ss, 1, N / 2n, N / 2n - 10n); }, 1, /partition 2 starts at LBA \d+, after its end/],
      ['copies with different disk GUIDs', (b) => { patch(b, ss, ['backup'], (x, c) => { x[c.header + HEADER.diskGuid] ^= 0xff; }); }, 1, /different disk GUIDs/],
      ['copies with different usable areas', set('firstUsable', p1 - 1n, ['backup']), 1, /GPT headers disagree/],
    ];
    for (const [what, hurt, status, msg] of cases) {
      it(`${ss}-byte sectors, ${what}: refused, unchanged`, T, async () => {
        const img = image(ss, hurt);
        await refused(img, ['--empty=allow', '--dry-run=no'], status, msg);
        if (status === 1) await refused(img, ['--empty=refuse', '--dry-run=yes'], status, /E?corrupt GPT|GPT headers|disk GUIDs/);
        assert.match((await ours(['--definitions=d2', '--json=off', '--dry-run=no', img])).stderr, status === 77 ? /no GPT disk label/ : /./);
      });
    }
    it(`${ss}-byte sectors, a listing (no definitions) of a corrupt table fails cleanly`, T, async () => {
      const img = image(ss, (b) => { setEntry(b, ss, 1, 1n, 10n); });
      const r = await ours(['--definitions=' + path.join(dir, 'none'), '--json=short', img]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /corrupt GPT/);
    });
  }
});

describe('4: incremental mode writes in place', () => {
  it('through a symlink, keeping inode, mode, owner and hard links', T, async () => {
    const img = image(512);
    chmodSync(img, 0o600);
    const canChown = process.getuid?.() === 0;
    if (canChown) chownSync(img, 1234, 5678);
    const hard = `${img}.hard`;
    linkSync(img, hard);
    const link = path.join(dir, 'link.img');
    symlinkSync(img, link);
    const st = statSync(img);
    const r = await ours(['--definitions=d2', SEED, '--json=off', '--empty=allow', '--dry-run=no', '--size=64M', link]);
    assert.equal(r.status, 0, r.stderr);
    const after = statSync(img);
    assert.ok(statSync(link).isFile() && readFileSync(link).equals(readFileSync(img)));
    assert.equal(after.ino, st.ino, 'same inode');
    assert.equal(after.mode & 0o777, 0o600, 'mode kept');
    assert.equal(after.nlink, 2, 'hard link kept');
    if (canChown) assert.deepEqual([after.uid, after.gid], [1234, 5678], 'owner kept');
    assert.equal(after.size, 64 << 20, 'grown in place');
    assert.equal(statSync(hard).ino, st.ino);
    assert.equal((await gptOf(hard))!.table.entries.filter(Boolean).length, 2);
    assert.ok(keep(img, 512));
    await bothCopiesValid(img, 512);
    assert.deepEqual(readdirSync(dir).filter((x) => x.endsWith('.tmp')), []);
  });
  it('the dry-run growth also writes in place', T, async () => {
    const img = image(512);
    const link = path.join(dir, 'link2.img');
    symlinkSync(img, link);
    const ino = statSync(img).ino;
    const r = await ours(['--definitions=d2', SEED, '--json=off', '--empty=allow', '--dry-run=yes', '--size=64M', link]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(statSync(img).ino, ino);
    assert.equal(statSync(img).size, 64 << 20);
    assert.ok(statSync(link, { throwIfNoEntry: true }) && existsSync(link));
    await bothCopiesValid(img, 512);
  });
  it('a run that fails while formatting leaves size and tables as they were', T, async () => {
    const img = image(512);
    const src = path.join(dir, 'fat-src');
    mkdirSync(src, { recursive: true });
    writeFileSync(path.join(src, 'big'), Buffer.alloc(6 << 20, 1));
    defs('dfail', { '10.conf': ONE, '20.conf': `[Partition]\nType=home\nFormat=vfat\nCopyFiles=${src}:/\nSizeMinBytes=4M\nSizeMaxBytes=4M\n` });
    const before = sha256(img);
    const r = await ours(['--definitions=dfail', SEED, '--json=off', '--empty=allow', '--dry-run=no', '--size=64M', img]);
    assert.equal(r.status, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.equal(statSync(img).size, 40 << 20, 'old size');
    assert.equal(sha256(img), before, 'free space was zero, so the image is byte-identical');
  });
  it('tables last: the backup GPT (array, header) and then the primary, after the contents', () => {
    const f = image(512);
    const t = InPlaceImage.open(f);
    const order: bigint[] = [];
    const w = t.file.writeAt.bind(t.file);
    t.file.writeAt = (off, data) => { order.push(off); w(off, data); };
    const geo = gptGeometry(40n << 20n, 512);
    const gpt = encodeGpt({ diskGuid: parseUuid('ef7f7ee2-47b3-4251-b1a1-09ea8bf12d5d')!, entries: [] }, geo);
    t.writeTables(gpt);
    t.close();
    assert.deepEqual(order, [gpt.tailOffset, 0n]);
  });
  it('a crash between the backup and the primary: the old table is read, and a rerun finishes the job', T, async () => {
    const old = image(512);
    const done = image(512);
    const r = await ours(['--definitions=d2', SEED, '--json=off', '--empty=allow', '--dry-run=no', done]);
    assert.equal(r.status, 0, r.stderr);
    // the new backup GPT (last 33 sectors) on the old disk, whose contents are all written
    const crashed = image(512, () => {
      const b = readFileSync(done);
      readFileSync(old).copy(b, 0, 0, 34 * 512);
      return b;
    });
    assert.equal((await gptOf(crashed))!.table.entries.filter(Boolean).length, 1, 'the old primary wins');
    // torn primary: new header, old entry array (CRC mismatch): the new backup is read
    const torn = image(512, () => {
      const b = readFileSync(done);
      readFileSync(old).copy(b, 2 * 512, 2 * 512, 34 * 512);
      return b;
    });
    const g = (await gptOf(torn))!;
    assert.equal(g.source, 'backup');
    assert.equal(g.table.entries.filter(Boolean).length, 2);
    const again = await ours(['--definitions=d2', SEED, '--json=off', '--empty=allow', '--dry-run=no', crashed]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(sha256(crashed), sha256(done), 'the rerun ends where the uninterrupted run did');
    // as in 262, a run without changes writes nothing, so the torn primary stays until the next change
    const same = await ours(['--definitions=d2', SEED, '--json=off', '--empty=allow', '--dry-run=no', torn]);
    assert.equal(same.status, 0, same.stderr);
    assert.match(same.stderr, /No changes\./);
    const bigger = await ours(['--definitions=d2', SEED, '--json=off', '--empty=allow', '--dry-run=no', '--size=48M', torn]);
    assert.equal(bigger.status, 0, bigger.stderr);
    await bothCopiesValid(torn, 512);
    assert.ok(keep(torn, 512));
  });
});

describe('5: inputs no image can hold fail before any formatting', () => {
  const noTrace = (s: string) => assert.doesNotMatch(s, /\n\s+at |Node\.js v|out of range/);
  it('more than 128 partitions: error naming the 129th definition, also in a dry run, nothing formatted', T, async () => {
    const many: Record<string, string> = {};
    for (let i = 1; i <= 130; i++) many[`${String(i).padStart(3, '0')}.conf`] = '[Partition]\nType=linux-generic\nFormat=vfat\nSizeMinBytes=1M\n';
    defs('many', many);
    for (const args of [['--empty=create', '--size=auto'], ['--empty=allow', '--dry-run=yes']]) {
      const img = path.join(dir, 'many.img');
      if (args[0] === '--empty=allow') writeFileSync(img, Buffer.alloc(1 << 20));
      const before = existsSync(img) ? sha256(img) : null;
      const r = await ours(['--definitions=many', SEED, '--json=off', ...args, img]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, /many\/129\.conf: Failed to add partition: a GPT holds at most 128 partitions/);
      assert.doesNotMatch(r.stderr, /formatting|done,/);
      noTrace(r.stderr);
      assert.equal(existsSync(img) ? sha256(img) : null, before);
      rmSync(img, { force: true });
    }
  });
  it('128 partitions with existing ones counted', T, async () => {
    const img = image(512);
    const more: Record<string, string> = { '000.conf': ONE };
    for (let i = 1; i <= 128; i++) more[`${String(i).padStart(3, '0')}.conf`] = '[Partition]\nType=home\nSizeMinBytes=4096\nSizeMaxBytes=4096\n';
    defs('more', more);
    const before = sha256(img);
    const r = await ours(['--definitions=more', SEED, '--json=off', '--empty=allow', '--dry-run=no', img]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /128\.conf: Failed to add partition: .*this would be partition 129 \(1 exist already\)/);
    assert.equal(sha256(img), before);
  });
  const sizes: [string, Record<string, string>, string[], RegExp][] = [
    ['SizeMinBytes=1E', { 'a.conf': '[Partition]\nType=linux-generic\nSizeMinBytes=1E\n' }, ['--size=auto'], /big-0\/a\.conf:3: SizeMinBytes=: 1E \(1152921504606846976 bytes\) is more than an image file can hold/],
    ['PaddingMinBytes=1E', { 'a.conf': '[Partition]\nType=linux-generic\nPaddingMinBytes=1E\n' }, ['--size=auto'], /big-1\/a\.conf:3: PaddingMinBytes=: 1E/],
    ['--size=8E', { 'a.conf': '[Partition]\nType=linux-generic\n' }, ['--size=8E'], /--size=: 8E \(9223372036854775808 bytes\) is more than an image file can hold/],
    ['--grain-size=8E', { 'a.conf': '[Partition]\nType=linux-generic\n' }, ['--size=auto', '--grain-size=8E'], /--grain-size=: Image would grow too large/],
    ['five SizeMinBytes=2P', Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`${i}.conf`, '[Partition]\nType=linux-generic\nSizeMinBytes=2P\n'])), ['--size=auto'], /Failed to grow the image: 10P/],
  ];
  sizes.forEach(([what, files, args, msg], i) => {
    it(`${what}: a RepartError naming where it comes from, before formatting`, T, async () => {
      defs(`big-${i}`, files);
      const img = path.join(dir, `big-${i}.img`);
      const r = await ours([`--definitions=big-${i}`, SEED, '--json=off', '--empty=create', '--dry-run=no', ...args, img]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, msg);
      noTrace(r.stderr);
      assert.equal(existsSync(img), false);
      // the same on an existing disk, dry run: the file is not grown
      const ex = image(512);
      const before = sha256(ex);
      const r2 = await ours([`--definitions=big-${i}`, SEED, '--json=off', '--empty=allow', '--dry-run=yes', ...args.filter((a) => a !== '--size=auto'), ex]);
      if (r2.status !== 0) noTrace(r2.stderr);
      assert.equal(sha256(ex), before);
    });
  });
  it('--copy-from= an image with a reversed entry, or an entry array near 2^64: E_GPT_CORRUPT, no trace', T, async () => {
    const rev = image(512, (b) => { setEntry(b, 512, 1, 40000n, 30000n); });
    const far = image(512, (b) => { patch(b, 512, ['primary', 'backup'], (x, c) => x.writeBigUInt64LE((1n << 64n) - 5n, c.header + HEADER.entriesLba)); });
    for (const [src, msg] of [[rev, /partition 2 starts at LBA 40000, after its end/], [far, /no valid GPT: .*entry array \(LBA 18446744073709551611/]] as const) {
      const out = path.join(dir, `cf${n++}.img`);
      const r = await ours(['--definitions=' + path.join(dir, 'none'), `--copy-from=${src}`, SEED, '--json=off', '--empty=create', '--size=auto', '--dry-run=no', out]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, msg);
      noTrace(r.stderr);
      assert.equal(existsSync(out), false);
    }
  });
  it('--sector-size= and --grain-size= out of range: usage errors as in 262', T, async () => {
    for (const [arg, msg] of [['--sector-size=8E', /Failed to parse sector size parameter 8E/], ['--size=16E', /Failed to parse --size= parameter: 16E/], ['--grain-size=3000', /Failed to parse --grain-size= parameter: 3000/]] as const) {
      const r = await ours(['--definitions=d1', '--empty=create', arg, path.join(dir, 'x.img')]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, msg);
      noTrace(r.stderr);
    }
  });
});
