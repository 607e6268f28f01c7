/**
 * The systemd-repart release repart-ts behaves like (--compat=257|262, default 262), as one record
 * of named differences. Code asks `compat.<flag>`, never compares version numbers; the record is
 * plain data, so it crosses to worker threads inside a format job.
 *
 * Each flag names the release that introduced the behaviour; with only 257 and 262 emulated, a
 * flag is "262 behaviour" unless it says otherwise.
 */
export type CompatVersion = 257 | 262;

export interface Compat {
  /** the emulated release, for --version and messages only: branch on the flags below */
  readonly version: number;
  // --- command line (258+/259+/261+)
  /** --grain-size= exists (261) */
  readonly grainSizeOption: boolean;
  /** --el-torito= and its identifier options exist (261) */
  readonly elToritoOption: boolean;
  /** --join-signature= and --append-fstab= exist (258) */
  readonly joinSignatureOption: boolean;
  readonly appendFstabOption: boolean;
  /** --defer-partitions-empty= / --defer-partitions-factory-reset= exist (259) */
  readonly deferEmptyOptions: boolean;
  // --- definitions
  /** Subvolumes= / DefaultSubvolume= are known keys (258) */
  readonly subvolumes: boolean;
  /** Verity=data partitions are read-only by default (257 and later: always true here) */
  readonly verityDataReadOnly: boolean;
  /** Verity=signature and verity-sig types are read-only by default (262) */
  readonly veritySigReadOnly: boolean;
  /** SizeMinBytes= rounds up and SizeMaxBytes= down to the grain (262); 257 the other way round */
  readonly sizeBoundsRoundInward: boolean;
  /** Format=empty is known (258) */
  readonly formatEmpty: boolean;
  /** CopyFiles= fsverity= option is known (258) */
  readonly copyFilesFsverity: boolean;
  /** CopyFiles= target paths get specifiers expanded (262) */
  readonly copyFilesTargetSpecifiers: boolean;
  /** Subvolumes= nodatacow flag is known (259) */
  readonly subvolumeNodatacow: boolean;
  /** ValidateFS-style xattrs (user.validatefs.*) are written into file systems (258) */
  readonly validatefs: boolean;
  // --- sizes and layout
  /** ESP/XBOOTLDR with a file system get the vfat minimum as partition minimum (258) */
  readonly espVfatMinimum: boolean;
  /** the verity-sig size applies by type (262) instead of by Verity=signature (257) */
  readonly veritySigSizeByType: boolean;
  /** --size=auto: 1 MiB rounded to the grain + 16 KiB + one sector of overhead (262) */
  readonly autoSizeByGrain: boolean;
  /** allocation: free-space walking and cursor alignment of 262's allocator */
  readonly allocator262: boolean;
  /** new partitions numbered above the last existing one of the same type (262) */
  readonly partnoAfterSameType: boolean;
  /** the listing is sorted by offset after allocation (262) */
  readonly listByOffset: boolean;
  /** --copy-from=: the last partition's padding is not copied, the others keep their exact gap (262) */
  readonly copyFromNoTrailingPadding: boolean;
  /** a new partition goes to the start of a free gap, after the existing partition that starts it (262) */
  readonly newPartitionAtGapStart: boolean;
  /** Format=erofs|squashfs without CopyFiles= makes an empty file system (262; 257 refuses) */
  readonly emptyReadOnlyFs: boolean;
  /** Minimize=: the file system is never smaller than the partition minimum (258); 257 only the fs minimum */
  readonly minimizeFloorIsPartitionMinimum: boolean;
  /** Minimize= on btrfs: mkfs.btrfs --shrink, self-sized like erofs (262) */
  readonly btrfsShrink: boolean;
  // --- contents
  /** SOURCE_DATE_EPOCH clamps file times in the trees (262) */
  readonly clampTimes: boolean;
  /** LUKS2 allow-discards flag when Discard= is not off (261) */
  readonly luksAllowDiscards: boolean;
  /** LUKS2 label from VolumeLabel= / the partition label (259); 257 the GPT label */
  readonly luksVolumeLabel: boolean;
  /** the mkfs tools of Debian sid (258+), else trixie's (257) */
  readonly toolsSuite: 'sid' | 'trixie';
  /** mkfs.ext4 -E hash_seed= and E2FSPROGS_FAKE_TIME (260) */
  readonly ext4HashSeed: boolean;
  /** mkfs.xfs -p <directory> (xfsprogs >= 6.17) instead of a protofile (260) */
  readonly xfsPopulateFromDirectory: boolean;
  /** mkfs.btrfs --subvol/--inode-flags (258) */
  readonly btrfsSubvolumes: boolean;
  /** mkfs.btrfs --compress needs a root directory (259) */
  readonly btrfsCompressNeedsTree: boolean;
  /** mkfs.btrfs subvolume flags syntax of 259 */
  readonly btrfsSubvolFlags259: boolean;
  // --- output
  /** mcopy skips symlinks to files (262's mtools); 257's copies them */
  readonly mtoolsSkipsSymlinks: boolean;
  /**
   * vfat directories get "now" (SOURCE_DATE_EPOCH when set): 262 makes each with `mmd` and copies
   * files one by one (`mcopy -p -Q -m`), 257 copies whole directories (`mcopy -s -m`: their own
   * times). Traced, 2026-12-04.
   */
  readonly vfatDirsMadeNow: boolean;
  /** fstab: vfat fmask/dmask instead of umask, and --append-fstab= merging (258) */
  readonly fstabFmask: boolean;
  readonly fstabAppend: boolean;
  /** fstab: every mount point on the root partition gets pass 1 (262); 257 only "/" */
  readonly fstabRootPartitionPass1: boolean;
  /** --generate-fstab=/--generate-crypttab= without lines are not written ("not generating", 258) */
  readonly generatedTabsSkipEmpty: boolean;
  /** table: a right-aligned PART column and right-aligned sizes and paddings (262); 257 PARTNO, left */
  readonly tableRightAligned: boolean;
  /** JSON: "drop-in_files" is null (262) instead of [] when a partition has none */
  readonly jsonNullDropIns: boolean;
}

export const DEFAULT_COMPAT: Compat = makeCompat(262);

export const COMPAT_VERSIONS: readonly CompatVersion[] = [257, 262];

const cache = new Map<number, Compat>();

/** The record for a release (any number: the flags say what changed when). */
export function compatFor(version: number): Compat {
  let c = cache.get(version);
  if (!c) cache.set(version, (c = makeCompat(version)));
  return c;
}

/** Public functions take a record or a release number (tests and callers from before the record). */
export function asCompat(c: Compat | number | undefined): Compat {
  return c === undefined ? DEFAULT_COMPAT : typeof c === 'number' ? compatFor(c) : c;
}

function makeCompat(version: number): Compat {
  const since = (v: number) => version >= v;
  return {
    version,
    grainSizeOption: since(262),
    elToritoOption: since(261),
    joinSignatureOption: since(258),
    appendFstabOption: since(258),
    deferEmptyOptions: since(259),
    subvolumes: since(258),
    verityDataReadOnly: since(257),
    veritySigReadOnly: since(262),
    sizeBoundsRoundInward: since(262),
    formatEmpty: since(258),
    copyFilesFsverity: since(258),
    copyFilesTargetSpecifiers: since(262),
    subvolumeNodatacow: since(259),
    validatefs: since(258),
    espVfatMinimum: since(258),
    veritySigSizeByType: since(262),
    autoSizeByGrain: since(262),
    allocator262: since(262),
    partnoAfterSameType: since(262),
    listByOffset: since(262),
    copyFromNoTrailingPadding: since(262),
    newPartitionAtGapStart: since(262),
    emptyReadOnlyFs: since(262),
    minimizeFloorIsPartitionMinimum: since(258),
    btrfsShrink: since(262),
    clampTimes: since(262),
    luksAllowDiscards: since(261),
    luksVolumeLabel: since(259),
    toolsSuite: since(258) ? 'sid' : 'trixie',
    ext4HashSeed: since(260),
    xfsPopulateFromDirectory: since(260),
    btrfsSubvolumes: since(258),
    btrfsCompressNeedsTree: since(259),
    btrfsSubvolFlags259: since(259),
    mtoolsSkipsSymlinks: since(262),
    vfatDirsMadeNow: since(262),
    fstabFmask: since(258),
    fstabAppend: since(258),
    jsonNullDropIns: since(262),
    fstabRootPartitionPass1: since(262),
    generatedTabsSkipEmpty: since(258),
    tableRightAligned: since(262),
  };
}


