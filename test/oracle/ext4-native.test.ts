/**
 * Oracle tier: the WebAssembly mke2fs against the native mkfs.ext4 of the Debian release whose
 * systemd-repart is reproduced (262: sid's e2fsprogs 1.47.4, 257: trixie's 1.47.2).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DirNode } from '../../src/tree/model.js';
import { ext4Driver, mke2fsArgs, mke2fsEnv } from '../../src/fs/ext4/index.js';
import { closeWorkerPool } from '../../src/fs/pool.js';
import { describeTree, hostTree, isRoot, makeFixture, ROOT_XATTRS, FILE_XATTRS, setHostXattrs } from '../wasm-helpers.js';
import { REFERENCE, referenceSkipReason } from '../helpers/reference.js';
import { ext4Job as job, MiB, sparseImage as sparseIn } from '../helpers/fs-jobs.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ext4-native-'));
const sparseImage = (name: string, size: number) => sparseIn(work, name, size);
after(async () => {
  await closeWorkerPool();
  fs.rmSync(work, { recursive: true, force: true });
});

const REF = REFERENCE;
// setfattr (package attr) puts the xattrs on the host tree for the native tool
const oracle = isRoot && referenceSkipReason('sid') === null && referenceSkipReason('trixie') === null && spawnSync('setfattr', ['--version']).status === 0;

test('byte-identical to native mkfs.ext4: sid\'s 1.47.4 with 262\'s arguments, trixie\'s 1.47.2 with 257\'s', { skip: oracle ? false : 'needs root, ../shared/tools/reference-repart (the oracle) and setfattr' }, async () => {
  const src = path.join(work, 'otree');
  makeFixture(src);
  // A directory of long and short names: 1.47.3+ appends each entry to the directory's last
  // block (EXT2FS_LINK_APPEND), 1.47.2 put short names into the free tail of earlier blocks, so
  // this alone makes 1.47.2's and 1.47.4's images differ (by thousands of bytes).
  fs.mkdirSync(path.join(src, 'many'));
  for (let i = 0; i < 400; i++) fs.writeFileSync(path.join(src, 'many', `f${String(i).padStart(3, '0')}${'x'.repeat(i % 3 === 0 ? 200 : i % 17)}`), '');
  // the same xattrs on the host tree (native mkfs reads them there) and in ours
  setHostXattrs(src, ROOT_XATTRS);
  setHostXattrs(path.join(src, 'etc/hostname'), FILE_XATTRS);
  describeTree(hostTree(src));
  const tree = hostTree(src);
  tree.root.meta.xattrs = ROOT_XATTRS;
  (tree.root.entries.get('etc') as DirNode).entries.get('hostname')!.meta.xattrs = FILE_XATTRS;
  for (const version of [262, 257]) {
    for (const discard of [true, false]) {
      const size = 256 * MiB;
      const img = sparseImage('mine.img', size + 2 * MiB);
      const j = job({ window: { path: img, offset: MiB, size }, tree, systemdVersion: version, discard });
      await ext4Driver.format(j);
      const ref = sparseImage('ref.img', size);
      const args = mke2fsArgs(j).map((a) => (a === '/repart-root' ? src : a === '/dev/repart-partition' ? ref : a));
      const env = { ...process.env, ...mke2fsEnv(j), REFERENCE_BIND: work };
      delete (env as Record<string, string | undefined>).MKE2FS_CONFIG; // the chroot's own /etc/mke2fs.conf
      // each version against its own Debian release's mkfs.ext4 (262: sid, 257: trixie)
      execFileSync(REF, ['--exec', 'mkfs.ext4', ...args], { env: { ...env, REFERENCE_SUITE: version >= 258 ? 'sid' : 'trixie' }, cwd: work, stdio: 'pipe' });
      const mine = path.join(work, 'mine-part.img');
      execFileSync('dd', [`if=${img}`, `of=${mine}`, 'bs=1M', 'skip=1', `count=${size / MiB}`, 'status=none']);
      const cmp = spawnSync('sh', ['-c', `cmp -l "${ref}" "${mine}" | wc -l`], { encoding: 'utf8' });
      const header = (p: string) => execFileSync('dumpe2fs', ['-h', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      if (version >= 260) {
        assert.equal(cmp.stdout.trim(), '0', `v${version} discard=${discard}: bytes differ from native mkfs.ext4`);
      } else {
        // v257 passes no hash_seed=, so mke2fs picks a random one: only the seed and the
        // superblock checksum may differ, in each superblock copy (16 + 4 bytes).
        const mask = (t: string) => t.replace(/^(Directory Hash Seed|Checksum):.*$/gm, '');
        assert.equal(mask(header(mine)), mask(header(ref)));
        const copies = 1 + (execFileSync('dumpe2fs', [mine], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).match(/Backup superblock at/g)?.length ?? 0);
        assert.ok(Number(cmp.stdout.trim()) <= 20 * copies, `v257: ${cmp.stdout.trim()} bytes differ (at most ${20 * copies} expected)`);
      }
      if (version >= 260) assert.equal(header(mine), header(ref));
    }
  }
});
