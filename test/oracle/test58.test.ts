/**
 * Conformance with systemd's own repart test suite (TEST-58-REPART, test/units/TEST-58-REPART.sh
 * in systemd's repository): its offline scenarios, rewritten here from their definitions and
 * expected facts, each run side by side against systemd-repart 262 (REFERENCE_SUITE=sid) and
 * repart-ts. Every step must end the same way (exit status), print the same (JSON, tables) and
 * leave the same partition table (sfdisk --dump); where TEST-58 states a fact (an sfdisk line, a
 * JSON value, a file's line) it is checked on both sides. Scenarios that need a running system,
 * loop devices, device-mapper or varlink are listed as skipped with the reason.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, openSync, readSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { referenceSkipReason } from '../helpers/reference.js';
import { copyWindow } from '../wasm-helpers.js';
import { makeSides, oursRun, refRun, refTool, sameFile, sfdiskDump, sfdiskWrite, type SideRun, type Sides } from '../helpers/side-by-side.js';

const SUITE = 'sid' as const;
const SEED = '750b6cd5c4ae4012a15e7be3c29e6a47';
const ESP = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const XBOOTLDR = 'BC13C2FF-59E6-4262-A352-B275FD6F7172';
// x86-64, as TEST-58 has them for that machine
const ROOT = '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709';
const ROOT_UUID = '60F33797-1D71-4DCB-AA6F-20564F036CD0';
const ROOT_UUID2 = '73A4CCD2-EAF5-44DA-A366-F99188210FDC';
const USR = '8484680C-9521-48C6-9C11-B0720656F69E';
const USR_UUID = '7E3369DD-D653-4513-ADF5-B993A9F20C16';
const ARCH = 'x86-64';
const DEBUG = { SYSTEMD_LOG_LEVEL: 'debug', SYSTEMD_UTF8: '0', PAGER: 'cat' };

const skip = referenceSkipReason(SUITE);

interface StepOpts {
  env?: NodeJS.ProcessEnv;
  /** expected exit status on both sides (default 0) */
  status?: number;
  /** compare stdout (default true) */
  stdout?: boolean;
}

/** One scenario's two sides, with the steps run on both and compared. */
class Scenario {
  readonly s: Sides;
  constructor(name: string) { this.s = makeSides(`test58-${name.replace(/[^A-Za-z0-9_]+/g, '_')}`); }

  /** A file in the template (before fork()); `@D@` stays for the side directory. */
  template(rel: string, content: string | Buffer): void {
    const f = path.join(this.s.template, rel);
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, content);
  }

  fork(): void {
    this.s.fork();
    // definitions that name absolute paths get each side's own directory
    for (const side of [this.s.ours, this.s.ref]) this.substitute(side);
  }

  private substitute(side: string): void {
    const walk = (d: string) => {
      for (const e of spawnSync('find', [d, '-name', '*.conf', '-type', 'f'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
        const t = readFileSync(e, 'utf8');
        if (t.includes('@D@')) writeFileSync(e, t.replaceAll('@D@', side));
      }
    };
    walk(side);
  }

  /** A file written into both sides (after fork()), `@D@` replaced by each side's directory. */
  both(rel: string, content: string): void {
    for (const side of [this.s.ours, this.s.ref]) {
      const f = path.join(side, rel);
      mkdirSync(path.dirname(f), { recursive: true });
      writeFileSync(f, content.replaceAll('@D@', side));
    }
  }

  /** Runs a shell snippet in both sides (rm, truncate …). */
  sh(cmd: string): void {
    for (const side of [this.s.ours, this.s.ref]) {
      const r = spawnSync('sh', ['-c', cmd], { cwd: side, encoding: 'utf8' });
      assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
    }
  }

  /** sfdisk makes random UUIDs: written once, the same bytes copied to the other side. */
  sfdiskBoth(image: string, script: string): void {
    sfdiskWrite(SUITE, this.s.ours, image, script);
    copyFileSync(path.join(this.s.ours, image), path.join(this.s.ref, image));
  }

  step(args: string[], o: StepOpts = {}): { ours: SideRun; ref: SideRun } {
    const fix = (side: string) => args.map((a) => a.replaceAll('@D@', side));
    const ref = refRun(SUITE, this.s.ref, fix(this.s.ref), o.env);
    const ours = oursRun(this.s.ours, ['--no-progress', ...fix(this.s.ours)], o.env);
    const want = o.status ?? 0;
    assert.equal(ref.status, want, `262 exit status for ${args.join(' ')}:\n${ref.stderr.slice(-2000)}`);
    assert.equal(ours.status, want, `repart-ts exit status for ${args.join(' ')}:\n${ours.stderr.slice(-2000)}`);
    if (o.stdout !== false) assert.equal(ours.stdout, ref.stdout, `stdout of ${args.join(' ')}`);
    return { ours, ref };
  }

  /** Both tables equal; returns 262's dump (with the device path as `IMG`). */
  table(image: string, o: { randomUuids?: boolean } = {}): string {
    // without --seed= the disk and partition UUIDs are random on both sides
    const clean = (t: string) => {
      const esc = image.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const u = t.replace(new RegExp(`^device: ${esc}$`, 'm'), 'device: IMG').replace(new RegExp(`^${esc}(p?\\d+ :)`, 'gm'), 'IMG$1');
      return o.randomUuids ? u.replace(/label-id: \S+/, 'label-id: RANDOM').replace(/uuid=[0-9A-F-]{36}/g, 'uuid=RANDOM') : u;
    };
    const ref = clean(sfdiskDump(SUITE, this.s.ref, image));
    const ours = clean(sfdiskDump(SUITE, this.s.ours, image));
    assert.equal(ours, ref, `partition table of ${image}`);
    return ref;
  }

  sameImage(image: string): void {
    assert.ok(sameFile(path.join(this.s.ours, image), path.join(this.s.ref, image)), `${image}: not byte-identical with 262's`);
  }

  /** A fact stated by TEST-58, true on both sides. */
  fact(what: string, check: (side: string) => boolean): void {
    assert.ok(check(this.s.ref), `262: ${what}`);
    assert.ok(check(this.s.ours), `repart-ts: ${what}`);
  }

  done(): void { this.s.cleanup(); }
}

function scenario(name: string, fn: (c: Scenario) => void, opts: { todo?: string } = {}): void {
  it(name, { skip: skip ?? false, todo: opts.todo, timeout: 15 * 60 * 1000 }, () => {
    const c = new Scenario(name);
    try { fn(c); } finally { c.done(); }
  });
}

function skipped(name: string, why: string): void {
  it(name, { skip: why }, () => {});
}

const part = (d: Record<string, string>) => '[Partition]\n' + Object.entries(d).map(([k, v]) => `${k}=${v}\n`).join('');

describe('TEST-58-REPART scenarios vs systemd-repart 262', () => {
  scenario('basic', (c) => {
    c.template('defs/root.conf', part({ Type: 'root', Format: 'vfat' }));
    c.template('defs/home.conf', part({ Type: 'home', Label: 'home-first' }) + 'Label=home-always-too-long-xxxxxxxxxxxxxx-%v\nFormat=vfat\n');
    c.template('defs/swap.conf', part({ Type: 'swap', SizeMaxBytes: '64M', PaddingMinBytes: '92M' }));
    c.fork();
    for (const side of [c.s.ours, c.s.ref]) symlinkSync('root.conf', path.join(side, 'defs/root2.conf'));

    // 1. an empty image: an empty GPT, label-id from the seed
    c.step(['--offline=yes', '--empty=create', '--size=1G', `--seed=${SEED}`, 'zzz']);
    let t = c.table('zzz');
    assert.match(t, /label-id: 1D2CE291-7CCE-4F7D-BC83-FDB49AD74EBD/);
    assert.match(t, /first-lba: 2048\nlast-lba: 2097118/);

    // 2. size calculation without an image, then home and swap
    const dry = c.step(['--definitions=defs', '--dry-run=yes', `--seed=${SEED}`, '--include-partitions=home,swap', '-']);
    assert.equal(dry.ours.stderr.includes('Automatically determined minimal disk image size'), dry.ref.stderr.includes('Automatically determined minimal disk image size'));
    c.step(['--offline=yes', '--definitions=defs', '--dry-run=no', `--seed=${SEED}`, '--include-partitions=home,swap', 'zzz']);
    t = c.table('zzz');
    assert.match(t, /IMG1 : start=        2048, size=     1775576, type=933AC7E1-2EB4-4F13-B844-0E14E2AEF915, uuid=4980595D-D74A-483A-AA9E-9903879A0EE5, name="home-first", attrs="GUID:59"/);
    assert.match(t, /IMG2 : start=     1777624, size=      131072, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F, uuid=78C92DB8-3D2B-4823-B0DC-792B78F66F1E, name="swap"/);

    c.step(['--offline=yes', '--definitions=defs', '--empty=create', '--size=50M', `--seed=${SEED}`, '--include-partitions=root,home', 'qqq']);
    c.table('qqq');
    // --definitions "" and two --copy-from= of the same image
    c.step(['--offline=yes', '--empty=create', '--size=1G', '--dry-run=no', `--seed=${SEED}`, '--definitions', '', '--copy-from=qqq', '--copy-from=qqq', 'copy']);
    t = c.table('copy');
    assert.match(t, new RegExp(`IMG6 : start=      169232, size=       33440, type=${ROOT}, uuid=${ROOT_UUID2}, name="root-${ARCH}-2", attrs="GUID:59"`));

    c.step(['--offline=yes', '--definitions=defs', '--dry-run=no', `--seed=${SEED}`, '--empty=force', '--defer-partitions=home,root', 'zzz']);
    t = c.table('zzz');
    assert.match(t, /IMG4 : start=     1777624, size=      131072/);
    c.step(['--offline=yes', '--definitions=defs', '--dry-run=no', `--seed=${SEED}`, 'zzz']);
    t = c.table('zzz');
    assert.match(t, new RegExp(`IMG3 : start=     1185760, size=      591864, type=${ROOT}, uuid=${ROOT_UUID2}`));

    // 3. another partition, a drop-in label that is ignored
    c.both('defs/swap.conf', part({ Type: 'swap', SizeMaxBytes: '64M' }));
    c.both('defs/extra.conf', part({ Type: 'linux-generic', Label: 'custom_label', UUID: 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf' }));
    c.sh('printf "Label=ignored_label\\nUUID=b0b1b2b3b4b5b6b7b8b9babbbcbdbebf\\n" >> defs/home.conf');
    c.step(['--offline=yes', '--definitions=defs', '--dry-run=no', `--seed=${SEED}`, 'zzz']);
    assert.match(c.table('zzz'), /IMG5 : start=     1908696, size=      188416, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, uuid=A0A1A2A3-A4A5-A6A7-A8A9-AAABACADAEAF, name="custom_label"/);

    // 4. resizing to 2G
    c.step(['--offline=yes', '--definitions=defs', '--size=2G', '--dry-run=no', `--seed=${SEED}`, 'zzz']);
    assert.match(c.table('zzz'), /last-lba: 4194270[\s\S]*IMG5 : start=     1908696, size=     2285568/);

    // 5. a partition copied from a file (the same bytes on both sides)
    const block = Buffer.alloc(4096 * 10240);
    for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((i * 2654435761) >>> 0, i);
    for (const side of [c.s.ours, c.s.ref]) writeFileSync(path.join(side, 'block-copy'), block);
    c.both('defs/extra2.conf', part({ Type: 'linux-generic', Label: 'block-copy', UUID: '2a1d97e1d0a346cca26eadc643926617', CopyBlocks: '@D@/block-copy' }));
    c.step(['--offline=yes', '--definitions=defs', '--size=3G', '--dry-run=no', `--seed=${SEED}`, 'zzz']);
    assert.match(c.table('zzz'), /IMG6 : start=     4194264, size=     2097152/);
    c.fact('the copied bytes are at sector 4194264', (side) => {
      const fd = openSync(path.join(side, 'zzz'), 'r');
      try {
        const got = Buffer.alloc(block.length);
        readSync(fd, got, 0, got.length, 512 * 4194264);
        return got.equals(block);
      } finally { closeSync(fd); }
    });

    // 6./7. Format=/Encrypt=/CopyFiles=, Discard=no
    c.both('defs/extra3.conf', part({ Type: 'srv', Label: 'luks-format-copy', UUID: '7b93d1f2-595d-4ce3-b0b9-837fbd9e63b0', Format: 'ext4', Encrypt: 'yes', CopyFiles: '@D@/defs:/def', SizeMinBytes: '48M', VolumeLabel: 'schrupfel' }));
    c.step(['--offline=yes', '--definitions=defs', '--size=auto', '--dry-run=no', `--seed=${SEED}`, 'zzz']);
    assert.match(c.table('zzz'), /last-lba: 6422487[\s\S]*IMG7 : start=     6291416, size=      131072, type=3B8F8425-20E0-4F3B-907F-1A25A76F98E8/);
    c.both('defs/extra4.conf', part({ Type: 'var', Label: 'luks-no-discards', UUID: '329b9db2-dfd9-4f39-8ebf-53b582b05fcd', Format: 'ext4', Encrypt: 'yes', CopyFiles: '@D@/defs:/def', SizeMinBytes: '48M', Discard: 'no' }));
    c.step(['--offline=yes', '--definitions=defs', '--size=auto', '--dry-run=no', `--seed=${SEED}`, 'zzz']);
    assert.match(c.table('zzz'), /last-lba: 6553559[\s\S]*IMG8 : start=     6422488, size=      131072, type=4D21B016-B534-45C2-A9FB-5C16E091FD2D/);
  });

  scenario('copy_from_grain_padding', (c) => {
    c.template('defs/.keep', '');
    c.fork();
    c.sh('truncate -s 80MiB copy_from && truncate -s 100MiB copy_to');
    c.sfdiskBoth('copy_from', `label: gpt\ngrain: 4194304\n\nsize=40961, type=${ROOT}, uuid=837c3d67-21b3-478e-be82-7e7f83bf96d3\nsize=10240, type=${XBOOTLDR}, uuid=4985c03e-eecb-4fe0-9f65-3f6345782214\n`);
    c.step(['--offline=yes', '--empty=allow', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', '--json=pretty', '--copy-from=copy_from', '--grain-size=512', 'copy_to']);
    const t = c.table('copy_to');
    assert.match(t, new RegExp(`IMG1 : start=        2048, size=       40961, type=${ROOT},`));
    // the 8191 sectors between the partitions are kept
    assert.match(t, new RegExp(`IMG2 : start=       51200, size=       10240, type=${XBOOTLDR},`));
  });

  scenario('copy_from_respects_new_grain', (c) => {
    c.template('defs/.keep', '');
    c.fork();
    c.sh('truncate -s 80MiB copy_from && truncate -s 100MiB copy_to');
    c.sfdiskBoth('copy_from', `label: gpt\n\nsize=20480, type=${ROOT}, uuid=837c3d67-21b3-478e-be82-7e7f83bf96d3\nsize=10240, type=${XBOOTLDR}, uuid=4985c03e-eecb-4fe0-9f65-3f6345782214\n`);
    c.step(['--offline=yes', '--empty=allow', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', '--json=pretty', '--copy-from=copy_from', '--grain-size=4194304', 'copy_to']);
    const t = c.table('copy_to');
    assert.match(t, new RegExp(`IMG1 : start=        8192, size=       24576, type=${ROOT},`));
    assert.match(t, new RegExp(`IMG2 : start=       32768, size=       16384, type=${XBOOTLDR},`));
  });

  scenario('copy_from_no_padding_at_beginning_and_end', (c) => {
    c.template('defs/03-esp.conf', part({ Type: 'esp' }));
    c.fork();
    c.sh('truncate -s 80MiB copy_from && truncate -s 60MiB copy_to');
    c.sfdiskBoth('copy_from', `label: gpt\n\nstart=2280, size=20480, type=${ROOT}, uuid=837c3d67-21b3-478e-be82-7e7f83bf96d3\nstart=22760, size=10240, type=${XBOOTLDR}, uuid=4985c03e-eecb-4fe0-9f65-3f6345782214\n`);
    c.step(['--offline=yes', '--empty=allow', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', '--json=pretty', '--copy-from=copy_from', 'copy_to']);
    const t = c.table('copy_to');
    assert.match(t, /first-lba: 2048\nlast-lba: 122846/);
    assert.match(t, new RegExp(`IMG3 : start=       32768, size=       90072, type=${ESP},`));
  });

  scenario('size_auto_with_grain_size', (c) => {
    c.template('defs/01-esp.conf', part({ Type: 'esp', SizeMinBytes: '10M' }));
    c.template('defs/02-usr.conf', part({ Type: `usr-${ARCH}`, SizeMinBytes: '10M' }));
    c.template('defs/03-root.conf', part({ Type: `root-${ARCH}`, SizeMinBytes: '10M' }));
    c.fork();
    c.step(['--offline=yes', '--empty=create', '--size=auto', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', '--grain-size=2097152', 'auto']);
    const t = c.table('auto');
    assert.match(t, /last-lba: 65535/);
    assert.match(t, new RegExp(`IMG3 : start=       45056, size=       20480, type=${ROOT},`));
  });

  scenario('dropin (JSON with debug columns)', (c) => {
    c.template('defs/root.conf', part({ Type: 'swap', SizeMaxBytes: '64M', UUID: '837c3d67-21b3-478e-be82-7e7f83bf96d3' }));
    c.template('defs/root.conf.d/override1.conf', part({ Label: 'label1', SizeMaxBytes: '32M' }));
    c.template('defs/root.conf.d/override2.conf', part({ Label: 'label2' }));
    c.fork();
    const r = c.step(['--offline=yes', '--definitions=defs', '--empty=create', '--size=100M', '--json=pretty', 'zzz'], { env: DEBUG });
    for (const out of [r.ours.stdout, r.ref.stdout]) {
      assert.match(out, /"label" : "label2"/);
      assert.match(out, /"size" : "-> 32M"/);
      assert.match(out, /"raw_padding" : 70234112,\n\t\t"padding" : "-> 66.9M"/);
      assert.match(out, /"drop-in_files" : \[\n\t\t\t"DIR\/defs\/root.conf.d\/override1.conf",\n\t\t\t"DIR\/defs\/root.conf.d\/override2.conf"\n\t\t\]/);
    }
  });

  scenario('multiple_definitions', (c) => {
    c.template('defs/1/root1.conf', part({ Type: 'swap', SizeMaxBytes: '32M', UUID: '7b93d1f2-595d-4ce3-b0b9-837fbd9e63b0', Label: 'label1' }));
    c.template('defs/2/root2.conf', part({ Type: 'swap', SizeMaxBytes: '32M', UUID: '837c3d67-21b3-478e-be82-7e7f83bf96d3', Label: 'label2' }));
    c.fork();
    const r = c.step(['--offline=yes', '--definitions=defs/1', '--definitions=defs/2', '--empty=create', '--size=100M', '--json=pretty', 'zzz'], { env: DEBUG });
    assert.match(r.ref.stdout, /"offset" : 34603008,[\s\S]*"raw_padding" : 36679680,\n\t\t"padding" : "-> 34.9M"/);
  });

  scenario('copy_blocks (first part; CopyBlocks=auto needs --image=)', (c) => {
    c.template('defs/esp.conf', part({ Type: 'esp', SizeMinBytes: '10M', Format: 'vfat' }));
    c.template('defs/usr.conf', part({ Type: `usr-${ARCH}`, SizeMinBytes: '10M', Format: 'ext4', ReadOnly: 'yes' }));
    c.template('defs/root.conf', part({ Type: `root-${ARCH}`, SizeMinBytes: '10M', Format: 'ext4', MakeDirectories: '/usr /efi' }));
    c.fork();
    c.step(['--offline=yes', '--definitions=defs', '--empty=create', '--size=auto', `--seed=${SEED}`, 'zzz']);
    const t = c.table('zzz');
    assert.match(t, /IMG1 : start=        2048, size=      532480, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=39107B09-615D-48FB-BA37-C663885FCE67, name="esp"/);
    assert.match(t, new RegExp(`IMG3 : start=      600064, size=       65536, type=${USR}, uuid=${USR_UUID}, name="usr-${ARCH}", attrs="GUID:60"`));
  });

  scenario('unaligned_partition', (c) => {
    c.template('defs/root.conf', part({ Type: `root-${ARCH}` }));
    c.fork();
    c.sh('truncate -s 10g unaligned');
    c.sfdiskBoth('unaligned', 'label: gpt\n\nstart=2048, size=69044\nstart=71092, size=3591848\n');
    c.step(['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', 'unaligned'], { stdout: false });
    assert.match(c.table('unaligned'), new RegExp(`IMG3 : start=     3662944, size=    17308536, type=${ROOT}, uuid=${ROOT_UUID}, name="root-${ARCH}", attrs="GUID:59"`));
  });

  scenario('output_order', (c) => {
    c.template('defs/01-home.conf', part({ Type: 'home', SizeMinBytes: '20971520' }));
    c.template('defs/02-swap.conf', part({ Type: 'swap' }));
    c.template('defs/03-esp.conf', part({ Type: 'esp' }));
    c.template('defs/04-root.conf', part({ Type: `root-${ARCH}` }));
    c.template('order', '');
    c.fork();
    c.sh('truncate -s 80MiB order');
    c.sfdiskBoth('order', `label: gpt\n\nsize=10M, type=${ROOT}, uuid=837c3d67-21b3-478e-be82-7e7f83bf96d3\nsize=5M, type=${XBOOTLDR}, uuid=4985c03e-eecb-4fe0-9f65-3f6345782214\nstart=30M, size=10M, type=${ESP}, uuid=91c30bc9-0187-4db6-81a2-c648294197f8\n`);
    const r = c.step(['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', '--json=pretty', 'order'], { env: DEBUG });
    assert.match(r.ours.stdout, /"type" : "xbootldr",\n\t\t"label" : "xbootldr",[\s\S]*"padding" : "14M -> 0B"/);
    assert.match(r.ours.stdout, /"size" : "10M -> 24.9M"/);
    const t = c.table('order');
    assert.match(t, new RegExp(`IMG2 : start=       22528, size=       10240, type=${XBOOTLDR}, uuid=4985C03E-EECB-4FE0-9F65-3F6345782214\n`), 'the partition without definition stays unnamed');
    assert.match(t, new RegExp(`IMG3 : start=       61440, size=       51176, type=${ESP},`));
    assert.match(t, /IMG5 : start=      112616, size=       51184, type=933AC7E1-2EB4-4F13-B844-0E14E2AEF915,/);
  });

  scenario('issue_21817 (no definitions: the table is listed)', (c) => {
    c.template('defs/test.conf', part({ Type: 'root' }));
    c.template('imgs/.keep', '');
    c.fork();
    c.sh('truncate -s 100m imgs/21817.img');
    c.sfdiskBoth('imgs/21817.img', `label: gpt\n\nsize=50M, type=${ROOT}\n,\n`);
    c.step(['--offline=yes', '--pretty=yes', '--definitions', 'imgs', `--seed=${SEED}`, '--dry-run=no', 'imgs/21817.img']);
    const t = c.table('imgs/21817.img');
    assert.match(t, /IMG2 : start=      104448, size=      (100319| 98304),/);
  });

  scenario('issue_24553', (c) => {
    c.template('defs/root.conf', part({ Type: 'root', SizeMinBytes: '10G', SizeMaxBytes: '120G' }));
    c.template('partscript', `label: gpt\nlabel-id: C9FFE979-A415-C449-B729-78C7AA664B10\nunit: sectors\nfirst-lba: 40\n\nstart=40, size=524288, type=${ESP}, uuid=F2E89C8A-DC5D-4C4C-A29C-6CFB643B74FD, name="ESP System Partition"\nstart=524328, size=14848000, type=${ROOT}, uuid=${ROOT_UUID}, name="root-${ARCH}"\n`);
    c.fork();
    const script = readFileSync(path.join(c.s.template, 'partscript'), 'utf8');
    const fresh = (size: string) => { c.sh(`rm -f zzz && truncate -s ${size} zzz`); c.sfdiskBoth('zzz', script); };
    fresh('8g');
    c.step(['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', 'zzz'], { status: 1, stdout: false });
    assert.match(c.table('zzz'), new RegExp(`IMG2 : start=      524328, size=    14848000, type=${ROOT}`));
    fresh('12g');
    c.step(['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', 'zzz'], { stdout: false });
    assert.match(c.table('zzz'), new RegExp(`IMG2 : start=      524328, size=    24641456, type=${ROOT}`));
    c.both('defs/root.conf', part({ Type: 'root', SizeMinBytes: '10G', SizeMaxBytes: '120G', Priority: '100' }));
    c.both('defs/usr.conf', part({ Type: 'usr', SizeMinBytes: '10M', Priority: '10' }));
    fresh('8g');
    c.step(['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', 'zzz'], { stdout: false });
    assert.match(c.table('zzz'), new RegExp(`IMG3 : start=    15372328, size=     1404848, type=${USR}, uuid=${USR_UUID}`));
    fresh('12g');
    c.step(['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', 'zzz'], { stdout: false });
    assert.match(c.table('zzz'), new RegExp(`IMG2 : start=      524328, size=    20971520[\\s\\S]*IMG3 : start=    21495848, size=     3669936`));
  });

  scenario('zero_uuid', (c) => {
    c.template('defs/root.conf', part({ Type: `root-${ARCH}`, UUID: 'null' }));
    c.fork();
    c.step(['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', '--empty=create', '--size=auto', 'zero']);
    assert.match(c.table('zero'), new RegExp(`IMG1 : start=        2048, size=       20480, type=${ROOT}, uuid=00000000-0000-0000-0000-000000000000`));
  });

  scenario('verity (sign online, then offline with --join-signature=)', (c) => {
    c.template('content/hello', 'hello\n');
    // TEST-58 copies the directory to its own absolute path; here that path names the side
    // (…/ours/…, …/ref/…) and would be the images' only difference: one fixed path instead
    c.template('defs/verity-data.conf', part({ Type: `root-${ARCH}`, CopyFiles: '@D@/content:/content', Verity: 'data', VerityMatchKey: 'root', Minimize: 'guess' }));
    c.template('defs/verity-hash.conf', part({ Type: `root-${ARCH}-verity`, Verity: 'hash', VerityMatchKey: 'root', Minimize: 'yes' }));
    c.template('defs/verity-sig.conf', part({ Type: `root-${ARCH}-verity-sig`, Verity: 'signature', VerityMatchKey: 'root' }));
    const k = spawnSync('openssl', ['req', '-new', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '365', '-subj', '/CN=Common Name',
      '-keyout', path.join(c.s.template, 'verity.key'), '-out', path.join(c.s.template, 'verity.crt')], { encoding: 'utf8' });
    assert.equal(k.status, 0, k.stderr);
    c.fork();
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const r = c.step(['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', '--empty=create', '--size=auto', '--split=yes', '--json=pretty',
      '--private-key=verity.key', '--certificate=verity.crt', 'verity'], { env, stdout: false });
    for (const out of [r.ours.stdout, r.ref.stdout]) {
      const j = JSON.parse(out) as { type: string; roothash: string; split_path: string }[];
      const rh = (t: string) => j.find((x) => x.type === t)!.roothash;
      assert.equal(rh(`root-${ARCH}`), rh(`root-${ARCH}-verity`));
      assert.equal(rh(`root-${ARCH}-verity`), rh(`root-${ARCH}-verity-sig`));
    }
    c.fact('the split signature file is JSON', (side) => {
      const f = path.join(side, 'verity.root-x86-64-verity-sig');
      return existsSync(f) && typeof JSON.parse(readFileSync(f, 'utf8').replace(/\0+$/, '')) === 'object';
    });
    // the data and hash partitions are equal; the signature differs (RSA-PKCS#1 v1.5 is deterministic, but CMS times)
    c.table('verity');
    const off = c.step(['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', '--empty=create', '--size=auto', '--json=pretty',
      `--defer-partitions=root-${ARCH}-verity-sig`, 'offline'], { env });
    const drh = (JSON.parse(off.ref.stdout) as { type: string; roothash: string }[]).find((x) => x.type === `root-${ARCH}`)!.roothash;
    for (const side of [c.s.ours, c.s.ref]) {
      // from a file: openssl cannot open /dev/stdin when it is spawnSync's pipe (ENXIO)
      writeFileSync(path.join(side, 'offline.roothash'), drh);
      const s = spawnSync('openssl', ['smime', '-sign', '-in', 'offline.roothash', '-inkey', 'verity.key', '-signer', 'verity.crt', '-noattr', '-binary', '-outform', 'der', '-out', 'offline.roothash.p7s'],
        { cwd: side, encoding: 'utf8' });
      assert.equal(s.status, 0, s.stderr);
    }
    // TEST-58 joins without --seed=: the new signature partition's UUID comes from the machine ID,
    // this host's for repart-ts and the oracle chroot's for 262, so that UUID (and the GPT CRCs over
    // it) is the one expected difference; mkosi-replay.test.ts joins with one machine ID on both
    // sides and compares every byte
    const join = c.step(['--offline=yes', '--definitions', 'defs', '--dry-run', 'no', '--join-signature', `${drh}:offline.roothash.p7s`, '--certificate', 'verity.crt', 'offline'], { stdout: false });
    const sigUuid = (t: string) => t.replace(/(type=41092B05-9FC8-4523-994F-2DEF0408B176, uuid=)[0-9A-F-]{36}/, '$1MACHINE-ID');
    assert.equal(sigUuid(sfdiskDump(SUITE, c.s.ours, 'offline')).replace(c.s.ours, 'D'), sigUuid(sfdiskDump(SUITE, c.s.ref, 'offline')).replace(c.s.ref, 'D'), 'partition table after the join');
    const noUuid = (t: string) => t.replace(/^(root-x86-64-verity-sig\s+\S+\s+)[0-9a-f-]{36}/gm, '$1MACHINE-ID');
    assert.equal(noUuid(join.ours.stdout), noUuid(join.ref.stdout), 'the tables printed (TBD before, the root hash after)');
    const a = readFileSync(path.join(c.s.ours, 'offline')), b = readFileSync(path.join(c.s.ref, 'offline'));
    assert.equal(a.length, b.length);
    // everything between the primary GPT (LBA 0-33) and the backup: the partitions, signature included
    assert.ok(a.subarray(34 * 512, a.length - 34 * 512).equals(b.subarray(34 * 512, b.length - 34 * 512)), 'the partitions are byte-identical');
  });

  scenario('verity_hash_size_from_data_size', (c) => {
    c.template('content/hello', 'hello\n');
    // TEST-58 copies the directory to its own absolute path; here that path names the side
    // (…/ours/…, …/ref/…) and would be the images' only difference: one fixed path instead
    c.template('defs/verity-data.conf', part({ Type: `root-${ARCH}`, CopyFiles: '@D@/content:/content', Verity: 'data', VerityMatchKey: 'root', Minimize: 'guess', SizeMaxBytes: '10G' }));
    c.template('defs/verity-hash.conf', part({ Type: `root-${ARCH}-verity`, Verity: 'hash', VerityMatchKey: 'root', VerityHashBlockSizeBytes: '4096', VerityDataBlockSizeBytes: '4096' }));
    c.fork();
    c.step(['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', '--empty=create', '--size=auto', '--json=pretty', 'verity'], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
    // calculate_verity_hash_size() for 10 GiB of data in 4096-byte blocks
    assert.match(c.table('verity'), new RegExp(`size=\\s+${84557824 / 512}, type=2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5`));
  });

  scenario('minimize', (c) => {
    c.template('content/hello', 'hello\n');
    for (const f of ['ext4', 'vfat', 'erofs']) c.template(`defs/root-${f}.conf`, part({ Type: `root-${ARCH}`, Format: f, CopyFiles: '@D@/content', Minimize: 'guess' }));
    for (const m of ['guess', 'best']) c.template(`defs/root-btrfs-${m}.conf`, part({ Type: `root-${ARCH}`, Format: 'btrfs', CopyFiles: '@D@/content', Minimize: m }));
    c.template('defs/root-squashfs.conf', part({ Type: `root-${ARCH}`, Format: 'squashfs', CopyFiles: '@D@/content', Minimize: 'best' }));
    c.fork();
    // the same partitions (JSON, sizes included: vfat 50.2M, repart's own 1 TiB-probe guess)
    c.step(['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', '--empty=create', '--size=auto', '--json=pretty', 'zzz']);
    c.table('zzz');
  });

  scenario('dropped_partitions', (c) => {
    c.template('defs/10-part1.conf', part({ Type: 'root' }));
    c.template('defs/11-dropped-first.conf', part({ Type: 'root', SizeMinBytes: '1T', Priority: '1' }));
    c.template('defs/12-part2.conf', part({ Type: 'root' }));
    c.template('defs/13-dropped-second.conf', part({ Type: 'root', SizeMinBytes: '1T', Priority: '2' }));
    c.fork();
    c.sh('truncate -s 32M image.img');
    c.step(['--empty=allow', '--pretty=yes', '--dry-run=no', '--definitions=defs', '--offline=yes', 'image.img'], { stdout: false });
    assert.equal(c.table('image.img', { randomUuids: true }).split('\n').filter((l) => l.startsWith('IMG')).length, 2);
  });

  scenario('random_seed', (c) => {
    c.template('defs/root.conf', part({ Type: 'root' }));
    c.template('defs/home.conf', part({ Type: 'home', Label: 'home-first' }));
    c.template('defs/swap.conf', part({ Type: 'swap', SizeMaxBytes: '64M', PaddingMinBytes: '92M' }));
    c.fork();
    c.step(['--offline=yes', '--definitions=defs', '--empty=create', '--size=1G', '--dry-run=no', '--seed=random', '--json=pretty', 'zzz'], { stdout: false });
    c.fact('three different partition UUIDs', (side) => new Set([...sfdiskDump(SUITE, side, 'zzz').matchAll(/uuid=([0-9A-F-]+)/g)].map((m) => m[1])).size === 3);
  });

  scenario('fallback_partitions (SupplementFor=)', (c) => {
    c.template('defs/10-esp.conf', part({ Type: 'esp', Format: 'vfat', SizeMinBytes: '10M' }));
    c.template('defs/20-xbootldr.conf', part({ Type: 'xbootldr', Format: 'vfat', SizeMinBytes: '100M', SupplementFor: '10-esp' }));
    c.fork();
    c.step(['--empty=create', '--size=auto', '--dry-run=no', '--offline=yes', '--definitions=defs', 'image'], { stdout: false });
    let t = c.table('image', { randomUuids: true });
    assert.match(t, new RegExp(`IMG1 : start=        2048, size=      532480, type=${ESP}`));
    assert.doesNotMatch(t, /IMG2/);
    c.sfdiskBoth('image', `label: gpt\nsize=10M, type=${ESP}\n`);
    c.step(['--dry-run=no', '--offline=yes', '--definitions=defs', 'image'], { stdout: false });
    c.table('image', { randomUuids: true });
    c.sh('truncate -s 400M image');
    c.sfdiskBoth('image', `label: gpt\nsize=10M, type=${ESP},\nsize=10M, type=${ROOT},\n`);
    c.step(['--dry-run=no', '--offline=yes', '--definitions=defs', 'image'], { stdout: false });
    t = c.table('image', { randomUuids: true });
    assert.match(t, new RegExp(`IMG3 : start=       43008, size=      776152, type=${XBOOTLDR}`));
    c.sfdiskBoth('image', `label: gpt\nsize=10M, type=${XBOOTLDR},\n`);
    c.step(['--dry-run=no', '--offline=yes', '--definitions=defs', 'image'], { stdout: false });
    t = c.table('image', { randomUuids: true });
    assert.match(t, new RegExp(`IMG1 : start=        2048, size=      284632, type=${XBOOTLDR}[\\s\\S]*IMG2 : start=      286680, size=      532480, type=${ESP}`));
  });

  scenario('btrfs (--generate-fstab= with quoted mount options)', (c) => {
    c.template('defs/root.conf', part({ Type: 'root', Format: 'btrfs', MakeDirectories: '/@ /@home', Subvolumes: '/@ /@home', DefaultSubvolume: '/@' })
      + 'MountPoint=/:"subvol=@,zstd:1,noatime,lazytime"\nMountPoint=/home:"subvol=@home,zstd:1,noatime,lazytime"\n');
    c.template('root/etc/.keep', '');
    c.fork();
    c.step(['--pretty=yes', '--definitions', 'defs', '--empty=create', '--size=1G', `--seed=${SEED}`, '--dry-run=no', '--offline=yes', '--generate-fstab', '@D@/root/etc/fstab', 'btrfs.img'], { stdout: false });
    c.table('btrfs.img');
    assert.equal(readFileSync(path.join(c.s.ours, 'root/etc/fstab'), 'utf8'), readFileSync(path.join(c.s.ref, 'root/etc/fstab'), 'utf8'));
    c.fact('fstab lines of TEST-58', (side) => {
      const t = readFileSync(path.join(side, 'root/etc/fstab'), 'utf8');
      return /UUID=[0-9a-f-]* \/ btrfs discard,rw,nodev,suid,exec,subvol=@,zstd:1,noatime,lazytime 0 1/.test(t)
        && /UUID=[0-9a-f-]* \/home btrfs discard,rw,nodev,suid,exec,subvol=@home,zstd:1,noatime,lazytime 0 1/.test(t);
    });
  });

  scenario('ext_reproducibility', (c) => {
    c.template('defs/root.conf', part({ Type: 'root', Format: 'ext4' }));
    c.fork();
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    c.step(['--offline=yes', '--definitions=defs', '--empty=create', '--size=50M', `--seed=${SEED}`, '--dry-run=no', 'test1.img'], { env, stdout: false });
    c.step(['--offline=yes', '--definitions=defs', '--empty=create', '--size=50M', `--seed=${SEED}`, '--dry-run=no', 'test2.img'], { env, stdout: false });
    c.fact('two builds are identical', (side) => sameFile(path.join(side, 'test1.img'), path.join(side, 'test2.img')));
    c.sameImage('test1.img');
  });

  scenario('luks2_keyhash (fixate-volume-key= in crypttab)', (c) => {
    c.template('defs/root.conf', part({ Type: 'linux-generic', Format: 'ext4', 'Encrypt': 'key-file', EncryptedVolume: 'test-repart-lukskeyhash:::fixate-volume-key' }));
    c.template('empty-password', '');
    c.fork();
    c.step(['--pretty=yes', '--definitions', 'defs', '--empty=create', '--size=100M', `--seed=${SEED}`, '--dry-run=no', '--offline=yes', '--generate-crypttab=@D@/crypttab', 'enckeyhash.img'], { stdout: false });
    c.table('enckeyhash.img');
    // the id systemd-cryptsetup checks: HMAC-SHA256(volume key, "cryptsetup:<name>:<LUKS UUID>")
    c.fact('fixate-volume-key= is the volume key id', (side) => {
      const line = readFileSync(path.join(side, 'crypttab'), 'utf8').split('\n').find((l) => l.includes('UUID='))!;
      const [name, uuid, , opts] = line.split(' ');
      const id = /fixate-volume-key=([0-9a-f]{64})/.exec(opts!)?.[1];
      writeFileSync(path.join(side, 'p1'), readFileSync(path.join(side, 'enckeyhash.img')).subarray(1048576, 1048576 + 40 * 1048576));
      const d = refTool(SUITE, side, 'cryptsetup', ['luksDump', '--dump-volume-key', '--volume-key-file', 'vk.bin', '--key-file', 'empty-password', '--batch-mode', 'p1']);
      if (d.status !== 0) return false;
      const vk = readFileSync(path.join(side, 'vk.bin'));
      return id === createHmac('sha256', vk).update(`cryptsetup:${name}:${uuid!.slice(5)}`).digest('hex');
    });
  });

  scenario('encrypted_volume_empty_name', (c) => {
    c.template('defs/root.conf', part({ Type: 'linux-generic', Format: 'ext4', Encrypt: 'key-file', EncryptedVolume: ':none:discard' }));
    c.fork();
    c.step(['--pretty=yes', '--definitions', 'defs', '--empty=create', '--size=100M', `--seed=${SEED}`, '--dry-run=no', '--offline=yes', '--generate-crypttab=@D@/crypttab', 'emptyvolname.img'], { stdout: false });
    assert.equal(readFileSync(path.join(c.s.ours, 'crypttab'), 'utf8'), readFileSync(path.join(c.s.ref, 'crypttab'), 'utf8'));
    c.fact('luks-<UUID> as the name', (side) => /^luks-[0-9a-f-]{36} UUID=[0-9a-f-]{36} none discard$/m.test(readFileSync(path.join(side, 'crypttab'), 'utf8')));
  });

  scenario('insert_into_gap', (c) => {
    c.template('defs/new.conf', part({ Type: 'usr', Label: 'part-b', SizeMinBytes: '10M', SizeMaxBytes: '10M' }));
    c.template('gap.img', '');
    c.fork();
    c.sh('truncate -s 71M gap.img');
    c.sfdiskBoth('gap.img', `label: gpt\nsize=10M, type=${ESP}, name="part-a",\nstart=60M, size=10M, type=${ROOT}, name="part-c",\n`);
    c.step(['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', 'gap.img'], { stdout: false });
    assert.match(c.table('gap.img'), new RegExp(`IMG3 : start=       22528, size=       20480, type=${USR}, uuid=${USR_UUID}, name="part-b"`));
  });

  scenario('distribute_leftover_space', (c) => {
    c.template('defs/01-esp.conf', part({ Type: 'esp', Weight: '1', SizeMinBytes: '5M' }));
    c.template('defs/02-usr.conf', part({ Type: `usr-${ARCH}`, Weight: '1000', SizeMinBytes: '1M', SizeMaxBytes: '2M' }));
    c.template('d2/01-xbootldr.conf', part({ Type: 'xbootldr', SizeMaxBytes: '10M' }));
    c.template('d2/02-usr.conf', part({ Type: `usr-${ARCH}`, Weight: '1000', SizeMinBytes: '1M', SizeMaxBytes: '2M' }));
    c.template('d2/03-esp.conf', part({ Type: 'esp', Weight: '1', SizeMinBytes: '5M' }));
    c.fork();
    c.sh('truncate -s 20M leftover.img && truncate -s 25M leftover2.img');
    c.step(['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', '--empty=allow', 'leftover.img'], { stdout: false });
    assert.match(c.table('leftover.img'), new RegExp(`IMG1 : start=        2048, size=       34776, type=${ESP},`));
    c.sfdiskBoth('leftover2.img', `label: gpt\nsize=3M, type=${XBOOTLDR},\n`);
    c.step(['--offline=yes', '--definitions=d2', `--seed=${SEED}`, '--dry-run=no', '--empty=allow', 'leftover2.img'], { stdout: false });
    assert.match(c.table('leftover2.img'), new RegExp(`IMG3 : start=       26624, size=       24536, type=${ESP},`));
  });

  scenario('free_area_calculation', (c) => {
    c.template('src/etc/hostname', 'test58\n');
    c.template('defs/00-ESP.conf', '[Partition]\nType         = esp\nLabel        = ESP\nFormat       = vfat\n\nSizeMinBytes = 128M\nSizeMaxBytes = 128M\n\nCopyFiles    = /etc:/\n');
    c.template('defs/10-os.conf', `[Partition]\nType           = root-${ARCH}\nLabel          = test\nFormat         = squashfs\n\nMinimize       = best\nCopyFiles      = /etc/:/\n\nVerityMatchKey = os\nVerity         = data\n`);
    c.template('defs/11-os-verity.conf', `[Partition]\nType           = root-${ARCH}-verity\nLabel          = test\n\nMinimize       = best\n\nVerityMatchKey = os\nVerity         = hash\n`);
    c.fork();
    const env = { SYSTEMD_REPART_MKFS_OPTIONS_VFAT: '-S 512', SOURCE_DATE_EPOCH: '1700000000' };
    const pick = (s: string) => s.split('\n').filter((l) => /offset|raw_size|raw_padding/.test(l)).join('\n');
    const a = c.step(['--offline=yes', '--definitions=defs', '--root=@D@/src', `--seed=${SEED}`, '--dry-run=no', '--empty=create', '--size=auto', '--sector-size=4096', '--defer-partitions=esp', '--json=pretty', 'zzz'], { env, stdout: false });
    const b = c.step(['--offline=yes', '--definitions=defs', '--root=@D@/src', `--seed=${SEED}`, '--dry-run=no', '--empty=allow', '--size=auto', '--sector-size=4096', '--defer-partitions=esp', '--json=pretty', 'zzz'], { env, stdout: false });
    for (const side of ['ours', 'ref'] as const) assert.equal(pick(b[side].stdout), pick(a[side].stdout), `${side}: the second run keeps the layout`);
    assert.equal(pick(a.ours.stdout), pick(a.ref.stdout));
  });

  scenario('exclude_files', (c) => {
    for (const f of ['abc', 'usr/def', 'usr/qed', 'tmp/prs', 'proc/prs', 'zzz/usr/prs', 'zzz/proc/prs']) c.template(`root/${f}`, '');
    c.template('defs/00-root.conf', part({ Type: `root-${ARCH}` }) + 'CopyFiles=/\nCopyFiles=/zzz:/\nCopyFiles=/:/oiu\nExcludeFilesTarget=/oiu/usr\n');
    c.template('defs/10-usr.conf', part({ Type: `usr-${ARCH}`, CopyFiles: '/usr:/', ExcludeFiles: '/usr/qed' }));
    c.fork();
    c.step(['--offline=yes', '--definitions=defs', `--seed=${SEED}`, '--dry-run=no', '--empty=create', '--size=auto', '--json=pretty', '--root=@D@/root', 'zzz'], { stdout: false });
    c.table('zzz');
    // CopyFiles= without Format= makes ext4 on both sides; what TEST-58 checks on the mounted partitions
    const ls = (side: string, partno: number, dir: string) => ext4List(path.join(side, 'zzz'), partno, dir);
    for (const [partno, dir] of [[0, '/'], [0, '/oiu'], [0, '/usr'], [0, '/zzz'], [1, '/']] as const) {
      assert.equal(ls(c.s.ours, partno, dir), ls(c.s.ref, partno, dir), `partition ${partno + 1}, ${dir}`);
    }
    c.fact('root: /oiu has abc and no usr', (side) => /\babc\b/.test(ls(side, 0, '/oiu')) && !/\busr\b/.test(ls(side, 0, '/oiu')));
    c.fact('usr: def without the excluded qed', (side) => /\bdef\b/.test(ls(side, 1, '/')) && !/\bqed\b/.test(ls(side, 1, '/')));
  });

  scenario('get_size (device "-")', (c) => {
    c.template('defs/a.conf', part({ Type: 'root', SizeMinBytes: '15M' }));
    c.template('defs/b.conf', part({ Type: 'linux-generic', SizeMinBytes: '23M' }));
    c.fork();
    const r = c.step(['--definitions=defs', '-']);
    c.fact('"Automatically determined minimal disk image size as 39M."', (side) => (side === c.s.ours ? r.ours : r.ref).stderr.includes('Automatically determined minimal disk image size as 39M.'));
  });

  skipped('sector (512…4096-byte loop devices)', 'needs loop devices with a logical sector size (losetup -b); the 4096-byte image case is in test/oracle/fdisk-4096.test.ts');
  skipped('verity_explicit_block_size', 'checks the result with veritysetup dump on a loop device');
  skipped('make_symlinks', 'checks the result by mounting with systemd-dissect');
  skipped('urandom (CopyBlocks=/dev/urandom)', 'a character device as CopyBlocks= source: repart reads it as a block device of unknown size');
  skipped('list_devices, varlink_list_devices, varlink_subscribe_devices, varlink_run', 'need a running system (udev, varlink); repart-ts refuses --list-devices with a clear message');
  skipped('luks2_integrity, block_device_replace', 'online only (--offline=no, device-mapper, mounted btrfs)');
  skipped('btrfs_compression', 'btrfs Compression=zstd and mkfs.btrfs summary lines belong to the btrfs tool-parity work (issue 14 item 13)');
  skipped('fstab_crypttab_in_repart', 'the files inside the image are checked by test/oracle/generated-tabs.test.ts (reading LUKS needs device-mapper here)');
});

/** the names in `dir` of the ext4 file system in partition `partno` of `image`, sorted, space-separated */
function ext4List(image: string, partno: number, dir: string): string {
  const parts = (JSON.parse(spawnSync('sfdisk', ['-J', image], { encoding: 'utf8' }).stdout) as { partitiontable: { partitions: { start: number; size: number }[] } }).partitiontable.partitions;
  const p = parts[partno];
  const fsImage = `${image}.p${partno}`;
  copyWindow(image, p.start * 512, p.size * 512, fsImage);
  const r = spawnSync('debugfs', ['-R', `ls -p ${dir}`, fsImage], { encoding: 'utf8' });
  return r.stdout.split('\n').map((l) => l.split('/')[5]).filter((n) => n && n !== '.' && n !== '..').sort().join(' ');
}
