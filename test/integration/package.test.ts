/**
 * The package as a user gets it: `npm pack`, installed into an empty project (offline, from the
 * npm cache `npm ci` filled), then the README's library example run as written, the `repart-ts`
 * bin and its documented subcommands. Judged by sgdisk and fsck on the image the example builds.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from '../helpers/reference.js';

const work = mkdtempSync(path.join(os.tmpdir(), 'repart-pack-'));
after(() => rmSync(work, { recursive: true, force: true }));

const run = (cmd: string, args: string[], cwd: string): SpawnSyncReturns<string> =>
  spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000, env: { ...process.env, npm_config_update_notifier: 'false' } });

/** The js block after the README's library-example marker, exactly as written there. */
function readmeExample(): string {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const at = readme.indexOf('<!-- library-example');
  assert.ok(at >= 0, 'README has the library example');
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, 'a js block follows the marker');
  return m[1]!;
}

let project = '';
const installSkip = (() => {
  // dist/ must exist (npm test builds it); pack without re-running prepare
  const pack = run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], REPO);
  if (pack.status !== 0) return `npm pack failed: ${pack.stderr.trim().split('\n').pop()}`;
  const tarball = path.join(work, pack.stdout.trim().split('\n').pop()!);
  project = path.join(work, 'project');
  writeFileSync(path.join(work, 'package.json'), '{}');
  spawnSync('mkdir', ['-p', project]);
  writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'empty-project', private: true, type: 'module' }));
  // the dependencies' tarballs are in the npm cache since npm ci; their metadata may need the registry
  const inst = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], project);
  if (inst.status !== 0) return `npm install of the tarball failed (no npm registry and an empty npm cache?): ${inst.stderr.trim().split('\n').slice(-2).join(' / ')}`;
  return false as const;
})();

test('import { buildImage } from "repart-ts": the README example builds an image from the installed tarball', { skip: installSkip, timeout: 300_000 }, () => {
  writeFileSync(path.join(project, 'example.mjs'), readmeExample());
  const r = run(process.execPath, ['example.mjs'], project);
  assert.equal(r.status, 0, r.stderr);
  // 262 makes a vfat ESP at least 260 MiB (FAT32 by cluster count)
  assert.match(r.stdout, /^esp esp 1048576 272629760$/m);
  assert.match(r.stdout, /^root-x86-64 nixos \d+ 67108864$/m);
  const img = path.join(project, 'disk.raw');
  const v = run('sgdisk', ['-v', img], project);
  assert.match(v.stdout, /No problems found/);
  // the ext4 root as a file system
  const p = run('sgdisk', ['-i', '2', img], project);
  const first = Number(/First sector: (\d+)/.exec(p.stdout)![1]);
  const part = path.join(project, 'root.img');
  spawnSync('dd', [`if=${img}`, `of=${part}`, 'bs=512', `skip=${first}`, `count=${(64 << 20) / 512}`, 'status=none']);
  const fsck = run('e2fsck', ['-fn', part], project);
  assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
});

test('the installed repart-ts bin: --help lists the subcommands; build --help and bench --help exit 0', { skip: installSkip, timeout: 120_000 }, () => {
  const bin = path.join(project, 'node_modules/.bin/repart-ts');
  assert.ok(existsSync(bin));
  const help = run(bin, ['--help'], project);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^\s+build\s/m);
  assert.match(help.stdout, /^\s+bench\s/m);
  for (const sub of ['build', 'bench']) {
    const r = run(bin, [sub, '--help'], project);
    assert.equal(r.status, 0, `${sub} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`usage: repart-ts ${sub}`));
  }
  const v = run(bin, ['--version'], project);
  assert.equal(v.status, 0, v.stderr);
});
