import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { linkSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { buildTree, type TreeSpec } from '../src/tree/build.js';
import { lookup, type DirNode, type FileNode } from '../src/tree/model.js';
import { FsError } from '../src/errors.js';

const NOW = { sec: 1700000000, nsec: 0 };

function spec(root: string, over: Partial<TreeSpec>): TreeSpec {
  return { copySource: root, copyFiles: [], excludeFiles: [], excludeFilesTarget: [], makeDirectories: [], makeSymlinks: [], subvolumes: [], owner: { uid: 1000, gid: 100 }, now: NOW, sourceDateEpoch: NOW.sec, ...over };
}

function fixture(): string {
  const root = mkdtempSync(join(tmpdir(), 'tree-test-'));
  mkdirSync(join(root, 'a/sub'), { recursive: true });
  mkdirSync(join(root, 'b/sub'), { recursive: true });
  mkdirSync(join(root, 'tmp'), { recursive: true });
  writeFileSync(join(root, 'a/one'), '1');
  writeFileSync(join(root, 'a/sub/two'), '22');
  writeFileSync(join(root, 'b/sub/three'), '333');
  writeFileSync(join(root, 'b/skip-me'), 'x');
  writeFileSync(join(root, 'tmp/junk'), 'x');
  writeFileSync(join(root, 'single'), 'single');
  linkSync(join(root, 'a/one'), join(root, 'a/sub/one-link'));
  utimesSync(join(root, 'a'), 1234567, 1234567);
  return root;
}

test('merge into existing directories, single files, parents, hard links, root metadata', async () => {
  const root = fixture();
  try {
    const tree = await buildTree(spec(root, {
      copyFiles: [
        { source: '/a', target: '/' },
        { source: '/b', target: '/' },
        { source: '/single', target: '/deep/er/file' },
        { source: '/a', target: '/again' },
        { source: '/missing', target: '/nowhere' },
      ],
      excludeFiles: ['/b/skip-me'],
      makeDirectories: ['/made/dir'],
      makeSymlinks: [{ path: '/made/link', target: '../deep' }],
      subvolumes: [{ path: '/made', readOnly: true, nodatacow: false }],
      defaultSubvolume: '/made',
    }));
    const sub = lookup(tree, '/sub') as DirNode;
    assert.deepEqual([...sub.entries.keys()].sort(), ['one-link', 'three', 'two'], 'directories merge');
    assert.equal(lookup(tree, '/skip-me'), undefined, 'ExcludeFiles= drops the inode');
    assert.equal(tree.root.meta.mtime.sec, NOW.sec, 'later lines creating entries in / update its mtime');
    const merged = await buildTree(spec(root, { copyFiles: [{ source: '/a', target: '/' }, { source: '/b', target: '/' }] }));
    assert.equal(merged.root.meta.mtime.sec, 1234567, 'root times come from the first "/" directory line, kept across merges');
    assert.equal(tree.root.meta.uid, 1000, 'root owner is the repart user');
    const f = lookup(tree, '/deep/er/file') as FileNode;
    assert.equal(f.kind, 'file');
    assert.equal(f.size, 6);
    assert.equal(f.meta.uid, 1000, 'single-file copies belong to the repart user');
    const er = lookup(tree, '/deep/er') as DirNode;
    assert.equal(er.meta.perm, 0o755);
    assert.equal(er.meta.mtime.sec, NOW.sec, 'created parents get SOURCE_DATE_EPOCH');
    assert.equal(lookup(tree, '/one'), lookup(tree, '/sub/one-link'), 'hard links within one line share a node');
    assert.notEqual(lookup(tree, '/again/one'), lookup(tree, '/one'), 'no hard links across lines');
    assert.equal(lookup(tree, '/nowhere'), undefined, 'missing sources are skipped');
    assert.equal((lookup(tree, '/made') as DirNode).subvolume?.isDefault, true);
    assert.equal(lookup(tree, '/made/link')?.kind, 'symlink');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('always-excluded contents, ExcludeFilesTarget=, and errors', async () => {
  const root = fixture();
  try {
    const tree = await buildTree(spec(root, { copyFiles: [{ source: '/', target: '/' }], excludeFilesTarget: ['/a/sub/'] }));
    assert.equal((lookup(tree, '/tmp') as DirNode).entries.size, 0, 'tmp/ is created but left empty');
    assert.equal((lookup(tree, '/a/sub') as DirNode).entries.size, 0, 'ExcludeFilesTarget= with "/" keeps the directory only');
    await assert.rejects(buildTree(spec(root, { copyFiles: [{ source: '/single', target: '/x' }, { source: '/single', target: '/x' }] })), (e: unknown) => e instanceof FsError && e.code === 'E_SOURCE' && /already exists/.test(e.message));
    await assert.rejects(buildTree(spec(root, { copyFiles: [{ source: '/single', target: '/dir/' }] })), /refers to a directory/);
    // a leading /.. stays at the root, as systemd's path_simplify() and chase() have it
    const clamped = await buildTree(spec(root, { copyFiles: [{ source: '/a', target: '/../../etc' }] }));
    assert.equal(lookup(clamped, '/etc/one')?.kind, 'file');
    await assert.rejects(buildTree(spec(root, { makeSymlinks: [{ path: '/no/such/link', target: 'x' }] })), /parent directory/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('scales: 5,000 store-path lines and 60,000 files', { timeout: 120_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'tree-scale-'));
  try {
    const lines = [];
    for (let i = 0; i < 5000; i++) {
      const p = join(root, 'nix/store', `${String(i).padStart(32, '0')}-pkg-${i}`);
      mkdirSync(p, { recursive: true });
      for (let j = 0; j < 12; j++) writeFileSync(join(p, `f${j}`), '');
      lines.push({ source: `/nix/store/${String(i).padStart(32, '0')}-pkg-${i}`, target: `/nix/store/${String(i).padStart(32, '0')}-pkg-${i}` });
    }
    const t0 = Date.now();
    const tree = await buildTree(spec(root, { copyFiles: lines }));
    const ms = Date.now() - t0;
    assert.equal((lookup(tree, '/nix/store') as DirNode).entries.size, 5000);
    assert.ok(tree.nextIno > 65000);
    // not a speed target (bench/ is), only a guard against quadratic work
    assert.ok(ms < 60_000, `buildTree took ${ms} ms`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
