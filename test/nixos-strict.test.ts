/**
 * `repart-ts build CONFIG.json` validates the NixOS JSON strictly: every mistake is an error that
 * names its JSON path and leaves no image (a typo must never build a different image); warnings
 * about repartConfig keys point at the JSON, not at the deleted generated definitions; a second
 * build into the same --out says what to do.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI } from './helpers/reference.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nixos-strict-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000' };

const efi = path.join(work, 'BOOTX64.EFI');
fs.writeFileSync(efi, 'MZ fake loader\n');
const store = path.join(work, 'store');
fs.mkdirSync(path.join(store, 'aaaa-hello/bin'), { recursive: true });
fs.writeFileSync(path.join(store, 'aaaa-hello/bin/hello'), '#!/bin/sh\necho hello\n');

/** A valid appliance-style config, for the mistakes to be made in. */
function good(): Record<string, any> {
  return {
    name: 'img', storeDir: store, architecture: 'x86-64',
    partitions: {
      esp: { contents: { '/EFI/BOOT/BOOTX64.EFI': { source: efi } }, repartConfig: { Type: 'esp', Format: 'vfat', SizeMinBytes: '64M' } },
      root: { storePaths: [path.join(store, 'aaaa-hello')], nixStorePrefix: '/nix/store', repartConfig: { Type: 'root', Format: 'ext4', Minimize: 'guess' } },
    },
  };
}

let n = 0;
function build(cfg: unknown, opts: { out?: string; args?: string[] } = {}): { status: number; stdout: string; stderr: string; out: string } {
  const file = path.join(work, `cfg-${++n}.json`);
  fs.writeFileSync(file, JSON.stringify(cfg, null, 2));
  const out = opts.out ?? path.join(work, `out-${n}`);
  const r = spawnSync(process.execPath, [CLI, 'build', file, '--out', out, '--no-progress', ...(opts.args ?? [])], { env, encoding: 'utf8', timeout: 5 * 60 * 1000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, out };
}

/** A mistake: exit 1, one message naming `where` (and `also`), no output directory at all. */
function refused(cfg: unknown, where: string, also?: RegExp, args?: string[]): void {
  const r = build(cfg, { args });
  assert.equal(r.status, 1, r.stderr);
  assert.ok(r.stderr.includes(where), `"${where}" not in: ${r.stderr}`);
  if (also) assert.match(r.stderr, also);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(fs.existsSync(r.out), false, `${r.out} was made`);
}

test('the good config builds (the mistakes below are made in it)', () => {
  const r = build(good());
  assert.equal(r.status, 0, r.stderr);
  assert.ok(fs.existsSync(path.join(r.out, 'img.raw')));
});

test('unknown keys are errors naming their JSON path, with the key meant', () => {
  const c1 = good();
  c1.partitions.root.nixStorePrefx = '/';
  refused(c1, 'partitions.root.nixStorePrefx', /unknown key \(did you mean nixStorePrefix\?\)/);
  const c2 = good();
  c2.imagesize = '2G';
  refused(c2, 'imagesize', /did you mean imageSize\?/);
  const c3 = good();
  c3.compression = { enable: true, algoritm: 'xz' };
  refused(c3, 'compression.algoritm', /did you mean algorithm\?/);
  const c4 = good();
  c4.partitions.esp.contents['/EFI/BOOT/BOOTX64.EFI'].sorce = efi;
  refused(c4, 'partitions.esp.contents."/EFI/BOOT/BOOTX64.EFI".sorce', /did you mean source\?/);
  const c5 = good();
  c5.verityStore = { enable: false, partitionIds: { esp: 'esp', storeVerity: 'x' } };
  refused(c5, 'verityStore.partitionIds.storeVerity', /did you mean store-verity\?/);
  const c6 = good();
  c6.partitions.root.frobnicate = true;
  refused(c6, 'partitions.root.frobnicate', /unknown key; known here: contents, storePaths, closure, nixStorePrefix, repartConfig/);
});

test('a contents source that does not exist is an error, even with --quiet', () => {
  const c = good();
  c.partitions.esp.contents['/EFI/BOOT/BOOTX64.EFI'].source = path.join(work, 'missing.efi');
  refused(c, 'partitions.esp.contents."/EFI/BOOT/BOOTX64.EFI".source', /missing\.efi does not exist/, ['--quiet']);
});

test('a store path that does not exist is an error', () => {
  const c = good();
  c.partitions.root.storePaths = [path.join(store, 'zzzz-gone')];
  refused(c, 'partitions.root', /store path .*zzzz-gone does not exist/);
});

test('warnings about repartConfig keys name partitions.X.repartConfig.Key, not a deleted file', () => {
  const c = good();
  c.partitions.root.repartConfig.Frobnicate = 'yes';
  const r = build(c);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /partitions\.root\.repartConfig\.Frobnicate/);
  assert.doesNotMatch(r.stderr, /repart-ts-defs-|\.conf:\d/);
});

test('errors in repartConfig values name the JSON path too', () => {
  const c = good();
  c.partitions.root.repartConfig.SizeMinBytes = 'lots';
  const r = build(c);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /partitions\.root\.repartConfig\.SizeMinBytes/);
  assert.doesNotMatch(r.stderr, /repart-ts-defs-|\.conf:\d/);
  assert.equal(fs.existsSync(path.join(r.out, 'img.raw')), false);
});

test('a second build into the same --out says to remove the image or use another --out, and keeps the first', () => {
  const out = path.join(work, 'twice');
  const first = build(good(), { out });
  assert.equal(first.status, 0, first.stderr);
  const before = fs.readFileSync(path.join(out, 'img.raw'));
  const again = build(good(), { out });
  assert.equal(again.status, 1);
  assert.match(again.stderr, /img\.raw already exists from an earlier build: remove it, or build into another --out directory/);
  assert.doesNotMatch(again.stderr, /--empty|\n\s+at /);
  assert.ok(fs.readFileSync(path.join(out, 'img.raw')).equals(before), 'the first image is untouched');
});
