import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildTree } from '../src/tree/build.js';
import { dedupeTree } from '../src/tree/dedupe.js';
import { lookup } from '../src/tree/model.js';

test('dedupe: equal bytes and metadata become one inode; different mode, time or bytes do not', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-dedupe-'));
  try {
    for (const p of ['a', 'b', 'c']) mkdirSync(path.join(dir, p));
    const put = (p: string, data: string, mode = 0o444, t = 1) => { writeFileSync(path.join(dir, p), data); chmodSync(path.join(dir, p), mode); utimesSync(path.join(dir, p), t, t); };
    put('a/lib.so', 'same bytes');
    put('b/lib.so', 'same bytes');
    put('c/lib.so', 'same bytes', 0o555);
    put('c/other', 'same bytez');
    put('c/later', 'same bytes', 0o444, 2);
    put('a/empty', '');
    put('b/empty', '');
    const tree = await buildTree({
      copySource: '/', copyFiles: ['a', 'b', 'c'].map((p) => ({ source: path.join(dir, p), target: '/' + p })),
      excludeFiles: [], excludeFilesTarget: [], makeDirectories: [], makeSymlinks: [], subvolumes: [],
      owner: { uid: 0, gid: 0 }, now: { sec: 5, nsec: 0 },
    });
    const st = await dedupeTree(tree);
    assert.deepEqual(st, { files: 7, merged: 1, bytesSaved: 10 });
    assert.equal(lookup(tree, '/a/lib.so'), lookup(tree, '/b/lib.so'));
    assert.notEqual(lookup(tree, '/a/lib.so'), lookup(tree, '/c/lib.so'));
    assert.notEqual(lookup(tree, '/a/lib.so'), lookup(tree, '/c/later'));
    assert.notEqual(lookup(tree, '/a/empty'), lookup(tree, '/b/empty'));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
