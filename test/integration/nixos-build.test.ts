/**
 * The NixOS manual chapter's three examples through `repart-ts build`, on a synthetic store:
 * a store-only partition (nixStorePrefix = "/"), a btrfs root with the store in a subvolume
 * (nixStorePrefix = "/@nix-store") and the appliance image (ESP + ext4 root). Each partition is
 * read back and compared with the source store (paths, bytes, modes, owners = root, mtimes
 * clamped to SOURCE_DATE_EPOCH, symlink targets, hard links within one store path).
 * Then the drop-in path: the exact nixpkgs invocation through repart-ts and the real
 * systemd-repart, same table, JSON and trees.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CLI } from '../helpers/reference.js';
import { EPOCH, makeStore, nixosVerityConfig } from '../helpers/nixos-fixture.js';
import { describeBtrfs, describeExt4, describeTree, diffDescriptions, hostTree, type Entry } from '../wasm-helpers.js';

const env = { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) };
let dir = '';
let store = '';

/** What a partition holding the store under `prefix` must contain, read independently of our tree builder. */
/** Times clamped to SOURCE_DATE_EPOCH, as the systemd 262 stack's tools do. */
function expectedStore(prefix: string, clamp = true): { entries: Map<string, Entry>; links: string[][] } {
  const d = describeTree(hostTree(store), clamp ? EPOCH : undefined);
  const entries = new Map<string, Entry>();
  const pre = prefix === '/' ? '' : prefix;
  for (const [p, e] of d.entries) entries.set(pre + p, { ...e, uid: 0, gid: 0 });
  // systemd-repart keeps hard links only within one CopyFiles= line, i.e. one store path
  const links: string[][] = [];
  for (const g of d.links) {
    const byPath = new Map<string, string[]>();
    for (const p of g) byPath.set(p.split('/')[1]!, [...(byPath.get(p.split('/')[1]!) ?? []), pre + p]);
    for (const sub of byPath.values()) if (sub.length > 1) links.push(sub.sort());
  }
  return { entries, links };
}

function build(name: string, cfg: unknown): { out: string; json: { type: string; offset: number; raw_size: number; split_path?: string }[] } {
  const cfgFile = path.join(dir, `${name}.json`);
  writeFileSync(cfgFile, JSON.stringify(cfg));
  const out = path.join(dir, `out-${name}`);
  const r = spawnSync(process.execPath, [CLI, 'build', cfgFile, '--out', out], { env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const json = JSON.parse(readFileSync(path.join(out, 'repart-output.json'), 'utf8'));
  assert.deepEqual(JSON.parse(r.stdout), json, 'stdout is the JSON kept as repart-output.json');
  return { out, json };
}

const verityConfig = (efi: string) => nixosVerityConfig(dir, store, efi);

const fsckExt4 = (dev: string) => {
  const r = spawnSync('e2fsck', ['-fn', dev], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
};

describe('NixOS image.repart examples (repart-ts build)', () => {
  before(() => {
    ({ dir, store } = makeStore());
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('store partition with nixStorePrefix = "/"', () => {
    const { out, json } = build('store', {
      name: 'store', version: '25.11', storeDir: store, split: true,
      partitions: { store: { closure: path.join(dir, 'store-root/store-paths'), nixStorePrefix: '/', repartConfig: { Type: 'linux-generic', Label: 'nix-store', Format: 'ext4', SizeMinBytes: '64M' } } },
    });
    assert.ok(existsSync(path.join(out, 'store_25.11.raw')));
    const split = path.join(out, 'store_25.11.linux-generic.raw');
    assert.equal(json[0]!.split_path, split);
    fsckExt4(split);
    const got = describeExt4(split, path.join(dir, 'scratch-store'));
    got.entries.delete('/lost+found');
    assert.deepEqual(diffDescriptions(expectedStore('/'), got), []);
  });

  it('btrfs root with Subvolumes = "/@ /@nix-store" and nixStorePrefix = "/@nix-store"', () => {
    const { out } = build('btrfs', {
      name: 'root', storeDir: store, split: true,
      partitions: { root: { closure: path.join(dir, 'store-root/store-paths'), nixStorePrefix: '/@nix-store', repartConfig: { Type: 'root', Label: 'root', Format: 'btrfs', Subvolumes: '/@ /@nix-store', MakeDirectories: '/@ /@nix-store' } } },
    });
    const split = path.join(out, 'root.root-x86-64.raw');
    const chk = spawnSync('btrfs', ['check', '--readonly', split], { encoding: 'utf8' });
    assert.equal(chk.status, 0, chk.stdout + chk.stderr);
    const got = describeBtrfs(split, path.join(dir, 'scratch-btrfs'));
    assert.deepEqual([...got.subvolumes.keys()].sort(), ['/@', '/@nix-store']);
    const want = expectedStore('/@nix-store');
    const skip = (p: string) => p === '/@' || p === '/@nix-store';
    assert.deepEqual(diffDescriptions(want, got, skip).filter((l) => !/^extra \/@(nix-store)?$/.test(l)), []);
  });

  it('the appliance image: ESP (vfat) with contents + ext4 root with the store', () => {
    const efi = path.join(dir, 'BOOTX64.EFI');
    writeFileSync(efi, Buffer.alloc(150_000, 0x4d));
    const { out, json } = build('appliance', {
      name: 'image', storeDir: store, split: true,
      partitions: {
        esp: { contents: { '/EFI/BOOT/BOOTX64.EFI': { source: efi } }, repartConfig: { Type: 'esp', Format: 'vfat', SizeMinBytes: '96M' } },
        root: { storePaths: readFileSync(path.join(dir, 'store-root/store-paths'), 'utf8').trim().split('\n'), repartConfig: { Type: 'root', Format: 'ext4', Label: 'nixos', SizeMinBytes: '64M' } },
      },
    });
    assert.deepEqual(json.map((p) => p.type), ['esp', 'root-x86-64']);
    const esp = path.join(out, 'image.esp.raw');
    const f = spawnSync('fsck.fat', ['-n', esp], { encoding: 'utf8' });
    assert.equal(f.status, 0, f.stdout + f.stderr);
    const m = spawnSync('mcopy', ['-n', '-i', esp, '::/EFI/BOOT/BOOTX64.EFI', path.join(dir, 'efi-back')], { env: { ...env, MTOOLS_SKIP_CHECK: '1' }, encoding: 'utf8' });
    assert.equal(m.status, 0, m.stderr);
    assert.ok(readFileSync(path.join(dir, 'efi-back')).equals(readFileSync(efi)));
    const root = path.join(out, 'image.root-x86-64.raw');
    fsckExt4(root);
    const got = describeExt4(root, path.join(dir, 'scratch-app'));
    got.entries.delete('/lost+found');
    const want = expectedStore('/nix/store');
    assert.deepEqual(diffDescriptions(want, got, (p) => p === '/nix' || p === '/nix/store').filter((l) => !/^extra \/nix(\/store)?$/.test(l)), []);
  });

  it('verityStore: intermediate image without the ESP, the UKI built with usrhash=, the ESP added to the same image', () => {
    const efi = path.join(dir, 'BOOTX64.EFI');
    writeFileSync(efi, Buffer.alloc(150_000, 0x4d));
    const { out, json } = build('verity', verityConfig(efi));
    const rows = json as unknown as { type: string; uuid: string; roothash: string | null; split_path: string }[];
    assert.deepEqual(rows.map((r) => r.type), ['esp', 'usr-x86-64-verity', 'usr-x86-64']);
    const hash = rows[1]!.roothash!;
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.equal(rows[2]!.roothash, hash, 'the merged JSON carries the first run\'s root hash');
    assert.equal(rows[2]!.uuid.replaceAll('-', ''), hash.slice(0, 32), 'data partition UUID = first half of the root hash');
    assert.equal(rows[1]!.uuid.replaceAll('-', ''), hash.slice(32), 'hash partition UUID = second half');
    // the kernel would verify the store against the hash in the UKI's command line
    const v = spawnSync('veritysetup', ['verify', path.join(out, 'image.usr-x86-64.raw'), path.join(out, 'image.usr-x86-64-verity.raw'), hash], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stdout + v.stderr);
    const esp = path.join(out, 'image.esp.raw');
    assert.equal(spawnSync('fsck.fat', ['-n', esp]).status, 0);
    const m = spawnSync('mcopy', ['-n', '-i', esp, '::/image.efi', path.join(dir, 'uki-back')], { env: { ...env, MTOOLS_SKIP_CHECK: '1' }, encoding: 'utf8' });
    assert.equal(m.status, 0, m.stderr);
    assert.equal(readFileSync(path.join(dir, 'uki-back'), 'utf8'), `fake UKI usrhash=${hash}\n`);
  });

  it('verityStore: a failing ukiCommand is an error, and no image is left behind', () => {
    const cfgFile = path.join(dir, 'verity-fail.json');
    writeFileSync(cfgFile, JSON.stringify({ ...verityConfig(path.join(dir, 'BOOTX64.EFI')), verityStore: { enable: true, ukiCommand: ['sh', '-c', 'echo no ukify here >&2; exit 3'] } }));
    const r = spawnSync(process.execPath, [CLI, 'build', cfgFile, '--out', path.join(dir, 'out-verity-fail')], { env, encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /verityStore\.ukiCommand failed \(exit 3\): no ukify here/);
    assert.deepEqual(readdirSync(path.join(dir, 'out-verity-fail')), [], 'the intermediate image is removed');
  });

  it('compression.enable: outputs become .zst (decoded by host zstd), originals removed', { skip: spawnSync('sh', ['-c', 'command -v zstd']).status === 0 ? false : 'host zstd not installed' }, () => {
    const { out } = build('compressed', {
      name: 'small', version: '1', storeDir: store, split: true, compression: { enable: true, algorithm: 'zstd', level: 3 },
      partitions: { store: { closure: path.join(dir, 'store-root/store-paths'), nixStorePrefix: '/', repartConfig: { Type: 'linux-generic', Format: 'ext4', SizeMinBytes: '40M' } } },
    });
    assert.deepEqual(readdirSync(out).sort(), ['repart-output.json', 'small_1.linux-generic.raw.zst', 'small_1.raw.zst']);
    const d = spawnSync('zstd', ['-d', '-q', path.join(out, 'small_1.linux-generic.raw.zst'), '-o', path.join(out, 'part.raw')], { encoding: 'utf8' });
    assert.equal(d.status, 0, d.stderr);
    fsckExt4(path.join(out, 'part.raw'));
  });

});
