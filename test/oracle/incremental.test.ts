/**
 * Incremental mode (an image that already has a GPT, --empty=refuse|allow) against the real
 * systemd-repart 257 (trixie) and 262 (sid). Each case makes the first image with the oracle, then
 * runs the second step with both tools on copies of that same image: the JSON and the whole
 * resulting images must be identical. Skipped without root or the oracle.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { referenceSkipReason, runOurs, runReference, type Suite } from '../helpers/reference.js';

const SEED = 'e2a40bf9-73f1-4278-9160-49c031e7aef8';
const EPOCH = '1700000000';

interface Step {
  defs: Record<string, string>;
  /** start from an empty definitions directory */
  clean?: boolean;
  args: string[];
}

interface Case {
  name: string;
  first: Step;
  second: Step;
  /** the second step's exit status (both tools) */
  status?: number;
  /** extra checks on our second image */
  check?: (img: string, json: Row[]) => void;
}

interface Row { type: string; label: string; uuid: string; partno: number; file: string | null; offset: number; old_size: number; raw_size: number; activity: string; roothash?: string | null }

const COMMON = ['--offline=yes', `--seed=${SEED}`, '--json=short', '--dry-run=no'];

const CASES: Case[] = [
  {
    name: 'nixpkgs verityStore: the ESP deferred, then added to the same image',
    first: {
      defs: {
        // FAT32 big enough for mtools to read it back (257 keeps the ESP at the size asked for)
        '00-esp.conf': '[Partition]\nType=esp\nFormat=vfat\nCopyFiles=%DIR%/esp:/\nSizeMinBytes=300M\n',
        '10-store-verity.conf': '[Partition]\nType=usr-verity\nLabel=store-verity\nVerity=hash\nVerityMatchKey=store\nMinimize=best\n',
        '20-store.conf': '[Partition]\nType=usr\nLabel=store\nFormat=erofs\nCopyFiles=%DIR%/store:/\nVerity=data\nVerityMatchKey=store\nMinimize=best\n',
      },
      args: ['--empty=create', '--size=auto', '--defer-partitions=esp', '--architecture=x86-64'],
    },
    second: { defs: {}, args: ['--size=auto', '--architecture=x86-64'] },
    check: (img, rows) => {
      assert.deepEqual(rows.map((r) => r.activity), ['create', 'unchanged', 'unchanged']);
      assert.deepEqual(rows.map((r) => r.roothash), [null, 'TBD', 'TBD']);
      // the new ESP holds its files (mtools reads it in place)
      const r = spawnSync('mdir', ['-i', `${img}@@${rows[0]!.offset}`, '-b', '::/EFI/BOOT'], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
      assert.match(r.stdout, /BOOTX64\.EFI/, r.stderr);
    },
  },
  {
    name: 'a grown image: new partitions after the existing one, which takes its share and is resized',
    first: { defs: { '10-root.conf': '[Partition]\nType=root\nSizeMinBytes=20M\n' }, args: ['--empty=create', '--size=auto'] },
    second: {
      defs: {
        '20-home.conf': '[Partition]\nType=home\nSizeMinBytes=10M\nSizeMaxBytes=30M\nFormat=vfat\n',
        '30-swap.conf': '[Partition]\nType=swap\nSizeMinBytes=8M\nSizeMaxBytes=8M\nPaddingMinBytes=1M\n',
      },
      args: ['--size=120M'],
    },
    check: (_img, rows) => {
      assert.equal(rows[0]!.activity, 'resize');
      assert.ok(rows[0]!.raw_size > rows[0]!.old_size);
    },
  },
  {
    name: 'partitions without definitions are foreign: listed, never moved or resized',
    first: {
      defs: {
        '10-esp.conf': '[Partition]\nType=esp\nSizeMinBytes=12M\nSizeMaxBytes=12M\n',
        '20-var.conf': '[Partition]\nType=var\nSizeMinBytes=16M\nSizeMaxBytes=16M\nLabel=data\n',
        '30-srv.conf': '[Partition]\nType=srv\nSizeMinBytes=16M\nSizeMaxBytes=16M\n',
      },
      args: ['--empty=create', '--size=64M'],
    },
    second: { clean: true, defs: { '50-var.conf': '[Partition]\nType=var\nLabel=other\n', '60-home.conf': '[Partition]\nType=home\nSizeMinBytes=4M\n' }, args: [] },
    check: (_img, rows) => {
      assert.ok(rows.some((r) => r.file === null), 'foreign partitions are listed with file null');
      assert.equal(rows.find((r) => r.type.startsWith('var'))!.label, 'data', 'an existing label is kept');
    },
  },
  {
    name: 'a deferred partition between two others: the free area before it is found again',
    first: {
      defs: {
        '10-a.conf': '[Partition]\nType=linux-generic\nLabel=a\nSizeMinBytes=8M\nSizeMaxBytes=8M\n',
        '20-b.conf': '[Partition]\nType=home\nSizeMinBytes=12M\nSizeMaxBytes=12M\n',
        '30-c.conf': '[Partition]\nType=linux-generic\nLabel=c\nSizeMinBytes=8M\nSizeMaxBytes=8M\n',
      },
      args: ['--empty=create', '--size=auto', '--defer-partitions=home'],
    },
    second: { defs: { '40-d.conf': '[Partition]\nType=linux-generic\nLabel=d\nSizeMinBytes=4M\n' }, args: ['--size=48M'] },
  },
  {
    name: 'nothing to do: the same definitions again leave the image alone',
    first: { defs: { '10-root.conf': '[Partition]\nType=root\nSizeMinBytes=20M\nSizeMaxBytes=20M\n' }, args: ['--empty=create', '--size=auto'] },
    second: { defs: {}, args: [] },
    check: (_img, rows) => assert.deepEqual(rows.map((r) => r.activity), ['unchanged']),
  },
  {
    name: 'no room for the new partition: an error, and the image is untouched',
    first: { defs: { '10-root.conf': '[Partition]\nType=root\nSizeMinBytes=20M\nSizeMaxBytes=20M\n' }, args: ['--empty=create', '--size=auto'] },
    second: { defs: { '20-home.conf': '[Partition]\nType=home\nSizeMinBytes=100M\n' }, args: [] },
    status: 1,
  },
  {
    name: '--dry-run=yes: the plan is printed; like repart, only the file is grown (the table moves its backup to the new end)',
    first: { defs: { '10-root.conf': '[Partition]\nType=root\nSizeMinBytes=20M\n' }, args: ['--empty=create', '--size=auto'] },
    second: { defs: { '20-home.conf': '[Partition]\nType=home\nSizeMinBytes=10M\n' }, args: ['--size=64M', '--dry-run=yes'] },
    check: (img, rows) => {
      assert.equal(rows[1]!.activity, 'create');
      assert.equal(statSync(img).size, 64 * 1024 * 1024);
      assert.doesNotMatch(spawnSync('sgdisk', ['-p', img], { encoding: 'utf8' }).stdout, /home/, 'no new partition written');
    },
  },
  {
    name: '--split=yes: split files for the partitions with definitions, existing ones too',
    first: { defs: { '10-root.conf': '[Partition]\nType=root\nSizeMinBytes=20M\nSizeMaxBytes=20M\nFormat=vfat\n' }, args: ['--empty=create', '--size=auto'] },
    second: { defs: { '20-home.conf': '[Partition]\nType=home\nSizeMinBytes=10M\nFormat=vfat\n' }, args: ['--size=64M', '--split=yes'] },
    check: (img) => {
      const dir = path.dirname(img);
      const splits = (b: string) => readdirSync(dir).filter((f) => f.startsWith(`${b}.`) && f !== `${b}.raw`).map((f) => f.slice(b.length)).sort();
      assert.deepEqual(splits('ours'), splits('ref'));
      for (const f of splits('ours')) assert.ok(readFileSync(path.join(dir, `ours${f}`)).equals(readFileSync(path.join(dir, `ref${f}`))), `split file ${f}`);
    },
  },
  {
    name: 'SupplementFor=: the existing ESP cannot take the merged size, so the XBOOTLDR is made after all',
    first: { defs: { '10-esp.conf': '[Partition]\nType=esp\nSizeMinBytes=64M\nSizeMaxBytes=64M\n', '30-root.conf': '[Partition]\nType=root\nSizeMinBytes=20M\nSizeMaxBytes=20M\n' }, args: ['--empty=create', '--size=400M'] },
    second: {
      clean: true,
      defs: {
        '10-esp.conf': '[Partition]\nType=esp\nSizeMinBytes=64M\n',
        '20-xbootldr.conf': '[Partition]\nType=xbootldr\nSupplementFor=10-esp\nSizeMinBytes=200M\n',
        '30-root.conf': '[Partition]\nType=root\nSizeMinBytes=20M\nSizeMaxBytes=20M\n',
      },
      args: [],
    },
    check: (_img, rows) => assert.ok(rows.some((r) => r.type === 'xbootldr' && r.activity === 'create'), 'the supplement was un-merged'),
  },
  {
    name: '--empty=allow on an image with a table, 4096-byte sectors',
    first: { defs: { '10-esp.conf': '[Partition]\nType=esp\nFormat=vfat\nSizeMinBytes=300M\nSizeMaxBytes=300M\n' }, args: ['--empty=create', '--size=auto', '--sector-size=4096'] },
    second: { defs: { '20-root.conf': '[Partition]\nType=root\nSizeMinBytes=16M\n' }, args: ['--empty=allow', '--size=auto'] },
  },
];

function writeDefs(dir: string, defs: Record<string, string>, root: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [n, c] of Object.entries(defs)) writeFileSync(path.join(dir, n), c.replaceAll('%DIR%', root));
}

function sourceTrees(root: string): void {
  mkdirSync(path.join(root, 'esp/EFI/BOOT'), { recursive: true });
  writeFileSync(path.join(root, 'esp/EFI/BOOT/BOOTX64.EFI'), Buffer.alloc(100_000, 0x4d));
  mkdirSync(path.join(root, 'store/nix/store/abc-hello/bin'), { recursive: true });
  writeFileSync(path.join(root, 'store/nix/store/abc-hello/bin/hello'), Buffer.alloc(300_000, 0x42));
}

const compatArgs = (suite: Suite) => (suite === 'trixie' ? ['--compat=257'] : []);

for (const suite of ['trixie', 'sid'] as Suite[]) {
  const skip = referenceSkipReason(suite) ?? false;
  describe(`incremental mode vs systemd-repart (${suite})`, { skip }, () => {
    for (const c of CASES) {
      it(c.name, () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), 'repart-inc-'));
        try {
          sourceTrees(dir);
          writeDefs(path.join(dir, 'defs'), c.first.defs, dir);
          const env = { SOURCE_DATE_EPOCH: EPOCH };
          const r1 = runReference(suite, [...COMMON, '--definitions=defs', ...c.first.args, 'first.raw'], dir, env);
          assert.equal(r1.status, 0, r1.stderr);
          if (c.second.clean) rmSync(path.join(dir, 'defs'), { recursive: true });
          writeDefs(path.join(dir, 'defs'), c.second.defs, dir);
          copyFileSync(path.join(dir, 'first.raw'), path.join(dir, 'ref.raw'));
          copyFileSync(path.join(dir, 'first.raw'), path.join(dir, 'ours.raw'));
          const before = readFileSync(path.join(dir, 'first.raw'));
          const r = runReference(suite, [...COMMON, '--definitions=defs', ...c.second.args, 'ref.raw'], dir, env);
          const o = runOurs([...compatArgs(suite), '--quiet', ...COMMON, '--definitions=defs', ...c.second.args, 'ours.raw'], dir, env);
          assert.equal(r.status, c.status ?? 0, `reference: ${r.stderr.slice(-1500)}`);
          assert.equal(o.status, c.status ?? 0, `ours: ${o.stderr}`);
          const leftovers = readdirSync(dir).filter((f) => f.endsWith('.tmp'));
          assert.deepEqual(leftovers, [], 'no temporary files are left behind');
          if (c.status) {
            assert.ok(readFileSync(path.join(dir, 'ours.raw')).equals(before), 'a failed run leaves the image as it was');
            return;
          }
          const norm = (s: string, n: string) => JSON.parse(s.replaceAll(path.join(dir, n), 'IMG').replaceAll(path.join(dir, n.replace(/\.raw$/, '.')), 'IMG.').replaceAll(n, 'IMG')) as Row[];
          const ourRows = norm(o.stdout, 'ours.raw');
          assert.deepEqual(ourRows, norm(r.stdout, 'ref.raw'), 'JSON');
          assert.equal(statSync(path.join(dir, 'ours.raw')).size, statSync(path.join(dir, 'ref.raw')).size, 'image size');
          const cmp = spawnSync('cmp', ['-l', path.join(dir, 'ref.raw'), path.join(dir, 'ours.raw')], { encoding: 'utf8', maxBuffer: 1 << 28 });
          assert.equal(cmp.stdout.split('\n').filter(Boolean).length, 0, `whole image differs:\n${cmp.stdout.slice(0, 600)}`);
          const v = spawnSync('sgdisk', ['-v', path.join(dir, 'ours.raw')], { encoding: 'utf8' });
          assert.match(v.stdout, /No problems found/);
          c.check?.(path.join(dir, 'ours.raw'), ourRows);
        } finally {
          if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  });
}
