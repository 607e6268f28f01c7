/**
 * The metadata path on other hosts: publishing a file where the target file system has no hard
 * links (link() fails with EPERM as on vfat/exFAT) keeps link()'s promise never to replace a file;
 * inode keys stay exact beyond 2^53 (hard links and ExcludeFiles= are decided by them).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { publishNew } from '../src/image/publish.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'portability-test-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const noLinks = { link: () => { throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' }); } };

test('publishNew without hard links: the file gets its name, an existing file is never replaced', () => {
  const tmp = path.join(work, '.img.tmp');
  const target = path.join(work, 'img.raw');
  fs.writeFileSync(tmp, 'image bytes');
  publishNew(tmp, target, noLinks);
  assert.equal(fs.readFileSync(target, 'utf8'), 'image bytes');
  assert.equal(fs.existsSync(tmp), false);

  fs.writeFileSync(tmp, 'second');
  assert.throws(() => publishNew(tmp, target, noLinks), (e: NodeJS.ErrnoException) => e.code === 'EEXIST');
  assert.equal(fs.readFileSync(target, 'utf8'), 'image bytes', 'the existing file is untouched');
  assert.equal(fs.readFileSync(tmp, 'utf8'), 'second', 'the new file is left for the caller to remove');
});

test('publishNew with hard links: link() as before; other errors are not mistaken for "no hard links"', () => {
  const tmp = path.join(work, '.b.tmp');
  fs.writeFileSync(tmp, 'b');
  publishNew(tmp, path.join(work, 'b.raw'));
  assert.equal(fs.readFileSync(path.join(work, 'b.raw'), 'utf8'), 'b');
  fs.writeFileSync(tmp, 'c');
  assert.throws(() => publishNew(tmp, path.join(work, 'missing-dir/c.raw')), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
});
