/**
 * Existing-disk safety against the real systemd-repart 262 (sid): where 262 reads a GPT from its
 * backup, repart-ts produces the same image byte for byte; where 262 refuses, repart-ts refuses
 * with the same exit status and leaves the image as 262 does; where repart-ts is stricter
 * (whole-disk signatures, corrupt entries 262 writes back), the difference is asserted as the
 * documented one (README, "Existing disks"). Skipped without root or the oracle.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { referenceSkipReason, runOurs, runReference } from '../helpers/reference.js';
import { HEADER, patch, setEntry, sha256 } from '../helpers/gpt-craft.js';

const SEED = '--seed=e2a40bf9-73f1-4278-9160-49c031e7aef8';
const skip = referenceSkipReason('sid') ?? false;
const T = { timeout: 300_000 };
let dir = '';
const KEEP_AT = 4096 * 512;

const ONE = '[Partition]\nType=linux-generic\nSizeMinBytes=10M\nSizeMaxBytes=10M\n';
const HOME = '[Partition]\nType=home\nSizeMinBytes=10M\n';
const write = (rel: string, c: string | Buffer) => { mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true }); writeFileSync(path.join(dir, rel), c); };

/** The second step on two copies of `img`: both tools' status, stderr, and image hashes. */
function both(name: string, img: Buffer, args: string[]) {
  write(`${name}.in.img`, img);
  write(`${name}.ref.img`, img);
  write(`${name}.ours.img`, img);
  const common = ['--offline=yes', '--definitions=d2', SEED, '--json=off', ...args];
  const ref = runReference('sid', [...common, `${name}.ref.img`], dir);
  const ours = runOurs([...common, `${name}.ours.img`], dir);
  return {
    ref, ours, before: sha256(path.join(dir, `${name}.in.img`)),
    refAfter: sha256(path.join(dir, `${name}.ref.img`)),
    oursAfter: sha256(path.join(dir, `${name}.ours.img`)),
  };
}

let base: Buffer;

describe('existing-disk safety vs systemd-repart 262', { skip }, () => {
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gpt-safety-oracle-'));
    write('d1/10.conf', ONE);
    write('d2/10.conf', ONE);
    write('d2/20.conf', HOME);
    const r = runReference('sid', ['--offline=yes', '--definitions=d1', '--empty=create', '--size=40M', SEED, '--dry-run=no', '--json=off', 'base.img'], dir);
    assert.equal(r.status, 0, r.stderr);
    base = readFileSync(path.join(dir, 'base.img'));
    base.write('KEEP-ME', KEEP_AT, 'latin1');
  });
  after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });
  const img = (f?: (b: Buffer) => void) => { const b = Buffer.from(base); f?.(b); return b; };

  const backupOnly: [string, (b: Buffer) => void][] = [
    ['undamaged', () => {}],
    ['primary header zeroed', (b) => b.fill(0, 512, 1024)],
    ['primary header CRC wrong', (b) => { b[512 + 40] ^= 1; }],
    ['primary entry array CRC wrong', (b) => { b[1024 + 200] ^= 1; }],
    ['backup header zeroed', (b) => b.fill(0, b.length - 512)],
    ['backup entry array CRC wrong', (b) => { b[b.length - 33 * 512 + 200] ^= 1; }],
    ['a hybrid MBR', (b) => { b[446 + 16 + 4] = 0x83; b.writeUInt32LE(40000, 446 + 16 + 8); b.writeUInt32LE(100, 446 + 16 + 12); }],
    ['0xEE in the second MBR slot', (b) => { b.copy(b, 446 + 16, 446, 446 + 16); b.fill(0, 446, 446 + 16); }],
  ];
  for (const [what, hurt] of backupOnly) {
    it(`${what}: the same image as 262 (partitions and data kept, both copies written)`, T, () => {
      // growing too: 262 grows the file before it reads the table (see below), so only where the primary is good
      const grow = what.includes('primary') ? [] : ['--size=48M'];
      const r = both(`b-${what.replaceAll(/[^a-z0-9]/gi, '-')}`, img(hurt), ['--empty=allow', '--dry-run=no', ...grow]);
      assert.equal(r.ref.status, 0, r.ref.stderr);
      assert.equal(r.ours.status, 0, r.ours.stderr);
      assert.equal(r.oursAfter, r.refAfter, 'byte-identical images');
    });
  }

  it('primary header damaged and --size= growing the file: 262 grows the file, then finds no GPT (77); repart-ts reads the backup first and keeps everything (documented)', T, () => {
    const r = both('grow-primary-lost', img((b) => b.fill(0, 512, 1024)), ['--empty=allow', '--dry-run=no', '--size=48M']);
    assert.equal(r.ref.status, 77, r.ref.stderr);
    assert.match(r.ref.stderr, /has non-GPT disk label/);
    assert.equal(r.ours.status, 0, r.ours.stderr);
    const out = readFileSync(path.join(dir, 'grow-primary-lost.ours.img'));
    assert.equal(out.length, 48 << 20);
    assert.equal(out.toString('latin1', KEEP_AT, KEEP_AT + 7), 'KEEP-ME');
  });

  const mbr = (b: Buffer) => { b.fill(0, 0, 512); b[446 + 4] = 0x83; b.writeUInt32LE(2048, 446 + 8); b.writeUInt32LE(10000, 446 + 12); b[510] = 0x55; b[511] = 0xaa; };
  const set64 = (field: keyof typeof HEADER, v: bigint) => (b: Buffer) => { patch(b, 512, ['primary', 'backup'], (x, c) => x.writeBigUInt64LE(v, c.header + HEADER[field])); };
  const set32 = (field: keyof typeof HEADER, v: number) => (b: Buffer) => { patch(b, 512, ['primary', 'backup'], (x, c) => x.writeUInt32LE(v, c.header + HEADER[field])); };
  const N = BigInt((40 << 20) / 512);
  const refusedByBoth: [string, (b: Buffer) => void, string, RegExp][] = [
    ['DOS label', mbr, 'allow', /has non-GPT disk label/],
    ['DOS label', mbr, 'require', /already has a disk label/],
    ['DOS label', mbr, 'refuse', /has no GPT disk label/],
    ['Sun label', (b) => { b.fill(0, 0, 512); b[508] = 0xda; b[509] = 0xbe; }, 'allow', /has non-GPT disk label/],
    ['both GPT headers zeroed', (b) => { b.fill(0, 512, 1024); b.fill(0, b.length - 512); }, 'allow', /has non-GPT disk label/],
    ['LastUsableLBA 2^48-1', set64('lastUsable', (1n << 48n) - 1n), 'allow', /has non-GPT disk label/],
    ['LastUsableLBA 2^48-1', set64('lastUsable', (1n << 48n) - 1n), 'refuse', /has no GPT disk label/],
    ['FirstUsableLBA 1', set64('firstUsable', 1n), 'allow', /has non-GPT disk label/],
    ['FirstUsableLBA 2', set64('firstUsable', 2n), 'allow', /has non-GPT disk label/],
    ['entry array LBA near 2^64', set64('entriesLba', (1n << 64n) - 5n), 'allow', /has non-GPT disk label/],
    ['0 entries', set32('numEntries', 0), 'allow', /has non-GPT disk label/],
    ['entry size 100', set32('entrySize', 100), 'allow', /has non-GPT disk label/],
    ['header size 91', set32('headerSize', 91), 'allow', /has non-GPT disk label/],
  ];
  for (const [what, hurt, mode, msg] of refusedByBoth) {
    it(`${what}, --empty=${mode}: both refuse with 77, image untouched`, T, () => {
      const r = both(`r-${what.replaceAll(/[^a-z0-9]/gi, '-')}-${mode}`, img(hurt), [`--empty=${mode}`, '--dry-run=no']);
      assert.equal(r.ref.status, 77, r.ref.stderr);
      assert.equal(r.ours.status, 77, r.ours.stderr);
      assert.match(r.ref.stderr, msg);
      assert.match(r.ours.stderr, msg);
      assert.equal(r.refAfter, r.before);
      assert.equal(r.oursAfter, r.before);
    });
  }

  const p1 = 2048n;
  const failedByBoth: [string, (b: Buffer) => void][] = [
    ['overlapping entries', (b) => { setEntry(b, 512, 1, p1 + 100n, p1 + 5000n); }],
    ['an entry past the disk end', (b) => { setEntry(b, 512, 1, N - 200n, N + 100n); }],
    ['an entry starting at LBA 1', (b) => { setEntry(b, 512, 1, 1n, 100n); }], // 262 asserts (SIGABRT)
  ];
  for (const [what, hurt] of failedByBoth) {
    it(`${what}: both fail, image untouched (repart-ts: E_GPT_CORRUPT before any write)`, T, () => {
      const r = both(`f-${what.replaceAll(' ', '-')}`, img(hurt), ['--empty=allow', '--dry-run=no']);
      assert.notEqual(r.ref.status, 0, r.ref.stderr);
      assert.equal(r.ours.status, 1, r.ours.stderr);
      assert.match(r.ours.stderr, /corrupt GPT/);
      assert.equal(r.refAfter, r.before);
      assert.equal(r.oursAfter, r.before);
    });
  }

  const stricter: [string, () => Buffer, RegExp][] = [
    ['a whole-disk ext4 superblock', () => { const b = Buffer.alloc(40 << 20); b.writeUInt16LE(0xef53, 1080); return b; }, /it carries a ext2\/3\/4 file system/],
    ['a reversed entry', () => img((b) => { setEntry(b, 512, 1, 40000n, 30000n); }), /after its end/],
    ['LastUsableLBA over the backup entry array', () => img(set64('lastUsable', N - 2n)), /no room for the backup entry array/],
  ];
  for (const [what, make, msg] of stricter) {
    it(`${what}: 262 writes, repart-ts refuses and leaves it untouched (documented)`, T, () => {
      const r = both(`s-${what.replaceAll(' ', '-')}`, make(), ['--empty=allow', '--dry-run=no']);
      assert.equal(r.ref.status, 0, r.ref.stderr);
      assert.notEqual(r.refAfter, r.before, '262 changed the disk');
      assert.notEqual(r.ours.status, 0);
      assert.match(r.ours.stderr, msg);
      assert.equal(r.oursAfter, r.before);
    });
  }

  it('a symlinked image: both write through the link, in place, with the same result', T, () => {
    const inode = (f: string) => statSync(f).ino;
    for (const who of ['ref', 'ours'] as const) {
      write(`real-${who}.img`, img());
      symlinkSync(`real-${who}.img`, path.join(dir, `link-${who}.img`));
    }
    const before = [inode(path.join(dir, 'real-ref.img')), inode(path.join(dir, 'real-ours.img'))];
    const common = ['--offline=yes', '--definitions=d2', SEED, '--json=off', '--empty=allow', '--dry-run=no', '--size=64M'];
    const ref = runReference('sid', [...common, 'link-ref.img'], dir);
    const ours = runOurs([...common, 'link-ours.img'], dir);
    assert.equal(ref.status, 0, ref.stderr);
    assert.equal(ours.status, 0, ours.stderr);
    for (const who of ['ref', 'ours']) assert.ok(lstatSync(path.join(dir, `link-${who}.img`)).isSymbolicLink(), `${who}: still a link`);
    assert.deepEqual([inode(path.join(dir, 'real-ref.img')), inode(path.join(dir, 'real-ours.img'))], before, 'same inodes');
    assert.equal(sha256(path.join(dir, 'real-ours.img')), sha256(path.join(dir, 'real-ref.img')), 'byte-identical');
  });

  it('more than 128 partitions, SizeMinBytes=1E, --size=8E: both fail with exit status 1, nothing left behind', T, () => {
    for (let i = 1; i <= 130; i++) write(`many/${String(i).padStart(3, '0')}.conf`, '[Partition]\nType=linux-generic\nSizeMinBytes=1M\nSizeMaxBytes=1M\n');
    write('huge/a.conf', '[Partition]\nType=linux-generic\nSizeMinBytes=1E\n');
    for (const args of [['--definitions=many', '--size=auto'], ['--definitions=huge', '--size=auto'], ['--definitions=d1', '--size=8E']]) {
      const common = ['--offline=yes', SEED, '--json=off', '--empty=create', '--dry-run=no', ...args];
      const ref = runReference('sid', [...common, 'x-ref.img'], dir);
      const ours = runOurs([...common, 'x-ours.img'], dir);
      assert.equal(ref.status, 1, ref.stderr);
      assert.equal(ours.status, 1, ours.stderr);
      assert.doesNotMatch(ours.stderr, /\n\s+at /);
      rmSync(path.join(dir, 'x-ref.img'), { force: true });
      assert.throws(() => statSync(path.join(dir, 'x-ours.img')), 'no image is created');
    }
  });
});
