/**
 * Reproducible btrfs (src/fs/btrfs/repro.ts, wasm/shim/repro.c): the same definitions, seed and
 * SOURCE_DATE_EPOCH give the same image bytes, built by two separate processes, with the UUIDs
 * mkfs.btrfs would draw at random derived from the file system UUID. Judged by comparing the
 * whole images, by btrfs check, and by the superblock's device UUID.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { copyWindow, describeTree, hostTree, makeFixture } from '../wasm-helpers.js';
import { runOurs } from '../helpers/reference.js';
import { btrfsUuids } from '../../src/fs/btrfs/repro.js';
import type { FormatJob } from '../../src/fs/driver.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'btrfs-repro-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));

const SEED = '0f3c6d52-9a77-4c1e-b1f3-5d2c8e4a7b90';
const EPOCH = '1735689600';

function definitions(): string {
  const src = path.join(work, 'src');
  makeFixture(src);
  for (const d of ['usr/lib', 'home/user']) fs.mkdirSync(path.join(src, d), { recursive: true });
  fs.writeFileSync(path.join(src, 'home/user/notes'), 'subvolume content\n');
  // read every file once: the fixture has files with old times, and the first read moves their
  // atime (relatime), which would change the second build's input, not its determinism
  describeTree(hostTree(src));
  const defs = path.join(work, 'defs');
  fs.mkdirSync(defs, { recursive: true });
  fs.writeFileSync(path.join(defs, '10-root.conf'),
    `[Partition]\nType=root\nFormat=btrfs\nCopyFiles=${src}:/\nSubvolumes=/usr /home\nDefaultSubvolume=/usr\nSizeMinBytes=300M\n`);
  fs.writeFileSync(path.join(defs, '20-srv.conf'),
    `[Partition]\nType=srv\nFormat=btrfs\nCopyFiles=${src}:/\nCompression=zstd\nSizeMinBytes=200M\n`);
  return defs;
}

interface Part { offset: number; raw_size: number; label: string }

function build(defs: string, name: string): { image: string; parts: Part[]; stderr: string } {
  const image = path.join(work, name);
  const r = runOurs(['--offline=yes', `--definitions=${defs}`, '--empty=create', '--size=auto', `--seed=${SEED}`,
    '--dry-run=no', '--json=short', image], work, { SOURCE_DATE_EPOCH: EPOCH });
  assert.equal(r.status, 0, r.stderr);
  return { image, parts: JSON.parse(r.stdout) as Part[], stderr: r.stderr };
}

function sha256(p: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

test('the same btrfs image, byte for byte, from two processes; btrfs check passes', { timeout: 300_000 }, () => {
  const defs = definitions();
  const a = build(defs, 'a.img');
  const b = build(defs, 'b.img');
  assert.equal(fs.statSync(a.image).size, fs.statSync(b.image).size);
  assert.equal(sha256(a.image), sha256(b.image), 'two runs with the same seed and SOURCE_DATE_EPOCH give the same image');
  assert.equal(a.parts.length, 2);
  for (const p of a.parts) {
    const dev = path.join(work, `${p.label}.btrfs`);
    copyWindow(a.image, p.offset, p.raw_size, dev);
    execFileSync('btrfs', ['check', '--readonly', dev], { stdio: 'pipe' });
    const sb = execFileSync('btrfs', ['inspect-internal', 'dump-super', dev], { encoding: 'utf8' });
    const fsid = /^fsid\s+(\S+)/m.exec(sb)![1]!;
    const devUuid = /^dev_item\.uuid\s+(\S+)/m.exec(sb)![1]!;
    // the device UUID is the first one mkfs.btrfs asks for: derived from the fs UUID, not random
    const derived = btrfsUuids({ fsUuid: fsid, subvolumes: [] } as unknown as FormatJob)[0]!;
    assert.equal(devUuid.replace(/-/g, ''), derived, `${p.label}: device UUID derived from ${fsid}`);
    // times come from SOURCE_DATE_EPOCH: the top-level root item's otime
    const root = execFileSync('btrfs', ['inspect-internal', 'dump-tree', '-t', 'root', dev], { encoding: 'utf8' });
    const otimes = [...root.matchAll(/otime (\d+)\.\d+/g)].map((m) => m[1]);
    assert.ok(otimes.length > 0 && otimes.every((t) => t === '0' || t === EPOCH), `${p.label}: root item times ${otimes.join(' ')}`);
  }
  // a different seed gives different UUIDs, so a different image
  const c = runOurs(['--offline=yes', `--definitions=${defs}`, '--empty=create', '--size=auto', '--seed=1d2f6c0e-2b3a-4c5d-8e9f-a0b1c2d3e4f5',
    '--dry-run=no', '--json=off', path.join(work, 'c.img')], work, { SOURCE_DATE_EPOCH: EPOCH });
  assert.equal(c.status, 0, c.stderr);
  assert.notEqual(sha256(path.join(work, 'c.img')), sha256(a.image));
});
