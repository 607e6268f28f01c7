/**
 * Hostile and broken inputs (issue 15, items 6–13): confinement to --root, sources that change
 * between scan and read, special files, resource bombs, signals, messages. Fast tier: no root
 * needed (what needs it — running as `nobody` — skips cleanly otherwise). Every CLI run is
 * bounded by a timeout that fails the test when it hangs.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync,
  symlinkSync, truncateSync, writeFileSync, openSync, writeSync, closeSync, readSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI } from '../helpers/reference.js';
import { chaseInRoot, type ChaseFs } from '../../src/tree/chase.js';
import { readSmallFile } from '../../src/io/read-small.js';
import { openScanned, SourceChangedError } from '../../src/io/open-verified.js';
import { allocationOf, HoleFinder } from '../../src/io/holes.js';
import { buildTree, type TreeSpec } from '../../src/tree/build.js';
import { lookup, type FileNode } from '../../src/tree/model.js';
import { VirtualTree } from '../../src/fs/wasm/vtree.js';
import { simplifyPath, isAbsoluteNormalizable } from '../../src/config/values.js';
import { readDefinitions } from '../../src/config/load.js';
import { SUPPORTED_FORMATS } from '../../src/fs/registry.js';
import { removeStaleTemps } from '../../src/image/stale-temps.js';

const RUN_TIMEOUT = 120_000;
const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';
const isRoot = process.getuid?.() === 0;

function scratch(name: string): string {
  return mkdtempSync(path.join(os.tmpdir(), `hostile-${name}-`));
}

interface Run { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; maxRssKb?: number }

/** The CLI, bounded in time; with `measure`, under /usr/bin/time for the peak RSS. */
function cli(args: string[], cwd: string, o: { measure?: boolean; timeout?: number; asNobody?: boolean } = {}): Run {
  let cmd = process.execPath;
  let argv = [CLI, ...args];
  const timeFile = path.join(cwd, '.time');
  if (o.measure) {
    argv = ['-f', '%M', '-o', timeFile, cmd, ...argv];
    cmd = '/usr/bin/time';
  }
  if (o.asNobody) {
    argv = ['--reuid=nobody', '--regid=nogroup', '--clear-groups', cmd, ...argv];
    cmd = 'setpriv';
  }
  const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8', timeout: o.timeout ?? RUN_TIMEOUT, killSignal: 'SIGKILL', env: { ...process.env, SYSTEMD_LOG_LEVEL: 'info' } });
  assert.notEqual(r.signal, 'SIGKILL', `repart-ts hung (killed after ${o.timeout ?? RUN_TIMEOUT} ms): ${args.join(' ')}`);
  const run: Run = { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  if (o.measure && existsSync(timeFile)) run.maxRssKb = Number(readFileSync(timeFile, 'utf8').trim().split('\n').pop());
  return run;
}

function conf(dir: string, name: string, body: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, name), `[Partition]\n${body}\n`);
}

const hasTime = existsSync('/usr/bin/time');
const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;

// ---------------------------------------------------------------------------------------------
describe('6: --root= confines what is resolved through it', () => {
  test('chase: absolute links restart at the root, ".." stops there, missing parts are kept', () => {
    const links: Record<string, string> = { '/r/a': '/b', '/r/b/up': '../../../../etc', '/r/loop': '/loop' };
    const dirs = new Set(['/r/b', '/r/etc']);
    const fs: ChaseFs = {
      kind: (p) => (p in links ? 'symlink' : dirs.has(p) ? 'dir' : p === '/r/b/file' ? 'other' : null),
      readlink: (p) => links[p]!,
    };
    assert.deepEqual(chaseInRoot('/r', '/a/file', { fs }), { hostPath: '/r/b/file', inRoot: '/b/file', exists: true });
    assert.equal(chaseInRoot('/r', '/../../a/up/passwd', { fs }).hostPath, '/r/etc/passwd');
    assert.equal(chaseInRoot('/r', 'a/missing/x', { fs }).hostPath, '/r/b/missing/x');
    assert.throws(() => chaseInRoot('/r', '/loop', { fs }), /too many levels/);
  });

  test('CopyBlocks=, definitions, machine-id and fstab: links resolved inside the root', { timeout: RUN_TIMEOUT }, () => {
    const dir = scratch('root');
    try {
      const host = path.join(dir, 'host');
      mkdirSync(host);
      writeFileSync(path.join(host, 'blk'), Buffer.alloc(4096, 0x48)); // "HHHH": must not be copied
      const R = path.join(dir, 'R');
      mkdirSync(path.join(R, 'etc'), { recursive: true });
      mkdirSync(path.join(R, 'usr/lib/repart.d'), { recursive: true });
      mkdirSync(path.join(R, 'defs'));
      // the same absolute path exists on the host, with other bytes
      mkdirSync(path.join(R, host), { recursive: true });
      writeFileSync(path.join(R, host, 'blk'), Buffer.alloc(4096, 0x52)); // "RRRR"
      symlinkSync(path.join(host, 'blk'), path.join(R, 'blk'));
      writeFileSync(path.join(R, 'defs/a.conf'), '[Partition]\nType=linux-generic\nCopyBlocks=/blk\n');
      symlinkSync('/defs/a.conf', path.join(R, 'usr/lib/repart.d/10.conf'));
      writeFileSync(path.join(R, 'etc/mid'), '0123456789abcdef0123456789abcdef\n');
      symlinkSync('/etc/mid', path.join(R, 'etc/machine-id'));
      const a = cli(['--root=R', '--empty=create', '--size=auto', '--json=short', '--quiet', 'a.img'], dir);
      assert.equal(a.status, 0, a.stderr);
      const img = readFileSync(path.join(dir, 'a.img'));
      assert.ok(img.subarray(1 << 20, (1 << 20) + 4096).every((b) => b === 0x52), 'the root\'s file is copied, not the host\'s');
      const b = cli(['--root=R', '--empty=create', '--size=auto', '--json=short', '--quiet', '--seed=0123456789abcdef0123456789abcdef', 'b.img'], dir);
      assert.equal(b.status, 0, b.stderr);
      const uuid = (s: string) => (JSON.parse(s) as { uuid: string }[])[0]!.uuid;
      assert.equal(uuid(a.stdout), uuid(b.stdout), 'the machine ID is read through the root\'s link');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--generate-fstab= goes below the root; a link in its directory does not lead out', { timeout: RUN_TIMEOUT }, () => {
    const dir = scratch('fstab');
    try {
      const outside = path.join(dir, 'outside');
      mkdirSync(outside);
      mkdirSync(path.join(dir, 'R/etc'), { recursive: true });
      symlinkSync(outside, path.join(dir, 'R/out'));
      conf(path.join(dir, 'd'), '10.conf', 'Type=esp\nFormat=vfat\nMountPoint=/efi\nSizeMinBytes=64M');
      const ok = cli(['--root=R', '--definitions=d', '--empty=create', '--size=auto', '--json=off', '--quiet', '--seed=' + SEED, '--generate-fstab=/etc/fstab', 'a.img'], dir);
      assert.equal(ok.status, 0, ok.stderr);
      assert.match(readFileSync(path.join(dir, 'R/etc/fstab'), 'utf8'), /\/efi\s+vfat/);
      const out = cli(['--root=R', '--definitions=d', '--empty=create', '--size=auto', '--json=off', '--quiet', '--seed=' + SEED, '--generate-fstab=/out/fstab', 'b.img'], dir);
      assert.notEqual(out.status, 0, 'the link leads to a directory the root does not have');
      assert.deepEqual(readdirSync(outside), [], 'nothing written outside the root');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('7: sources are read as they were scanned', () => {
  const spec = (src: string): TreeSpec => ({
    copySource: src, copyFiles: [{ source: '/', target: '/' }], excludeFiles: [], excludeFilesTarget: [], makeDirectories: [],
    makeSymlinks: [], subvolumes: [], owner: { uid: 0, gid: 0 }, now: { sec: 0, nsec: 0 },
  });

  test('a directory swapped for a symlink after the scan: refused, the host file is never read', async () => {
    const dir = scratch('toctou');
    try {
      const src = path.join(dir, 'src');
      mkdirSync(path.join(src, 'zz'), { recursive: true });
      writeFileSync(path.join(src, 'zz/secret'), 'innocent-data-Z\n');
      mkdirSync(path.join(dir, 'host'));
      writeFileSync(path.join(dir, 'host/secret'), 'HOST-SECRET-XYZ\n');
      const tree = await buildTree(spec(src));
      const node = lookup(tree, '/zz/secret') as FileNode;
      assert.equal(node.source.kind === 'host' && typeof node.source.ino, 'bigint', 'dev/ino recorded at scan');
      renameSync(path.join(src, 'zz'), path.join(src, 'zz.orig'));
      symlinkSync(path.join(dir, 'host'), path.join(src, 'zz'));
      const vt = new VirtualTree(tree, '/m', (e) => new Error(e));
      assert.throws(() => vt.openFile(vt.resolve('/m/zz/secret', false)), /EIO/);
      assert.match(vt.sourceFailure!.message, /zz\/secret: changed since it was scanned/);
      // the last component itself turned into a link
      rmSync(path.join(src, 'zz'));
      renameSync(path.join(src, 'zz.orig'), path.join(src, 'zz'));
      rmSync(path.join(src, 'zz/secret'));
      symlinkSync(path.join(dir, 'host/secret'), path.join(src, 'zz/secret'));
      const id = node.source.kind === 'host' ? { dev: node.source.dev!, ino: node.source.ino! } : undefined;
      assert.throws(() => openScanned(path.join(src, 'zz/secret'), id), (e: unknown) => e instanceof SourceChangedError && e.errno === 'ELOOP');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a vanished source under ext4 names the file and errno, not mke2fs\'s progress', { timeout: RUN_TIMEOUT }, async () => {
    const dir = scratch('vanish');
    try {
      mkdirSync(path.join(dir, 'src'));
      writeFileSync(path.join(dir, 'src/gone'), 'x');
      const tree = await buildTree(spec(path.join(dir, 'src')));
      rmSync(path.join(dir, 'src/gone'));
      const vt = new VirtualTree(tree, '/m', (e) => new Error(e));
      assert.throws(() => vt.openFile(vt.resolve('/m/gone', false)), /ENOENT/);
      assert.match(vt.sourceFailure!.message, /src\/gone: vanished since it was scanned \(ENOENT\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('7b: empty sources are re-checked without being opened (one lstat), as strictly', () => {
  const spec = (src: string): TreeSpec => ({
    copySource: src, copyFiles: [{ source: '/', target: '/' }], excludeFiles: [], excludeFilesTarget: [], makeDirectories: [],
    makeSymlinks: [], subvolumes: [], owner: { uid: 0, gid: 0 }, now: { sec: 0, nsec: 0 },
  });
  // src/io/open-verified.ts verifyScannedEmpty: the same errnos and messages as the open path
  const cases: { name: string; change: (f: string, dir: string) => void; errno: RegExp; message: RegExp }[] = [
    { name: 'vanished', change: (f) => rmSync(f), errno: /ENOENT/, message: /empty: vanished since it was scanned \(ENOENT\)/ },
    { name: 'replaced by another empty file', change: (f) => { renameSync(f, `${f}.old`); writeFileSync(f, ''); }, errno: /EIO/, message: /empty: changed since it was scanned \(a different file is at this path now\)/ },
    { name: 'replaced by a symlink', change: (f, dir) => { rmSync(f); writeFileSync(path.join(dir, 'other'), ''); symlinkSync(path.join(dir, 'other'), f); }, errno: /ELOOP/, message: /empty: changed since it was scanned \(now a symbolic link\)/ },
    { name: 'grown', change: (f) => writeFileSync(f, 'now with data'), errno: /EIO/, message: /empty: changed size since it was scanned \(0 → 13 bytes\)/ },
  ];
  for (const c of cases) {
    test(`an empty source ${c.name} since the scan fails with its path`, async () => {
      const dir = scratch(`empty-${c.name.split(' ')[0]}`);
      try {
        mkdirSync(path.join(dir, 'src'));
        const f = path.join(dir, 'src/empty');
        writeFileSync(f, '');
        const tree = await buildTree(spec(path.join(dir, 'src')));
        c.change(f, dir);
        const vt = new VirtualTree(tree, '/m', (e) => new Error(e));
        assert.throws(() => vt.openFile(vt.resolve('/m/empty', false)), c.errno);
        assert.match(vt.sourceFailure!.message, c.message);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('an unchanged empty source reads as empty, and its close counts it done', async () => {
    const dir = scratch('empty-ok');
    try {
      mkdirSync(path.join(dir, 'src'));
      writeFileSync(path.join(dir, 'src/empty'), '');
      const tree = await buildTree(spec(path.join(dir, 'src')));
      const vt = new VirtualTree(tree, '/m', (e) => new Error(e));
      const { handler } = vt.openFile(vt.resolve('/m/empty', false));
      const buf = new Uint8Array(16);
      assert.equal(handler.read(undefined as never, buf, 0, 16, 0), 0);
      assert.equal(handler.size(undefined as never), 0);
      handler.close(undefined as never);
      assert.equal(vt.stats.filesDone, 1);
      assert.equal(vt.sourceFailure, null);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('8: path normalisation as systemd', () => {
  test('path_simplify clamps a leading /.., path_is_normalized refuses any other ..', () => {
    assert.equal(simplifyPath('/../../z'), '/z');
    assert.equal(simplifyPath('//a'), '/a');
    assert.equal(simplifyPath('/a/./b/'), '/a/b');
    assert.equal(simplifyPath('/..'), '/');
    assert.equal(isAbsoluteNormalizable('/../../x'), true);
    assert.equal(isAbsoluteNormalizable('/q/../r'), false);
    assert.equal(isAbsoluteNormalizable('rel'), false);
  });

  test('CopyFiles=, ExcludeFilesTarget=, MakeDirectories=, MakeSymlinks=, Subvolumes= with /..', async () => {
    const dir = scratch('norm');
    try {
      const src = path.join(dir, 'src');
      mkdirSync(path.join(src, 'd'), { recursive: true });
      mkdirSync(path.join(src, 'e'), { recursive: true });
      writeFileSync(path.join(src, 'd/x'), 'x');
      writeFileSync(path.join(src, 'e/y'), 'y');
      conf(path.join(dir, 'defs'), '10.conf', [
        'Type=root', 'Format=btrfs', 'CopyFiles=/d/x:/../../z', 'CopyFiles=/e:/../e2', 'CopyFiles=/d/x:/q/../r',
        'ExcludeFilesTarget=/../../e2/y', 'MakeDirectories=/../md //md2 /md3/./x', 'MakeSymlinks=/../ms:/target', 'Subvolumes=/../md',
      ].join('\n'));
      const warnings: string[] = [];
      const [d] = readDefinitions([path.join(dir, 'defs')], { compat: 262, specifiers: {}, warn: (m) => { warnings.push(m); }, supportedFormats: SUPPORTED_FORMATS, minimizable: new Set() });
      assert.ok(warnings.some((w) => /10\.conf:6: CopyFiles= path is not normalized, ignoring: \/q\/\.\.\/r/.test(w)), warnings.join('\n'));
      const { treeSpecFor } = await import( '../../src/tree/from-definition.js');
      const tree = await buildTree(treeSpecFor(d!, { copySource: src, all: [d!] }));
      assert.equal(lookup(tree, '/z')?.kind, 'file');
      assert.equal(lookup(tree, '/e2')?.kind, 'dir');
      assert.equal(lookup(tree, '/e2/y'), undefined, 'ExcludeFilesTarget=/../../e2/y excludes /e2/y');
      assert.equal(lookup(tree, '/r'), undefined);
      for (const p of ['/md', '/md2', '/md3/x']) assert.equal(lookup(tree, p)?.kind, 'dir', p);
      assert.equal(lookup(tree, '/ms')?.kind, 'symlink');
      const md = lookup(tree, '/md');
      assert.ok(md?.kind === 'dir' && md.subvolume, 'Subvolumes=/../md marks /md');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('9: sources that lie in stat or cannot be read', () => {
  const sysfs = '/sys/kernel/mm/transparent_hugepage/enabled';
  const lies = existsSync(sysfs) && statSync(sysfs).size === 4096;
  for (const fmt of ['ext4', 'btrfs', 'erofs', 'squashfs', 'vfat']) {
    test(`${fmt}: a sysfs file shorter than its stat size fails with its path`, { skip: lies ? false : `${sysfs} not available`, timeout: RUN_TIMEOUT }, () => {
      const dir = scratch(`sysfs-${fmt}`);
      try {
        conf(path.join(dir, 'd'), '10.conf', `Type=linux-generic\nFormat=${fmt}\nSizeMinBytes=128M\nCopyFiles=${sysfs}:/x`);
        const r = cli(['--definitions=d', '--empty=create', '--size=auto', '--json=off', '--quiet', 'o.img'], dir);
        assert.equal(r.status, 1, r.stderr);
        assert.ok(r.stderr.includes(sysfs), r.stderr);
        assert.match(r.stderr, /ended after \d+ bytes, 4096 were planned|shrank/);
        assert.ok(!existsSync(path.join(dir, 'o.img')));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  for (const fmt of ['ext4', 'squashfs', 'erofs', 'btrfs', 'vfat']) {
    test(`${fmt}: an unreadable file (run as nobody) fails with path and EACCES, not stored empty`, {
      skip: !isRoot || !hasSetpriv ? 'needs root to run the CLI as nobody (setpriv)' : false, timeout: RUN_TIMEOUT,
    }, () => {
      const dir = scratch(`eacces-${fmt}`);
      try {
        chmodSync(dir, 0o777);
        mkdirSync(path.join(dir, 'src'));
        writeFileSync(path.join(dir, 'src/locked'), 'secret');
        chmodSync(path.join(dir, 'src/locked'), 0o600);
        writeFileSync(path.join(dir, 'src/open'), 'ok');
        conf(path.join(dir, 'd'), '10.conf', `Type=linux-generic\nFormat=${fmt}\nSizeMinBytes=128M\nCopyFiles=/:/`);
        const r = cli(['--definitions=d', '--copy-source=src', '--empty=create', '--size=auto', '--json=off', '--quiet', 'o.img'], dir, { asNobody: true });
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, /src\/locked: cannot open: EACCES/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
describe('10: special files and bounded reads', () => {
  const fifoOk = spawnSync('mkfifo', ['--help']).status === 0;

  test('CopyBlocks= a FIFO is refused at once (no blocking open)', { skip: fifoOk ? false : 'no mkfifo', timeout: 30_000 }, () => {
    const dir = scratch('fifo');
    try {
      spawnSync('mkfifo', [path.join(dir, 'fifo')]);
      conf(path.join(dir, 'd'), '10.conf', `Type=linux-generic\nCopyBlocks=${dir}/fifo`);
      const r = cli(['--definitions=d', '--empty=create', '--size=auto', '--json=off', '--quiet', 'o.img'], dir, { timeout: 20_000 });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /Specified path to copy blocks from '.*fifo' is not a regular file, block device or directory, refusing\./);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('CopyBlocks= a character device (/dev/zero) is refused; an empty file too', { timeout: 30_000 }, () => {
    const dir = scratch('chr');
    try {
      conf(path.join(dir, 'd'), '10.conf', 'Type=linux-generic\nCopyBlocks=/dev/zero');
      const r = cli(['--definitions=d', '--empty=create', '--size=auto', '--json=off', '--quiet', 'o.img'], dir, { timeout: 20_000 });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /not a regular file, block device or directory/);
      writeFileSync(path.join(dir, 'empty'), '');
      conf(path.join(dir, 'd'), '10.conf', `Type=linux-generic\nCopyBlocks=${dir}/empty`);
      const e = cli(['--definitions=d', '--empty=create', '--size=auto', '--json=off', '--quiet', 'o.img'], dir, { timeout: 20_000 });
      assert.equal(e.status, 1);
      assert.match(e.stderr, /has zero size, refusing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const [what, args] of [
    ['--key-file=/dev/zero', ['--key-file=/dev/zero']],
    ['--private-key=/dev/zero', ['--private-key=/dev/zero', '--certificate=/dev/zero']],
  ] as const) {
    test(`${what}: refused at once, memory bounded`, { timeout: 60_000 }, () => {
      const dir = scratch('zero');
      try {
        const body = what.startsWith('--key') ? 'Type=linux-generic\nFormat=ext4\nEncrypt=key-file\nSizeMinBytes=64M' : 'Type=root-verity-sig\nVerity=signature\nVerityMatchKey=r';
        conf(path.join(dir, 'd'), '10.conf', body);
        if (!what.startsWith('--key')) {
          conf(path.join(dir, 'd'), '20.conf', 'Type=root\nFormat=erofs\nVerity=data\nVerityMatchKey=r\nMakeDirectories=/x');
          conf(path.join(dir, 'd'), '30.conf', 'Type=root-verity\nVerity=hash\nVerityMatchKey=r');
        }
        const r = cli(['--definitions=d', '--empty=create', '--size=auto', '--json=off', '--quiet', '--seed=' + SEED, ...args, 'o.img'], dir, { measure: hasTime, timeout: 50_000 });
        assert.equal(r.status, 1, r.stderr);
        assert.match(r.stderr, /\/dev\/zero is larger than \d+ bytes, refusing/);
        if (r.maxRssKb) assert.ok(r.maxRssKb < 400_000, `peak RSS ${r.maxRssKb} KiB`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('a definition linked to /dev/zero, a machine-id that is a FIFO: bounded, no hang', { skip: fifoOk ? false : 'no mkfifo', timeout: 60_000 }, () => {
    const dir = scratch('defzero');
    try {
      mkdirSync(path.join(dir, 'd'));
      // a character device is "masked" for systemd (null_or_empty()): skipped, never read
      symlinkSync('/dev/zero', path.join(dir, 'd/10.conf'));
      conf(path.join(dir, 'd'), '20.conf', 'Type=linux-generic');
      const r = cli(['--definitions=d', '--empty=create', '--size=auto', '--json=short', '--quiet', 'o.img'], dir, { measure: hasTime, timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as { file: string }[]).map((p) => path.basename(p.file)), ['20.conf']);
      if (r.maxRssKb) assert.ok(r.maxRssKb < 400_000, `peak RSS ${r.maxRssKb} KiB`);
      rmSync(path.join(dir, 'o.img'));
      rmSync(path.join(dir, 'd'), { recursive: true });
      // a FIFO is not: refused at once instead of a read that blocks
      mkdirSync(path.join(dir, 'd'));
      spawnSync('mkfifo', [path.join(dir, 'd/10.conf')]);
      const f = cli(['--definitions=d', '--empty=create', '--size=auto', '--json=off', '--quiet', 'o.img'], dir, { timeout: 30_000 });
      assert.equal(f.status, 1);
      assert.match(f.stderr, /10\.conf: definition .*d\/10\.conf is a FIFO, refusing/);
      rmSync(path.join(dir, 'd/10.conf'));
      conf(path.join(dir, 'd'), '10.conf', 'Type=linux-generic');
      mkdirSync(path.join(dir, 'R/etc'), { recursive: true });
      spawnSync('mkfifo', [path.join(dir, 'R/etc/machine-id')]);
      const m = cli(['--root=R', '--definitions=d', '--empty=create', '--size=auto', '--json=off', 'o.img'], dir, { timeout: 30_000 });
      assert.equal(m.status, 0, m.stderr);
      assert.match(m.stderr, /machine-id is a FIFO, refusing/);
      assert.match(m.stderr, /No machine ID set, using randomized partition UUIDs/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('readSmallFile: size checked before reading, streams cut at the limit', () => {
    const dir = scratch('small');
    try {
      writeFileSync(path.join(dir, 'f'), Buffer.alloc(100));
      assert.equal(readSmallFile(path.join(dir, 'f'), { what: 'x', max: 100 }).length, 100);
      assert.throws(() => readSmallFile(path.join(dir, 'f'), { what: 'x', max: 99 }), /larger than 99 bytes \(100\)/);
      assert.throws(() => readSmallFile('/dev/zero', { what: 'x', max: 10 }), /is a character device/);
      assert.throws(() => readSmallFile('/dev/zero', { what: 'x', max: 10, streams: true }), /larger than 10 bytes/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('11: sparse sources', () => {
  test('holes found from st_blocks: SEEK_DATA/SEEK_HOLE answers, no data lost', () => {
    const dir = scratch('holes');
    try {
      const f = path.join(dir, 'sparse');
      const fd = openSync(f, 'w');
      writeSync(fd, Buffer.alloc(8192, 1), 0, 8192, 3 << 20);
      writeSync(fd, Buffer.from('tail'), 0, 4, (64 << 20) - 4);
      closeSync(fd);
      truncateSync(f, 64 << 20);
      const rfd = openSync(f, 'r');
      try {
        const a = allocationOf(rfd, 64 << 20);
        if (!a) return; // a file system whose st_blocks we do not trust: data everywhere (correct, slower)
        const h = new HoleFinder(rfd, 64 << 20, a, () => { throw new Error('short'); });
        assert.equal(h.seekData(0), 3 << 20);
        assert.equal(h.seekHole(3 << 20), (3 << 20) + 8192);
        assert.equal(h.seekData((3 << 20) + 8192), (64 << 20) - a.block);
        assert.equal(h.seekHole((64 << 20) - 10), 64 << 20);
        assert.equal(h.isHole(0, 4096), true);
      } finally {
        closeSync(rfd);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('CopyBlocks= a 100 GiB sparse file: holes kept, data at 50 GiB copied', { timeout: 300_000 }, () => {
    const dir = scratch('sparse');
    try {
      const f = path.join(dir, 'blk');
      writeFileSync(f, '');
      const fd = openSync(f, 'r+');
      writeSync(fd, Buffer.from('DATA-AT-1M'), 0, 10, 1 << 20);
      closeSync(fd);
      truncateSync(f, 100 * 2 ** 30);
      conf(path.join(dir, 'd'), '10.conf', `Type=linux-generic\nCopyBlocks=${f}`);
      const r = cli(['--definitions=d', '--empty=create', '--size=auto', '--json=off', '--quiet', 'o.img'], dir, { timeout: 280_000 });
      assert.equal(r.status, 0, r.stderr);
      const out = path.join(dir, 'o.img');
      assert.ok(statSync(out).blocks * 512 < 64 << 20, 'the image stays sparse');
      const ofd = openSync(out, 'r');
      const b = Buffer.alloc(10);
      readSync(ofd, b, 0, b.length, (1 << 20) + (1 << 20));
      closeSync(ofd);
      assert.equal(b.toString(), 'DATA-AT-1M');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('12: signals and stale temporary files', () => {
  const bigJob = (dir: string) => {
    mkdirSync(path.join(dir, 'src'));
    writeFileSync(path.join(dir, 'src/big'), Buffer.alloc(64 << 20, 7));
    conf(path.join(dir, 'd'), '10.conf', 'Type=linux-generic\nFormat=squashfs\nCopyFiles=/:/');
  };

  for (const [sig, code] of [['SIGHUP', 129], ['SIGQUIT', 131], ['SIGINT', 130], ['SIGTERM', 143]] as const) {
    test(`${sig} removes the temporary image and exits ${code}`, { timeout: 90_000 }, async () => {
      const dir = scratch(sig);
      try {
        bigJob(dir);
        const child = spawn(process.execPath, [CLI, '--definitions=d', '--copy-source=src', '--empty=create', '--size=auto', '--json=off', '--quiet', '--seed=' + SEED, 'o.img'], { cwd: dir, stdio: 'ignore' });
        const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
        const deadline = Date.now() + 60_000;
        while (!readdirSync(dir).some((n) => n.startsWith('.#o.img.'))) {
          if (Date.now() > deadline) throw new Error('no temporary file appeared');
          if (child.exitCode !== null) throw new Error(`finished before the signal (${child.exitCode})`);
          await new Promise((r) => setTimeout(r, 20));
        }
        child.kill(sig);
        const status = await exited;
        assert.equal(status, code);
        assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.#')), []);
        assert.ok(!existsSync(path.join(dir, 'o.img')));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('a stale temporary file of a dead run is removed; a live one is kept', () => {
    const dir = scratch('stale');
    try {
      const target = path.join(dir, 'o.img');
      let dead = 4_000_000;
      for (; dead > 3_000_000; dead--) {
        try { process.kill(dead, 0); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ESRCH') break; }
      }
      const stale = `.#o.img.${dead}.0123456789ab.tmp`;
      const live = `.#o.img.${process.ppid}.0123456789ab.tmp`;
      const other = `.#o.img.${dead}.tmp`; // not our pattern
      for (const n of [stale, live, other]) writeFileSync(path.join(dir, n), 'x');
      assert.deepEqual(removeStaleTemps(target), [stale]);
      assert.deepEqual(readdirSync(dir).sort(), [live, other].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('SIGUSR1 does not open an inspector port', { timeout: 90_000 }, async () => {
    const dir = scratch('usr1');
    try {
      bigJob(dir);
      const child = spawn(process.execPath, [CLI, '--definitions=d', '--copy-source=src', '--empty=create', '--size=auto', '--json=off', '--quiet', 'o.img'], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
      while (!readdirSync(dir).some((n) => n.startsWith('.#o.img.')) && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      child.kill('SIGUSR1');
      await new Promise((r) => setTimeout(r, 500));
      const listening = spawnSync('ss', ['-ltnpH'], { encoding: 'utf8' });
      if (listening.status === 0) assert.ok(!listening.stdout.split('\n').some((l) => l.includes(`pid=${child.pid},`) && /:9229\b/.test(l)), listening.stdout);
      const status = await exited;
      assert.equal(status, 0, stderr);
      assert.doesNotMatch(stderr, /Debugger listening/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('13: messages', () => {
  test('MakeDirectories=/MakeSymlinks= errors name file:line', { timeout: RUN_TIMEOUT }, () => {
    const dir = scratch('mkmsg');
    try {
      mkdirSync(path.join(dir, 'src'));
      writeFileSync(path.join(dir, 'src/f'), 'x');
      conf(path.join(dir, 'd'), '10.conf', 'Type=linux-generic\nFormat=ext4\nSizeMinBytes=64M\nCopyFiles=/f:/f\nMakeDirectories=/f/sub');
      const r = cli(['--definitions=d', '--copy-source=src', '--empty=create', '--size=auto', '--json=off', '--quiet', 'o.img'], dir);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /10\.conf:6: .*"f" exists and is not a directory/);
      conf(path.join(dir, 'd'), '10.conf', 'Type=linux-generic\nFormat=ext4\nSizeMinBytes=64M\nMakeSymlinks=/no/such/link:x');
      const s = cli(['--definitions=d', '--empty=create', '--size=auto', '--json=off', '--quiet', 'o.img'], dir);
      assert.equal(s.status, 1);
      assert.match(s.stderr, /10\.conf:5: MakeSymlinks=: parent directory of \/no\/such\/link does not exist/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a 5 MB value is not echoed back: "Line too long" as systemd; a 500 kB one is cut', { timeout: RUN_TIMEOUT }, () => {
    const dir = scratch('long');
    try {
      conf(path.join(dir, 'd'), '10.conf', `Type=linux-generic\nLabel=${'x'.repeat(5_000_000)}`);
      const r = cli(['--definitions=d', '--empty=create', '--size=auto', '--json=off', 'o.img'], dir);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /10\.conf:2: Line too long/);
      assert.ok(r.stderr.length < 4096);
      conf(path.join(dir, 'd'), '10.conf', `Type=linux-generic\nSizeMinBytes=${'9'.repeat(500_000)}`);
      const s = cli(['--definitions=d', '--empty=create', '--size=auto', '--json=off', 'o.img'], dir);
      assert.equal(s.status, 1);
      assert.ok(s.stderr.length < 4096, `${s.stderr.length} bytes of message`);
      assert.match(s.stderr, /more characters\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

