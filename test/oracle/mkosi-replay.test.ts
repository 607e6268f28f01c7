/**
 * A replay of the systemd-repart calls mkosi makes (mkosi/__init__.py: make_image()'s three disk
 * calls, the ESP, extension images, the --json=short listing, RuntimeSize, burn and OBS's
 * --join-signature), with the argv shapes mkosi uses, run side by side against systemd-repart 262
 * and repart-ts. Every step must complete where 262 completes; with fixed partition sizes,
 * SOURCE_DATE_EPOCH and a source tree without xattrs the images must be byte-identical.
 * mkosi's own version check is replayed too: it reads the third field of `--version`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { referenceSkipReason } from '../helpers/reference.js';
import { makeSides, oursRun, refRun, sameFile, sfdiskDump, type SideRun, type Sides } from '../helpers/side-by-side.js';

const SUITE = 'sid' as const;
const SEED = '0e9a6fe0-68f6-408c-bbeb-136054d20445';
const ENV = { SOURCE_DATE_EPOCH: '1700000000' };
const skip = referenceSkipReason(SUITE);

/** mkosi's version check: GenericVersion(stdout.split()[2].strip("()")) >= 254 */
function mkosiVersion(stdout: string): number {
  return Number.parseInt(stdout.split(/\s+/)[2]!.replace(/^\(+|\)+$/g, ''), 10);
}

function both(s: Sides, args: string[], o: { status?: number } = {}): { ours: SideRun; ref: SideRun } {
  const fix = (side: string) => args.map((a) => a.replaceAll('@D@', side));
  const ref = refRun(SUITE, s.ref, fix(s.ref), ENV);
  const ours = oursRun(s.ours, ['--no-progress', ...fix(s.ours)], ENV);
  assert.equal(ref.status, o.status ?? 0, `262: ${args.join(' ')}\n${ref.stderr.slice(-2000)}`);
  assert.equal(ours.status, o.status ?? 0, `repart-ts: ${args.join(' ')}\n${ours.stderr.slice(-2000)}`);
  return { ours, ref };
}

function write(dir: string, rel: string, content: string): void {
  mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  writeFileSync(path.join(dir, rel), content);
}

/** A small OS tree (no xattrs: plain files written here) and mkosi-like definitions, fixed sizes. */
function prepare(s: Sides): void {
  const t = s.template;
  write(t, 'buildroot/etc/os-release', 'ID=test\nVERSION_ID=1\n');
  write(t, 'buildroot/usr/lib/os-release', 'ID=test\nVERSION_ID=1\n');
  write(t, 'buildroot/usr/bin/hello', '#!/bin/sh\necho hello\n');
  write(t, 'buildroot/efi/EFI/BOOT/BOOTX64.EFI', 'not really an EFI binary\n');
  write(t, 'buildroot/usr/lib/extension-release.d/extension-release.test', 'ID=_any\n');
  write(t, 'repart/00-esp.conf', '[Partition]\nType=esp\nFormat=vfat\nCopyFiles=/efi:/\nSizeMinBytes=300M\nSizeMaxBytes=300M\n');
  write(t, 'repart/10-root.conf', '[Partition]\nType=root\nFormat=ext4\nCopyFiles=/\nExcludeFiles=/efi\nSizeMinBytes=200M\nSizeMaxBytes=200M\nMountPoint=/\n');
  s.fork();
}

let sysextRootHashes: (string | undefined)[][] | undefined;

describe('mkosi replay vs systemd-repart 262', () => {
  it('--version: mkosi reads a systemd version >= 254 from both', { skip: skip ?? false }, () => {
    const s = makeSides('mkosi-version');
    try {
      s.fork();
      const r = both(s, ['--version']);
      assert.equal(mkosiVersion(r.ref.stdout), 262);
      assert.equal(mkosiVersion(r.ours.stdout), 262);
    } finally { s.cleanup(); }
  });

  it('make_image(): disk without ESP (tabs), ESP with El Torito, split, listing, RuntimeSize, burn', { skip: skip ?? false, timeout: 20 * 60 * 1000 }, () => {
    const s = makeSides('mkosi-disk');
    try {
      prepare(s);
      const image = 'image.raw';
      for (const side of [s.ours, s.ref]) writeFileSync(path.join(side, image), '');
      // make_disk(): the common argv
      const disk = ['--empty=allow', '--size=auto', '--dry-run=no', '--json=pretty', '--no-pager', '--root=@D@/buildroot', '--offline=yes',
        '--seed', SEED, '--definitions', 'repart'];
      // 1st call: everything but the ESP/XBOOTLDR (the UKI needs the root hash), fstab/crypttab into the tree
      const first = both(s, [...disk, '--defer-partitions=esp,xbootldr', '--generate-fstab=/etc/fstab', '--generate-crypttab=/etc/crypttab', image]);
      assert.equal(first.ours.stdout, first.ref.stdout, 'JSON of the first call');
      assert.equal(sfdiskDump(SUITE, s.ours, image), sfdiskDump(SUITE, s.ref, image));
      // 2nd call: the ESP, with an El Torito catalog (261+)
      const second = both(s, [...disk, '--el-torito=yes', image]);
      assert.equal(second.ours.stdout, second.ref.stdout, 'JSON of the second call');
      assert.ok(sameFile(path.join(s.ours, image), path.join(s.ref, image)), 'the disk image is byte-identical with 262\'s');
      // 3rd call: split artifacts of the finished image (nothing left to change)
      const third = both(s, [...disk, '--split=yes', image]);
      assert.equal(third.ours.stdout, third.ref.stdout, 'JSON of the split call');
      for (const f of ['image.root-x86-64.raw', 'image.esp.raw'])
        assert.ok(sameFile(path.join(s.ours, f), path.join(s.ref, f)), `${f}: split file`);
      // find_partitions(): the listing
      const list = both(s, ['--json=short', image]);
      assert.equal(list.ours.stdout, list.ref.stdout, '--json=short listing');
      // RuntimeSize=: grow the image before booting it
      both(s, ['--definitions', '', '--no-pager', '--size=1G', '--pretty=no', '--offline=yes', image]);
      assert.equal(statSync(path.join(s.ours, image)).size, 1 << 30);
      assert.ok(sameFile(path.join(s.ours, image), path.join(s.ref, image)), 'grown image (backup GPT moved)');
      // burn: onto a "device" (a file here)
      for (const side of [s.ours, s.ref]) writeFileSync(path.join(side, 'device'), Buffer.alloc(0)), spawnSync('truncate', ['-s', '2G', path.join(side, 'device')]);
      both(s, ['--no-pager', '--pretty=no', '--offline=yes', '--empty=force', '--dry-run=no', '--definitions=', `--copy-from=${image}`, 'device']);
      // burn passes no --seed=: the disk GUID is random on both sides
      const noLabelId = (t: string) => t.replace(/label-id: \S+/, 'label-id: RANDOM');
      assert.equal(noLabelId(sfdiskDump(SUITE, s.ours, 'device')), noLabelId(sfdiskDump(SUITE, s.ref, 'device')));
    } finally { s.cleanup(); }
  });

  it('make_extension_image(): sysext with the built-in definitions, verity signed, split', { skip: skip ?? false, timeout: 20 * 60 * 1000 }, () => {
    const s = makeSides('mkosi-sysext');
    try {
      const k = spawnSync('openssl', ['req', '-new', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '365', '-subj', '/CN=mkosi',
        '-keyout', path.join(s.template, 'mkosi.key'), '-out', path.join(s.template, 'mkosi.crt')], { encoding: 'utf8' });
      assert.equal(k.status, 0, k.stderr);
      prepare(s);
      // --make-ddi= takes its tree from --copy-source= (262 refuses without one)
      const ext = ['--copy-source=@D@/buildroot', '--json=pretty', '--dry-run=no', '--no-pager', '--offline=yes', '--seed', SEED, '--empty=create', '--size=auto',
        '--make-ddi=sysext', '--private-key=mkosi.key', '--certificate=mkosi.crt', '--split=yes'];
      const r = both(s, [...ext, 'ext.raw']);
      const rows = (out: string) => (JSON.parse(out) as { type: string; raw_size: number; offset: number }[]).map((x) => [x.type, x.raw_size, x.offset]);
      assert.deepEqual(rows(r.ours.stdout), rows(r.ref.stdout));
      const hashes = (out: string) => (JSON.parse(out) as { roothash?: string }[]).map((x) => x.roothash);
      sysextRootHashes = [hashes(r.ours.stdout), hashes(r.ref.stdout)];
      // partition UUIDs come from the root hash: the same erofs bytes (sid's erofs-utils 1.9.4), the same table
      assert.equal(sfdiskDump(SUITE, s.ours, 'ext.raw'), sfdiskDump(SUITE, s.ref, 'ext.raw'));
    } finally { s.cleanup(); }
  });


  it('OBS signing (mkosi-obs): the signature partition deferred, signed elsewhere, joined by mkosi.build\'s systemd-repart call', { skip: skip ?? false, timeout: 20 * 60 * 1000 }, () => {
    const s = makeSides('mkosi-obs');
    try {
      const k = spawnSync('openssl', ['req', '-new', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '365', '-subj', '/CN=mkosi',
        '-keyout', path.join(s.template, 'mkosi.key'), '-out', path.join(s.template, 'mkosi.crt')], { encoding: 'utf8' });
      assert.equal(k.status, 0, k.stderr);
      prepare(s);
      // mkosi's sysext definitions (mkosi/resources/repart/definitions/sysext.repart.d + the
      // signature partition), as SplitArtifacts=repart-definitions hands them to OBS
      write(s.template, 'ext.repart.d/10-root.conf', '[Partition]\nType=root\nFormat=erofs\nCopyFiles=/usr/\nVerity=data\nVerityMatchKey=root\nMinimize=best\n');
      write(s.template, 'ext.repart.d/20-root-verity.conf', '[Partition]\nType=root-verity\nVerity=hash\nVerityMatchKey=root\nMinimize=best\n');
      write(s.template, 'ext.repart.d/30-root-verity-sig.conf', '[Partition]\nType=root-verity-sig\nVerity=signature\nVerityMatchKey=root\n');
      // mkosi.build passes --root=mkosi.repart (the definitions plus usr/lib/os-release) so labels
      // can use os-release fields; the machine ID there makes the signature partition's UUID the
      // same on both sides (otherwise each side's own machine ID or a random one)
      write(s.template, 'ext.repart.d/usr/lib/os-release', 'ID=test\nVERSION_ID=1\n');
      write(s.template, 'ext.repart.d/etc/machine-id', '0123456789abcdef0123456789abcdef\n');
      s.fork();
      // make_extension_or_portable_image() with Verity=defer: the built-in definitions, the signature deferred
      const build = both(s, ['--root=@D@/buildroot', '--json=pretty', '--dry-run=no', '--no-pager', '--offline=yes', '--seed', SEED,
        '--empty=create', '--size=auto', '--defer-partitions=root-verity-sig', '--definitions', 'ext.repart.d', 'obs.raw']);
      assert.equal(build.ours.stdout, build.ref.stdout, 'JSON of the deferred build (root hash, UUIDs)');
      assert.ok(sameFile(path.join(s.ours, 'obs.raw'), path.join(s.ref, 'obs.raw')), 'the image before signing is byte-identical with 262\'s');
      const rh = (JSON.parse(build.ref.stdout) as { type: string; roothash?: string }[]).find((x) => x.type.startsWith('root-') && !x.type.includes('verity'))!.roothash!;
      assert.match(rh, /^[0-9a-f]{64}$/);
      // OBS signs the root hash with the project key (here: openssl, from a file — it cannot read /dev/stdin under spawnSync)
      writeFileSync(path.join(s.template, 'rh.txt'), rh);
      const sig = spawnSync('openssl', ['smime', '-sign', '-in', 'rh.txt', '-inkey', 'mkosi.key', '-signer', 'mkosi.crt', '-noattr', '-binary', '-outform', 'der', '-out', 'rh.p7s'], { cwd: s.template, encoding: 'utf8' });
      assert.equal(sig.status, 0, sig.stderr);
      for (const side of [s.ours, s.ref]) writeFileSync(path.join(side, 'rh.p7s'), readFileSync(path.join(s.template, 'rh.p7s')));
      // mkosi-obs/mkosi.build, fifth step: exactly this argv (no --offline, --seed, --empty or --json)
      const join = both(s, ['--join-signature', `${rh}:rh.p7s`, '--certificate', 'mkosi.crt', '--definitions', 'ext.repart.d', '--dry-run=no', 'obs.raw', '--root=@D@/ext.repart.d']);
      // the table before writing ("TBD": the pair is not hashed again), the bar, the table after (the joined hash)
      assert.equal(join.ours.stdout, join.ref.stdout, 'the tables repart prints');
      assert.equal((join.ref.stdout.match(/^TYPE /gm) ?? []).length, 2);
      assert.ok(sameFile(path.join(s.ours, 'obs.raw'), path.join(s.ref, 'obs.raw')), 'the signed image is byte-identical with 262\'s');
      // the signature partition holds the joined signature
      const list = both(s, ['--json=short', 'obs.raw']);
      assert.equal(list.ours.stdout, list.ref.stdout, '--json=short listing of the signed image');
    } finally { s.cleanup(); }
  });

  it('sysext: the erofs root hash equals 262\'s', { skip: skip ?? false }, () => {
    assert.ok(sysextRootHashes, 'the sysext step ran');
    assert.deepEqual(sysextRootHashes![0], sysextRootHashes![1]);
  });
});
