/**
 * Definition sets compared against the real systemd-repart (257 and 262). Each writes its files
 * into a fresh directory; `args` are appended to the common ones (seed, JSON, image path).
 */
export interface DiffCase {
  name: string;
  files: Record<string, string>;
  args: string[];
  /** compare only JSON and exit status (no image written, e.g. errors) */
  jsonOnly?: boolean;
}

const P = (body: string) => `[Partition]\n${body.trim().split(/\s*\n\s*/).join('\n')}\n`;
const create = ['--empty=create', '--dry-run=no'];

export const CASES: DiffCase[] = [
  {
    name: 'spec test vector (weights, padding, min/max, flags)',
    files: {
      'defs/10-a.conf': P('Type=srv\nWeight=1000'),
      'defs/20-b.conf': P('Type=var\nWeight=2000\nSizeMaxBytes=100M\nPaddingWeight=500'),
      'defs/30-c.conf': P('Type=srv\nWeight=3000\nLabel=mysrv'),
      'defs/40-d.conf': P('Type=swap\nSizeMinBytes=64K\nSizeMaxBytes=64K\nNoAuto=yes'),
      'defs/50-e.conf': P('Type=root-verity\nSizeMinBytes=8M\nSizeMaxBytes=8M'),
      'defs/60-f.conf': P('Type=home\nFlags=0x8000000000000000\nGrowFileSystem=no'),
      'defs/70-g.conf': P('Type=esp\nNoAuto=yes\nReadOnly=yes\nSizeMinBytes=20M\nSizeMaxBytes=20M'),
    },
    args: [...create, '--size=1G'],
  },
  { name: 'single root, auto size', files: { 'defs/root.conf': P('Type=root') }, args: [...create, '--size=auto'] },
  {
    name: 'esp + root + swap, auto size, 4096-byte sectors',
    files: {
      'defs/00-esp.conf': P('Type=esp\nSizeMinBytes=64M\nSizeMaxBytes=64M'),
      'defs/10-root.conf': P('Type=root\nSizeMinBytes=200M'),
      'defs/20-swap.conf': P('Type=swap\nSizeMinBytes=32M\nSizeMaxBytes=32M'),
    },
    args: [...create, '--size=auto', '--sector-size=4096'],
  },
  {
    name: 'auto size, 512-byte sectors, mixed minimums (spec §2 example)',
    files: {
      'defs/1.conf': P('Type=linux-generic\nSizeMinBytes=32M\nSizeMaxBytes=32M'),
      'defs/2.conf': P('Type=linux-generic\nSizeMinBytes=64M'),
      'defs/3.conf': P('Type=home\nSizeMinBytes=64M'),
      'defs/4.conf': P('Type=srv'),
    },
    args: [...create, '--size=auto'],
  },
  {
    name: 'weights and padding weights on a fixed size',
    files: {
      'defs/a.conf': P('Type=linux-generic\nWeight=100\nPaddingWeight=300'),
      'defs/b.conf': P('Type=linux-generic\nWeight=700'),
      'defs/c.conf': P('Type=home\nWeight=0\nPaddingWeight=0\nSizeMinBytes=12M'),
      'defs/d.conf': P('Type=var\nWeight=1000000'),
    },
    args: [...create, '--size=777M'],
  },
  {
    name: 'priorities drop partitions that do not fit',
    files: {
      'defs/a.conf': P('Type=root\nSizeMinBytes=40M'),
      'defs/b.conf': P('Type=home\nSizeMinBytes=40M\nPriority=10'),
      'defs/c.conf': P('Type=srv\nSizeMinBytes=30M\nPriority=5'),
      'defs/d.conf': P('Type=var\nSizeMinBytes=20M\nPriority=-3'),
    },
    args: [...create, '--size=100M'],
  },
  {
    name: 'layout that cannot fit (exit status)',
    files: { 'defs/a.conf': P('Type=root\nSizeMinBytes=200M'), 'defs/b.conf': P('Type=home\nSizeMinBytes=1G') },
    args: [...create, '--size=500M'],
    jsonOnly: true,
  },
  {
    name: 'size bounds not multiples of 4096 (rounding differs 257/262)',
    files: { 'defs/a.conf': P('Type=linux-generic\nSizeMinBytes=5000\nSizeMaxBytes=5000'), 'defs/b.conf': P('Type=linux-generic\nSizeMinBytes=10000\nSizeMaxBytes=20000') },
    args: [...create, '--size=64M'],
  },
  {
    name: 'padding min/max',
    files: {
      'defs/a.conf': P('Type=linux-generic\nPaddingMinBytes=3M\nPaddingMaxBytes=7M\nPaddingWeight=5000'),
      'defs/b.conf': P('Type=linux-generic\nSizeMaxBytes=40M\nPaddingMinBytes=1M'),
      'defs/c.conf': P('Type=linux-generic\nPaddingWeight=1000'),
    },
    args: [...create, '--size=300M'],
  },
  {
    name: '--architecture=arm64 rewrites root, usr and secondary types',
    files: {
      'defs/a.conf': P('Type=root'),
      'defs/b.conf': P('Type=root-secondary'),
      'defs/c.conf': P('Type=usr-verity\nSizeMaxBytes=16M'),
      'defs/d.conf': P('Type=root-x86'),
      'defs/e.conf': P('Type=home'),
    },
    args: [...create, '--size=400M', '--architecture=arm64'],
  },
  {
    name: '--architecture=riscv64 with 4096-byte sectors',
    files: { 'defs/a.conf': P('Type=root\nSizeMinBytes=50M'), 'defs/b.conf': P('Type=usr\nSizeMinBytes=50M') },
    args: [...create, '--size=auto', '--architecture=riscv64', '--sector-size=4096'],
  },
  {
    name: 'duplicate types get counted UUIDs and deduplicated labels',
    files: {
      'defs/1.conf': P('Type=linux-generic'),
      'defs/2.conf': P('Type=linux-generic'),
      'defs/3.conf': P('Type=linux-generic\nLabel=linux-generic-3'),
      'defs/4.conf': P('Type=linux-generic'),
      'defs/5.conf': P('Type=root'),
      'defs/6.conf': P('Type=root'),
    },
    args: [...create, '--size=200M'],
  },
  {
    name: 'explicit UUID=, UUID=null, unknown type UUID',
    files: {
      'defs/1.conf': P('Type=home\nUUID=11111111-2222-3333-4444-555555555555'),
      'defs/2.conf': P('Type=12345678-1234-1234-1234-123456789abc'),
      'defs/3.conf': P('Type=12345678123412341234123456789ABC\nLabel=upper'),
      'defs/4.conf': P('Type=srv\nUUID=null'),
    },
    args: [...create, '--size=100M'],
  },
  {
    name: 'Flags= with low bits (libfdisk drops all attributes) and high bits',
    files: {
      'defs/1.conf': P('Type=linux-generic\nFlags=1'),
      'defs/2.conf': P('Type=linux-generic\nFlags=0x8000000000000004'),
      'defs/3.conf': P('Type=linux-generic\nFlags=0x9000000000000000'),
      'defs/4.conf': P('Type=esp\nFlags=0b1'),
      'defs/5.conf': P('Type=root\nFlags=0o4'),
    },
    args: [...create, '--size=100M'],
  },
  {
    name: 'NoAuto/ReadOnly/GrowFileSystem across types',
    files: {
      'defs/1.conf': P('Type=root\nReadOnly=yes'),
      'defs/2.conf': P('Type=usr\nNoAuto=1\nGrowFileSystem=no'),
      'defs/3.conf': P('Type=tmp\nGrowFileSystem=no'),
      'defs/4.conf': P('Type=swap\nNoAuto=yes\nReadOnly=yes'),
      'defs/5.conf': P('Type=xbootldr\nNoAuto=true\nReadOnly=false'),
      'defs/6.conf': P('Type=root-verity\nReadOnly=no'),
      'defs/7.conf': P('Type=usr-verity-sig'),
      'defs/8.conf': P('Type=user-home\nNoAuto=yes'),
    },
    args: [...create, '--size=300M'],
  },
  {
    name: 'tiny image below 4 MiB (first usable LBA 34)',
    files: { 'defs/a.conf': P('Type=linux-generic\nSizeMinBytes=1M\nSizeMaxBytes=1M') },
    args: [...create, '--size=auto'],
  },
  {
    name: 'tiny image with 4096-byte sectors',
    files: { 'defs/a.conf': P('Type=linux-generic\nSizeMinBytes=1M\nSizeMaxBytes=1M'), 'defs/b.conf': P('Type=linux-generic\nSizeMinBytes=4K\nSizeMaxBytes=8K') },
    args: [...create, '--size=3M', '--sector-size=4096'],
  },
  {
    name: '--size not a multiple of 4096',
    files: { 'defs/a.conf': P('Type=root'), 'defs/b.conf': P('Type=home\nWeight=333') },
    args: [...create, '--size=100000001'],
  },
  {
    name: '--split=yes with SplitName= specifiers',
    files: {
      'defs/a.conf': P('Type=esp\nSizeMinBytes=12M\nSizeMaxBytes=12M\nSplitName=%t-%n.%T'),
      'defs/b.conf': P('Type=root\nSizeMinBytes=20M\nSizeMaxBytes=20M'),
      'defs/c.conf': P('Type=home\nSizeMinBytes=16M\nSizeMaxBytes=16M\nSplitName=-'),
      'defs/d.conf': P('Type=srv\nSizeMinBytes=16M\nSizeMaxBytes=16M\nSplitName=x-%U'),
    },
    args: [...create, '--size=auto', '--split=yes'],
  },
  {
    name: 'drop-ins override and extend',
    files: {
      'defs/10-root.conf': P('Type=root\nLabel=first\nSizeMinBytes=20M'),
      'defs/10-root.conf.d/50-label.conf': P('Label=second'),
      'defs/10-root.conf.d/40-size.conf': P('SizeMaxBytes=30M'),
      'defs/20-home.conf': P('Type=home'),
    },
    args: [...create, '--size=100M'],
  },
  {
    name: 'masked definitions, comments, continuation lines, unknown keys and sections',
    files: {
      'defs/01-a.conf': '# comment\n; other comment\n[Partition]\nType=\\\nroot\nLabel=with # not a comment\nUnknownKey=1\nX-Custom=2\n[Other]\nType=home\n',
      'defs/02-empty.conf': '',
      'defs/03-b.conf': '\ufeff[Partition]\n  Type = home  \nWeight=500\nWeight=2000\n',
    },
    args: [...create, '--size=100M'],
  },
  {
    name: 'many partitions (24)',
    files: Object.fromEntries(Array.from({ length: 24 }, (_, i) => [`defs/${String(i).padStart(2, '0')}.conf`,
      P(`Type=${['linux-generic', 'home', 'srv', 'var', 'tmp', 'swap'][i % 6]}\nSizeMinBytes=${4 + i}M\nWeight=${(i * 37) % 1000}`)])),
    args: [...create, '--size=2G'],
  },
  {
    name: 'many partitions, 4096-byte sectors',
    files: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`defs/${String(i).padStart(2, '0')}.conf`,
      P(`Type=linux-generic\nSizeMinBytes=${i + 1}M\nPaddingMinBytes=${i * 100}K`)])),
    args: [...create, '--size=auto', '--sector-size=4096'],
  },
  {
    name: 'CopyBlocks= copies a file raw',
    files: {
      'blob.bin': Array.from({ length: 5120 }, (_, i) => `line ${String(i).padStart(5, '0')} of the blob.\n`).join(''),
      'defs/a.conf': P('Type=linux-generic\nCopyBlocks=%CWD%/blob.bin'),
      'defs/b.conf': P('Type=home\nSizeMinBytes=10M'),
    },
    args: [...create, '--size=auto'],
  },
  {
    name: 'CopyBlocks= source not a multiple of 512 bytes is refused',
    files: { 'blob.bin': 'x'.repeat(1000), 'defs/a.conf': P('Type=linux-generic\nCopyBlocks=%CWD%/blob.bin') },
    args: [...create, '--size=auto'],
    jsonOnly: true,
  },
  {
    name: 'Verity=data (CopyBlocks=) + Verity=hash with SizeMinBytes=',
    files: {
      'blob.bin': Array.from({ length: 20480 }, (_, i) => `verity data line ${String(i).padStart(6, '0')}\n`).join(''),
      'defs/10-root.conf': P('Type=root\nCopyBlocks=%CWD%/blob.bin\nVerity=data\nVerityMatchKey=root'),
      'defs/20-root-verity.conf': P('Type=root-verity\nVerity=hash\nVerityMatchKey=root\nSizeMinBytes=64K'),
    },
    args: [...create, '--size=auto'],
  },
  {
    name: 'Verity=hash sized from the data partition SizeMaxBytes=, 512-byte sectors',
    files: {
      'blob.bin': Array.from({ length: 8192 }, (_, i) => `usr line ${String(i).padStart(6, '0')}....\n`).join(''),
      'defs/10-usr.conf': P('Type=usr\nCopyBlocks=%CWD%/blob.bin\nVerity=data\nVerityMatchKey=usr\nSizeMaxBytes=16M'),
      'defs/20-usr-verity.conf': P('Type=usr-verity\nVerity=hash\nVerityMatchKey=usr'),
      'defs/30-home.conf': P('Type=home'),
    },
    args: [...create, '--size=auto', '--sector-size=512'],
  },
  {
    name: 'Verity=hash with Minimize=best hashes the CopyBlocks= source',
    files: {
      'blob.bin': Array.from({ length: 4096 }, (_, i) => `minimize ${String(i).padStart(5, '0')}\n`).join('') + 'x'.repeat(2560),
      'defs/10-root.conf': P('Type=root\nCopyBlocks=%CWD%/blob.bin\nVerity=data\nVerityMatchKey=r'),
      'defs/20-root-verity.conf': P('Type=root-verity\nVerity=hash\nVerityMatchKey=r\nMinimize=best'),
    },
    args: [...create, '--size=auto'],
  },
  {
    name: 'Verity=hash without a data partition is refused',
    files: { 'defs/20-root-verity.conf': P('Type=root-verity\nVerity=hash\nVerityMatchKey=r\nSizeMinBytes=1M') },
    args: [...create, '--size=auto'],
    jsonOnly: true,
  },
  {
    name: '--include-partitions',
    files: { 'defs/a.conf': P('Type=root'), 'defs/b.conf': P('Type=home'), 'defs/c.conf': P('Type=srv') },
    args: [...create, '--size=100M', '--include-partitions=home,root'],
  },
  {
    name: '--exclude-partitions',
    files: { 'defs/a.conf': P('Type=root'), 'defs/b.conf': P('Type=home'), 'defs/c.conf': P('Type=srv') },
    args: [...create, '--size=100M', '--exclude-partitions=home'],
  },
  {
    name: '--defer-partitions keeps space but no entry',
    files: { 'defs/a.conf': P('Type=esp\nSizeMinBytes=20M\nSizeMaxBytes=20M'), 'defs/b.conf': P('Type=root') },
    args: [...create, '--size=100M', '--defer-partitions=esp'],
  },
  {
    name: 'labels: specifiers, empty, too long, unicode',
    files: {
      'defs/a.conf': P('Type=linux-generic\nLabel=%%x-100%'),
      'defs/b.conf': P('Type=linux-generic\nLabel='),
      'defs/c.conf': P('Type=linux-generic\nLabel=0123456789012345678901234567890123456789'),
      'defs/d.conf': P('Type=linux-generic\nLabel=Grüße-日本'),
    },
    args: [...create, '--size=100M'],
  },
  {
    name: 'type aliases (amd64, aarch64, i686)',
    files: {
      'defs/a.conf': P('Type=root-amd64'),
      'defs/b.conf': P('Type=usr-aarch64-verity\nSizeMaxBytes=20M'),
      'defs/c.conf': P('Type=root-i686'),
      'defs/d.conf': P('Type=root-x86_64'),
    },
    args: [...create, '--size=200M'],
  },
  {
    name: 'verity-sig types are 16 KiB',
    files: { 'defs/a.conf': P('Type=root-verity-sig'), 'defs/b.conf': P('Type=usr-verity-sig\nWeight=0'), 'defs/c.conf': P('Type=root') },
    args: [...create, '--size=auto'],
  },
  {
    name: 'unparsable size is fatal',
    files: { 'defs/a.conf': P('Type=root\nSizeMinBytes=12Q') },
    args: [...create, '--size=100M'],
    jsonOnly: true,
  },
  {
    name: 'unknown type is fatal',
    files: { 'defs/a.conf': P('Type=rooot') },
    args: [...create, '--size=100M'],
    jsonOnly: true,
  },
  {
    name: 'SizeMin larger than SizeMax is fatal',
    files: { 'defs/a.conf': P('Type=root\nSizeMinBytes=20M\nSizeMaxBytes=10M') },
    args: [...create, '--size=100M'],
    jsonOnly: true,
  },
  {
    name: 'SupplementFor=: an XBOOTLDR merged into the ESP (auto size)',
    files: {
      'defs/10-esp.conf': P('Type=esp\nSizeMinBytes=64M'),
      'defs/20-xbootldr.conf': P('Type=xbootldr\nSupplementFor=10-esp\nSizeMinBytes=200M\nWeight=500'),
      'defs/30-root.conf': P('Type=root\nSizeMinBytes=20M'),
    },
    args: [...create, '--size=auto'],
  },
  {
    name: 'SupplementFor= in a fixed size: the merged partition takes the supplement\'s weights and the tighter maximum',
    files: {
      'defs/10-esp.conf': P('Type=esp\nSizeMinBytes=64M\nPaddingMinBytes=1M'),
      'defs/20-xbootldr.conf': P('Type=xbootldr\nSupplementFor=10-esp\nSizeMaxBytes=400M\nWeight=3000\nPaddingWeight=100'),
      'defs/30-root.conf': P('Type=root\nSizeMinBytes=20M'),
    },
    args: [...create, '--size=1G'],
  },
  {
    name: 'SupplementFor= with sizes that cannot be merged is fatal',
    files: {
      'defs/10-esp.conf': P('Type=esp\nSizeMinBytes=64M\nSizeMaxBytes=64M'),
      'defs/20-xbootldr.conf': P('Type=xbootldr\nSupplementFor=10-esp\nSizeMinBytes=200M'),
    },
    args: [...create, '--size=1G'],
    jsonOnly: true,
  },
  {
    name: '--defer-partitions-empty / --defer-partitions-factory-reset (259+; 257 does not know them)',
    files: {
      'defs/10-root.conf': P('Type=root\nSizeMinBytes=20M'),
      'defs/20-empty.conf': P('Type=linux-generic\nFormat=empty\nSizeMinBytes=10M'),
      'defs/30-var.conf': P('Type=var\nFactoryReset=yes\nSizeMinBytes=12M'),
      'defs/40-home.conf': P('Type=home\nSizeMinBytes=8M'),
    },
    args: [...create, '--size=auto', '--defer-partitions-empty=yes', '--defer-partitions-factory-reset=yes'],
  },
  {
    name: 'Weight=0 everywhere leaves space unallocated',
    files: { 'defs/a.conf': P('Type=root\nWeight=0'), 'defs/b.conf': P('Type=home\nWeight=0\nSizeMinBytes=30M') },
    args: [...create, '--size=200M'],
  },
];
