/**
 * The command line end to end (no oracle needed): bad input gives a clear message naming the
 * file/line/key, a non-zero exit and no file left behind; good images pass sgdisk and sfdisk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runOurs } from './helpers/reference.js';
import { checkTableWithFdisk } from './helpers/fdisk-check.js';
import { scratchDir } from './helpers/scratch.js';

const scratch = (files: Record<string, string>) => scratchDir('repart-cli-', files);

const base = ['--empty=create', '--seed=e2a40bf9-73f1-4278-9160-49c031e7aef8', '--definitions=defs'];

const BAD: { name: string; files: Record<string, string>; args: string[]; message: RegExp; exit?: number }[] = [
  { name: 'malformed section header', files: { 'defs/a.conf': '[Partition\nType=root\n' }, args: ['--size=100M'], message: /defs\/a\.conf:1: invalid section header/ },
  { name: 'bad size', files: { 'defs/a.conf': '[Partition]\nType=root\nSizeMinBytes=1X\n' }, args: ['--size=100M'], message: /defs\/a\.conf:3: SizeMinBytes=: failed to parse size value: 1X/ },
  { name: 'unknown Type', files: { 'defs/a.conf': '[Partition]\nType=rooot\n' }, args: ['--size=100M'], message: /defs\/a\.conf:2: Type=: failed to parse partition type: rooot/ },
  { name: 'missing Type', files: { 'defs/a.conf': '[Partition]\nLabel=x\n' }, args: ['--size=100M'], message: /defs\/a\.conf:1: Type= not defined/ },
  { name: 'layout that cannot fit', files: { 'defs/a.conf': '[Partition]\nType=root\nSizeMinBytes=1G\n' }, args: ['--size=100M'], message: /Can't fit requested partitions.*grow the image \(--size=\) by at least/ },
  { name: 'unsupported key value (Encrypt=tpm2)', files: { 'defs/a.conf': '[Partition]\nType=root\nEncrypt=tpm2\n' }, args: ['--size=100M'], message: /defs\/a\.conf:3: Encrypt=: Encrypt=tpm2 needs a TPM2/ },
  { name: 'unsupported format', files: { 'defs/a.conf': '[Partition]\nType=root\nFormat=f2fs\n' }, args: ['--size=1G'], message: /defs\/a\.conf:3: Format=: Format=f2fs is not supported by repart-ts yet/ },
  { name: 'conflicting keys', files: { 'defs/a.conf': '[Partition]\nType=root\nCopyBlocks=/dev/zero\nFormat=ext4\n' }, args: ['--size=100M'], message: /CopyBlocks= cannot be combined/ },
  { name: 'missing CopyBlocks source', files: { 'defs/a.conf': '[Partition]\nType=root\nCopyBlocks=/nonexistent/blob\n' }, args: ['--size=100M'], message: /defs\/a\.conf:3: CopyBlocks=: cannot open CopyBlocks= source/ },
  { name: 'unreadable definitions directory (symlink loop)', files: {}, args: ['--size=100M'], message: /cannot read definition directory/ },
  { name: 'image in a missing directory', files: { 'defs/a.conf': '[Partition]\nType=root\n' }, args: ['--size=100M', 'nodir/sub/IMG'], message: /directory nodir\/sub does not exist/ },
  { name: 'bad --size', files: { 'defs/a.conf': '[Partition]\nType=root\n' }, args: ['--size=lots'], message: /Failed to parse --size= parameter/ },
  { name: 'unknown option', files: {}, args: ['--frobnicate'], message: /unrecognized option '--frobnicate'/ },
  { name: '--empty=create without --size', files: { 'defs/a.conf': '[Partition]\nType=root\n' }, args: [], message: /--size= must be specified/ },
];

for (const c of BAD) {
  test(`bad input: ${c.name}`, () => {
    const dir = scratch(c.files);
    try {
      if (c.name.startsWith('unreadable')) symlinkSync('defs', path.join(dir, 'defs'));
      const args = [...base, ...c.args];
      if (!c.args.some((a) => a.endsWith('IMG'))) args.push('disk.raw');
      const before = readdirSync(dir).sort();
      const r = runOurs(args, dir);
      assert.notEqual(r.status, 0, 'non-zero exit');
      assert.match(r.stderr, c.message);
      assert.ok(!r.stderr.includes('    at '), 'no stack trace');
      assert.deepEqual(readdirSync(dir).sort(), before, 'no file left behind');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('an existing image is never overwritten by --empty=create', () => {
  const dir = scratch({ 'defs/a.conf': '[Partition]\nType=root\n', 'disk.raw': 'precious' });
  try {
    const r = runOurs([...base, '--size=100M', 'disk.raw'], dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /already exists/);
    assert.deepEqual(readdirSync(dir).sort(), ['defs', 'disk.raw']);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('refuse mode on an image without a partition table exits 77', () => {
  const dir = scratch({ 'defs/a.conf': '[Partition]\nType=root\n' });
  try {
    writeFileSync(path.join(dir, 'blank.raw'), Buffer.alloc(64 * 1024 * 1024));
    const r = runOurs(['--definitions=defs', 'blank.raw'], dir);
    assert.equal(r.status, 77);
    const f = runOurs(['--definitions=defs', '--empty=force', '--dry-run=no', '--seed=e2a40bf9-73f1-4278-9160-49c031e7aef8', '--json=short', 'blank.raw'], dir);
    assert.equal(f.status, 0, f.stderr);
    assert.equal(JSON.parse(f.stdout)[0].raw_size, 64 * 1024 * 1024 - 1024 * 1024 - 20480 - 4096 * 0 - (64 * 1024 * 1024 - 1024 * 1024 - 20480) % 4096);
    const req = runOurs(['--definitions=defs', '--empty=require', 'blank.raw'], dir);
    assert.equal(req.status, 77, 'require refuses a disk that now has a table');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

const tools = ['sgdisk', 'sfdisk'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);

test('sgdisk/sfdisk accept our images (512-byte sectors)', { skip: tools ? false : 'sgdisk/sfdisk not installed (apt-get install gdisk fdisk)' }, () => {
  checkTableWithFdisk(scratch, base, 512);
});

test('--layout-svg draws every partition; --pretty prints the table and bar', () => {
  const dir = scratch({
    'defs/00-esp.conf': '[Partition]\nType=esp\nSizeMinBytes=20M\nSizeMaxBytes=20M\n',
    'defs/10-root.conf': '[Partition]\nType=root\nLabel=nixos & <co>\nSizeMinBytes=40M\n',
  });
  try {
    const r = runOurs([...base, '--size=100M', '--pretty=yes', '--layout-svg=layout.svg', 'disk.raw'], dir);
    assert.equal(r.status, 0, r.stderr);
    const svg = readFileSync(path.join(dir, 'layout.svg'), 'utf8');
    assert.match(svg, /^<\?xml/);
    assert.match(svg, /nixos &amp; &lt;co&gt;/);
    assert.equal((svg.match(/<rect /g) ?? []).length, 5, 'GPT head, esp, root, the unaligned free tail, GPT tail');
    assert.match(r.stdout, /^TYPE +LABEL/);
    // repart's bar and legend (issue 14: the table in 262's shape)
    assert.match(r.stdout, /\n ▒+░*\n │ +└─ 10-root.conf +\n └─ 00-esp.conf +\n/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
