/**
 * nixpkgs' sandbox: the image builder runs `unshare --map-root-user fakeroot systemd-repart …`
 * as an unprivileged user. fakeroot shows every file it has no record of as 0:0; Node's statx
 * bypasses its preload, so repart-ts detects fakeroot (src/tree/owners.ts) and gives the owners
 * systemd-repart gets. Both run nixpkgs' argv, as an unprivileged uid, under `unshare
 * --map-root-user` and fakeroot, on a tree owned by that uid and by others; every entry read back
 * from the two ext4 file systems (owner, mode, type, time, bytes) must be equal.
 *
 * The reference is systemd-repart 262 of the sid tree: the tree is bind-mounted where the
 * unprivileged user can reach it and entered with chroot *inside* the user namespace (a chrooted
 * process cannot create one), with the host's fakeroot copied next to the sources.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI, referenceSkipReason } from '../helpers/reference.js';
import { describeExt4 } from '../wasm-helpers.js';

const UID = 1000; // the nixbld user: any unprivileged uid
const OTHER = 4242;
const FAKEROOT = { script: '/usr/bin/fakeroot-sysv', faked: '/usr/bin/faked-sysv', lib: '/usr/lib/x86_64-linux-gnu/libfakeroot/libfakeroot-sysv.so' };
const SEED = '0867da16-f251-457d-a9e8-c31f9a3c220b';
const REF_ROOT = process.env.REFERENCE_ROOT ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(process.env.HOME ?? '/root', '.cache'), 'repart-reference/sid');

function skipReason(): string | null {
  const r = referenceSkipReason('sid');
  if (r) return r;
  for (const f of Object.values(FAKEROOT)) if (!fs.existsSync(f)) return `${f} missing (apt-get install fakeroot)`;
  const u = spawnSync('setpriv', [`--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', 'unshare', '--map-root-user', 'true'], { encoding: 'utf8', timeout: 30000 });
  if (u.status !== 0) return `unprivileged user namespaces unavailable: ${u.stderr.trim()}`;
  return null;
}
const skip = skipReason();

// Under /tmp: the reference side mounts a tmpfs on the tree's /tmp and makes this directory there.
const work = fs.mkdtempSync('/tmp/fakeroot-oracle-');
after(() => fs.rmSync(work, { recursive: true, force: true }));

function fixture(): { defs: string } {
  const tree = path.join(work, 'src/tree');
  fs.mkdirSync(path.join(tree, 'sub/deeper'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'other-uid'), 'theirs\n');
  fs.writeFileSync(path.join(tree, 'sub/mine'), 'mine\n');
  fs.writeFileSync(path.join(tree, 'sub/deeper/setuid'), '#!/bin/sh\n');
  fs.symlinkSync('../other-uid', path.join(tree, 'sub/link'));
  spawnSync('mkfifo', [path.join(tree, 'fifo')]);
  for (const p of ['', 'other-uid', 'fifo', 'sub', 'sub/deeper', 'sub/link']) fs.lchownSync(path.join(tree, p), OTHER, OTHER + 1);
  fs.chownSync(path.join(tree, 'sub/mine'), UID, UID);
  fs.chownSync(path.join(tree, 'sub/deeper/setuid'), 0, 0);
  fs.chmodSync(path.join(tree, 'sub/deeper/setuid'), 0o4755);
  fs.chmodSync(path.join(tree, 'sub/deeper'), 0o705);
  const defs = path.join(work, 'defs');
  fs.mkdirSync(defs);
  fs.writeFileSync(path.join(defs, '10-root.conf'), `[Partition]\nType=root\nFormat=ext4\nCopyFiles=${tree}:/\nMakeDirectories=/made/here\n`);
  // what the fakeroot script needs, where the chroot sees it; the output directory is the user's
  fs.mkdirSync(path.join(work, 'fk'));
  fs.copyFileSync(FAKEROOT.faked, path.join(work, 'fk/faked-sysv'));
  fs.copyFileSync(FAKEROOT.lib, path.join(work, 'fk/libfakeroot-sysv.so'));
  const script = fs.readFileSync(FAKEROOT.script, 'utf8').replace(/^PATHS=.*$/m, `PATHS=${work}/fk`).replace(/^FAKED=.*$/m, `FAKED=${work}/fk/faked-sysv`);
  fs.writeFileSync(path.join(work, 'fk/fakeroot'), script, { mode: 0o755 });
  fs.chmodSync(path.join(work, 'fk/faked-sysv'), 0o755);
  fs.mkdirSync(path.join(work, 'out'));
  fs.chownSync(path.join(work, 'out'), UID, UID);
  fs.chmodSync(work, 0o755);
  return { defs };
}

/** nixpkgs' repart-image.nix command line (src/nixos/config.ts builderArgs) */
const nixArgs = (defs: string, image: string) => [
  '--architecture=x86-64', '--dry-run=no', '--size=auto', `--seed=${SEED}`, `--definitions=${defs}`, '--split=false', '--json=pretty', '--empty=create', image,
];
const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000', SYSTEMD_LOG_LEVEL: 'info' };

function runReference(defs: string, image: string) {
  const script = `set -e
R=$1; W=$2; V=$3; shift 3
mount -t tmpfs tmpfs "$R/tmp"; chmod 1777 "$R/tmp"
mkdir -p "$R$W"; mount --bind "$W" "$R$W"
mount --rbind /dev "$R/dev"; mount -t proc proc "$R/proc"
mkdir -p "$V"; mount --rbind "$R" "$V"
exec setpriv --reuid=${UID} --regid=${UID} --clear-groups unshare --map-root-user chroot "$V" "$@"`;
  return spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, '_', REF_ROOT, work, path.join(work, 'view'), `${work}/fk/fakeroot`, 'systemd-repart', ...nixArgs(defs, image)], {
    encoding: 'utf8', env, timeout: 10 * 60 * 1000,
  });
}

function runOurs(defs: string, image: string) {
  return spawnSync('setpriv', [`--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', 'unshare', '--map-root-user', 'fakeroot', process.execPath, CLI, ...nixArgs(defs, image)], {
    encoding: 'utf8', env, timeout: 10 * 60 * 1000,
  });
}

test('unshare --map-root-user fakeroot: owners as systemd-repart 262 gives them', { skip: skip ?? false, timeout: 15 * 60 * 1000 }, () => {
  const { defs } = fixture();
  const refImg = path.join(work, 'out/ref.raw');
  const ourImg = path.join(work, 'out/ours.raw');
  const ref = runReference(defs, refImg);
  assert.equal(ref.status, 0, ref.stderr);
  const ours = runOurs(defs, ourImg);
  assert.equal(ours.status, 0, ours.stderr);
  assert.match(ours.stderr, /fakeroot detected/);
  assert.deepEqual(JSON.parse(ours.stdout.replaceAll('ours.raw', 'X')), JSON.parse(ref.stdout.replaceAll('ref.raw', 'X')));
  const offset = JSON.parse(ref.stdout)[0].offset as number;
  const want = describeExt4(`${refImg}?offset=${offset}`, path.join(work, 'scratch'));
  const got = describeExt4(`${ourImg}?offset=${offset}`, path.join(work, 'scratch'));
  // what fakeroot makes systemd-repart see: root for every file, whoever owns it
  assert.equal(want.entries.get('/other-uid')?.uid, 0);
  assert.equal(want.entries.get('/sub/deeper/setuid')?.perm, 0o4755);
  assert.deepEqual(Object.fromEntries(got.entries), Object.fromEntries(want.entries));
  assert.deepEqual(got.links, want.links);
  const fsck = spawnSync('e2fsck', ['-fn', `${ourImg}?offset=${offset}`], { encoding: 'utf8' });
  assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
});

test('REPART_TS_OWNERS=source under fakeroot keeps what the host reports', { skip: skip ?? false, timeout: 5 * 60 * 1000 }, () => {
  const defs = path.join(work, 'defs');
  if (!fs.existsSync(defs)) fixture();
  const img = path.join(work, 'out/source.raw');
  const r = spawnSync('setpriv', [`--reuid=${UID}`, `--regid=${UID}`, '--clear-groups', 'unshare', '--map-root-user', 'fakeroot', 'env', 'REPART_TS_OWNERS=source', process.execPath, CLI, ...nixArgs(defs, img)], {
    encoding: 'utf8', env, timeout: 5 * 60 * 1000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /fakeroot detected/);
  const offset = JSON.parse(r.stdout)[0].offset as number;
  const got = describeExt4(`${img}?offset=${offset}`, path.join(work, 'scratch2'));
  // in the user namespace only the invoking uid is mapped (to 0); every other uid is nobody
  assert.equal(got.entries.get('/other-uid')?.uid, 65534);
  assert.equal(got.entries.get('/sub/mine')?.uid, 0);
});
