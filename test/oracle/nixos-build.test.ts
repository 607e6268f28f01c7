/**
 * Oracle tier: `repart-ts build` and the nixpkgs invocation through repart-ts against the real
 * systemd-repart — the verityStore flow against nixpkgs' two 257 runs (whole image), and the
 * drop-in argv (same JSON, GPT and trees).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CLI, referenceSkipReason, runOurs, runReference } from '../helpers/reference.js';
import { EPOCH, makeStore, nixosVerityConfig } from '../helpers/nixos-fixture.js';
import { describeBtrfs, describeExt4, diffDescriptions } from '../wasm-helpers.js';
import { builderArgs, definitionText, parseNixosConfig } from '../../src/nixos/config.js';

const env = { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) };
let dir = '';
let store = '';
const verityConfig = (efi: string) => nixosVerityConfig(dir, store, efi);

describe('NixOS image.repart vs systemd-repart', () => {
  before(() => {
    ({ dir, store } = makeStore());
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('verityStore built natively equals nixpkgs\' two systemd-repart runs (257: same erofs-utils)', { skip: referenceSkipReason('trixie') ?? false }, () => {
    const efi = path.join(dir, 'BOOTX64.EFI');
    writeFileSync(efi, Buffer.alloc(150_000, 0x4d));
    const cfgFile = path.join(dir, 'verity-oracle.json');
    writeFileSync(cfgFile, JSON.stringify(verityConfig(efi)));
    const ours = spawnSync(process.execPath, [CLI, 'build', cfgFile, '--out', path.join(dir, 'out-verity-oracle'), '--compat=257'], { env, encoding: 'utf8' });
    assert.equal(ours.status, 0, ours.stderr);
    // the same by hand, as repart-image.nix and repart-verity-store.nix run systemd-repart
    const cfg = parseNixosConfig(cfgFile);
    const work = path.join(dir, 'verity-oracle');
    mkdirSync(path.join(work, 'repart.d'), { recursive: true });
    const writeDefs = () => { for (const [n, p] of cfg.partitions) writeFileSync(path.join(work, 'repart.d', `${n}.conf`), definitionText(cfg, n, p)); };
    writeDefs();
    const args = builderArgs(cfg, 'repart.d', 'image.raw', 'x86-64');
    const o = { SOURCE_DATE_EPOCH: String(EPOCH), REFERENCE_BIND: dir };
    const first = runReference('trixie', ['--offline=yes', ...args.map((a) => (a.startsWith('--split=') ? '--split=false' : a)), '--defer-partitions=esp'], work, o);
    assert.equal(first.status, 0, first.stderr);
    const hash = (JSON.parse(first.stdout) as { type: string; roothash: string }[]).find((r) => r.type === 'usr-x86-64-verity')!.roothash;
    const uki = path.join(work, 'image.efi');
    writeFileSync(uki, `fake UKI usrhash=${hash}\n`);
    utimesSync(uki, EPOCH, EPOCH);
    cfg.partitions.find(([n]) => n === '00-esp')![1].contents.push({ target: '/image.efi', source: uki });
    writeDefs();
    const second = runReference('trixie', ['--offline=yes', ...args.filter((a) => a !== '--empty=create')], work, o);
    assert.equal(second.status, 0, second.stderr);
    const a = readFileSync(path.join(work, 'image.raw')), b = readFileSync(path.join(dir, 'out-verity-oracle/image.raw'));
    assert.equal(b.length, a.length, 'image size');
    const cmp = spawnSync('cmp', ['-l', path.join(work, 'image.raw'), path.join(dir, 'out-verity-oracle/image.raw')], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const diffs = cmp.stdout.split('\n').filter(Boolean);
    assert.equal(diffs.length, 0, `the whole image differs in ${diffs.length} bytes, from offset ${diffs[0]?.trim().split(/\s+/)[0]}; first rows ${JSON.stringify(JSON.parse(second.stdout).map((r: { offset: number; type: string }) => [r.type, r.offset]))}`);
  });

  for (const suite of ['trixie', 'sid'] as const) {
    it(`the nixpkgs invocation (drop-in) matches systemd-repart (${suite})`, { skip: referenceSkipReason(suite) ?? false }, () => {
      // 257 refuses Subvolumes= offline, so the trixie run uses the store partition example.
      const cfgFile = path.join(dir, `dropin-${suite}.json`);
      writeFileSync(cfgFile, JSON.stringify({
        name: 'image', storeDir: store, split: true, sectorSize: 512,
        partitions: suite === 'sid'
          ? { root: { closure: path.join(dir, 'store-root/store-paths'), nixStorePrefix: '/@nix-store', repartConfig: { Type: 'root', Label: 'root', Format: 'btrfs', Subvolumes: '/@ /@nix-store', MakeDirectories: '/@ /@nix-store' } } }
          : { store: { closure: path.join(dir, 'store-root/store-paths'), nixStorePrefix: '/', repartConfig: { Type: 'linux-generic', Label: 'nix-store', Format: 'ext4', SizeMinBytes: '64M' } } },
      }));
      const cfg = parseNixosConfig(cfgFile);
      const work = path.join(dir, `dropin-${suite}`);
      mkdirSync(path.join(work, 'repart.d'), { recursive: true });
      for (const [n, p] of cfg.partitions) writeFileSync(path.join(work, 'repart.d', `${n}.conf`), definitionText(cfg, n, p));
      const args = builderArgs(cfg, 'repart.d', 'image.raw', 'x86-64');
      // The builder's sandbox has no loop devices, so systemd-repart falls back to offline; this
      // machine has some, so the reference is told so explicitly. repart-ts runs the exact line.
      const ref = runReference(suite, ['--offline=yes', ...args], work, { SOURCE_DATE_EPOCH: String(EPOCH), REFERENCE_BIND: dir });
      assert.equal(ref.status, 0, ref.stderr);
      mkdirSync(path.join(work, 'ref'));
      for (const f of readdirSync(work).filter((f) => f.startsWith('image'))) spawnSync('mv', [path.join(work, f), path.join(work, 'ref', f)]);
      const ours = runOurs([...(suite === 'trixie' ? ['--compat=257'] : []), '--quiet', ...args], work, { SOURCE_DATE_EPOCH: String(EPOCH) });
      assert.equal(ours.status, 0, ours.stderr);
      assert.equal(ours.stdout, ref.stdout, 'JSON');
      const a = readFileSync(path.join(work, 'ref/image.raw')), b = readFileSync(path.join(work, 'image.raw'));
      assert.ok(a.subarray(0, 1 << 20).equals(b.subarray(0, 1 << 20)), 'GPT head');
      assert.ok(a.subarray(a.length - 20480).equals(b.subarray(b.length - 20480)), 'GPT tail');
      const splitName = readdirSync(path.join(work, 'ref')).find((f) => f !== 'image.raw')!;
      if (suite === 'sid') {
        const r = describeBtrfs(path.join(work, 'ref', splitName), path.join(work, 's1'));
        const o = describeBtrfs(path.join(work, splitName), path.join(work, 's2'));
        assert.deepEqual(diffDescriptions(r, o), []);
      } else {
        const r = describeExt4(path.join(work, 'ref', splitName), path.join(work, 's1'));
        const o = describeExt4(path.join(work, splitName), path.join(work, 's2'));
        assert.deepEqual(diffDescriptions(r, o), []);
      }
    });
  }
});
