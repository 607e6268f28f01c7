#!/bin/sh
# /init of the boot-test initramfs (busybox sh). It proves the image is what a user needs: the
# kernel finds the partitions by their GPT labels, mounts them with its own file system drivers,
# and the files, modes, links and programs the definitions put there are all as expected.
# Ends with exactly one line "BOOTTEST-OK variant=..." or "BOOTTEST-FAIL: ..." and powers off.
export PATH=/bin:/usr/sbin
/bin/busybox mkdir -p /proc /sys /dev /sysroot /esp /tmp /run
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1

fail() {
  echo "BOOTTEST-FAIL: $*"
  dmesg | tail -n 30
  poweroff -f
  sleep 30
}
step() { echo "boottest: $*"; }

# Parameters come from the boot loader entry: boottest.KEY=VALUE → BT_KEY.
for a in $(cat /proc/cmdline); do
  case "$a" in
    boottest.*=*)
      k=${a%%=*}; k=${k#boottest.}; v=${a#*=}
      case "$k" in *[!a-z0-9_]*) fail "bad parameter $a" ;; esac
      eval "BT_$k=\$v" ;;
  esac
done
[ -n "$BT_variant" ] || fail "no boottest.variant= on the kernel command line"
step "variant $BT_variant, kernel $(uname -r)"

while read -r m; do
  case "$m" in
    '') ;;
    -*) insmod "/lib/modules/$(uname -r)/${m#-}" 2>/dev/null || step "optional module ${m#-} not loaded" ;;
    *) insmod "/lib/modules/$(uname -r)/$m" || fail "insmod $m" ;;
  esac
done </etc/boottest/modules

# The device of the partition whose GPT partition name is $1 (udev's PARTNAME= in sysfs).
find_part() {
  i=0
  while [ $i -lt 200 ]; do
    for u in /sys/class/block/*/uevent; do
      if grep -qx "PARTNAME=$1" "$u"; then
        echo "/dev/$(sed -n 's/^DEVNAME=//p' "$u")"
        return 0
      fi
    done
    sleep 0.1
    i=$((i + 1))
  done
  return 1
}

# A partition's GPT type UUID, read from the disk (sysfs does not expose it): entry N of the
# array the primary header points to.
part_type() {
  dev=$1
  part=$(cat "/sys/class/block/${dev#/dev/}/partition")
  disk=$(basename "$(readlink -f "/sys/class/block/${dev#/dev/}/..")")
  ss=$(cat "/sys/class/block/$disk/queue/logical_block_size")
  lba=$(dd if="/dev/$disk" bs=1 skip=$((ss + 72)) count=8 2>/dev/null | od -An -tu8 | tr -d ' ')
  esz=$(dd if="/dev/$disk" bs=1 skip=$((ss + 84)) count=4 2>/dev/null | od -An -tu4 | tr -d ' ')
  g=$(dd if="/dev/$disk" bs=1 skip=$((lba * ss + (part - 1) * esz)) count=16 2>/dev/null | od -An -tx1 | tr -d ' \n')
  # GUIDs store their first three fields little-endian.
  b() { echo "$g" | cut -c"$1"-"$2"; }
  echo "$(b 7 8)$(b 5 6)$(b 3 4)$(b 1 2)-$(b 11 12)$(b 9 10)-$(b 15 16)$(b 13 14)-$(b 17 20)-$(b 21 32)"
}

mount_part() { # label fstype flags mountpoint
  dev=$(find_part "$1") || fail "no partition labelled $1 (block devices: $(ls /sys/class/block | tr '\n' ' '))"
  mount -t "$2" ${3:+-o "$3"} "$dev" "$4" || fail "mount -t $2 ${3:+-o $3 }$dev $4"
  step "mounted $dev ($1, $2${3:+, $3}) on $4"
}

expect() { # what actual wanted
  [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# Root partition: found by label, and its type must be the x86-64 root type.
rootdev=$(find_part "$BT_root") || fail "no partition labelled $BT_root"
expect "type of the root partition $rootdev" "$(part_type "$rootdev")" 4f68bce3-e8cd-4db1-96e7-fbcaf984b709
mount_part "$BT_root" "$BT_rootfstype" "$BT_rootflags" /sysroot

# The first error dm-verity logged (a block that does not match its hash: "data block N is corrupted").
verity_error() { dmesg | grep -m1 -E 'device-mapper: verity: .*(corrupt|error|fail)'; }

# nixpkgs' verityStore: the store partition (usr type) is read only through dm-verity, with the
# hash tree in the usr-verity partition and the root hash from the kernel command line
# (systemd's usrhash=, here boottest.usrhash=). The mapping is made as veritysetup would make it,
# from the geometry in the hash partition's superblock.
verity_store() {
  datadev=$(find_part "$BT_store") || fail "no partition labelled $BT_store"
  hashdev=$(find_part "$BT_storeverity") || fail "no partition labelled $BT_storeverity"
  expect "type of the store partition $datadev" "$(part_type "$datadev")" 8484680c-9521-48c6-9c11-b0720656f69e
  expect "type of the store hash partition $hashdev" "$(part_type "$hashdev")" 77ff5f63-e7b6-4633-acf4-1565b864c0e6
  sb() { dd if="$hashdev" bs=1 skip="$1" count="$2" 2>/dev/null | od -An -t"$3" | tr -d ' \n'; }
  expect "verity superblock magic on $hashdev" "$(sb 0 8 x1)" 7665726974790000
  expect "verity superblock version" "$(sb 8 4 u4)" 1
  expect "verity hash type" "$(sb 12 4 u4)" 1
  expect "verity hash algorithm" "$(sb 32 32 x1)" 7368613235360000000000000000000000000000000000000000000000000000
  dbs=$(sb 64 4 u4); hbs=$(sb 68 4 u4); blocks=$(sb 72 8 u8); saltsize=$(sb 80 2 u2)
  salt=-
  [ "$saltsize" -eq 0 ] || salt=$(sb 88 "$saltsize" x1)
  # Hash start block 1: the superblock fills block 0 of the hash partition.
  table="0 $((blocks * dbs / 512)) verity 1 $datadev $hashdev $dbs $hbs $blocks 1 sha256 $BT_usrhash $salt"
  step "dm-verity table: $table"
  dmsetup create --noudevsync --noudevrules --readonly usr --table "$table" || fail "dmsetup create usr ($(verity_error))"
  dmsetup mknodes usr || fail "dmsetup mknodes usr"
  [ -b /dev/mapper/usr ] || fail "/dev/mapper/usr is not a block device"
  mount -t "$BT_storefstype" -o ro /dev/mapper/usr /sysroot/nix/store || fail "mount -t $BT_storefstype /dev/mapper/usr ($(verity_error))"
  grep -q "^/dev/mapper/usr /sysroot/nix/store $BT_storefstype ro[ ,]" /proc/mounts || fail "store mount: $(grep nix/store /proc/mounts)"
  step "mounted /dev/mapper/usr (dm-verity of $datadev, hashes on $hashdev, $BT_storefstype) on /sysroot/nix/store"
}

if [ -n "$BT_usrhash" ]; then
  [ -d /sysroot/nix/store ] || fail "/nix/store is missing in the root file system"
  verity_store
elif [ -n "$BT_store" ]; then
  [ -d /sysroot/nix/store ] || fail "/nix/store is missing in the root file system"
  mount_part "$BT_store" "$BT_storefstype" "$BT_storeflags" /sysroot/nix/store
fi
if [ "$BT_rootfstype" = btrfs ]; then
  # The root of a subvolume is inode 256: proves subvol= selected a subvolume, not a directory.
  expect "inode of the root subvolume" "$(stat -c %i /sysroot)" 256
  [ -z "$BT_store" ] || expect "inode of the store subvolume" "$(stat -c %i /sysroot/nix/store)" 256
fi

cd /sysroot || fail "cd /sysroot"
if ! sha256sum -c -s /etc/boottest/root.sha256; then
  sha256sum -c /etc/boottest/root.sha256
  v=$(verity_error) && fail "dm-verity refused a read of the store: $v"
  fail "root file contents differ"
fi
expect "mode of /bin/busybox" "$(stat -c %a bin/busybox)" 755
expect "mode of /etc/boottest/private" "$(stat -c %a etc/boottest/private)" 600
expect "owner of /bin/busybox" "$(stat -c %u:%g bin/busybox)" 0:0
expect "symlink /bin/sh" "$(readlink bin/sh)" busybox
expect "symlink /etc/boottest/marker-link" "$(readlink etc/boottest/marker-link)" ../../usr/share/boottest/hardlink-a
if [ -n "$BT_usrhash" ]; then
  # repart keeps the mount points of the other partitions' types (usr → /usr) out of the root's
  # CopyFiles=: with a usr partition in the image, the root's /usr is an empty directory.
  expect "contents of /usr in the root file system (the usr partition's mount point)" "$(ls -A usr)" ""
else
  expect "hard links share an inode" "$(stat -c %i usr/share/boottest/hardlink-a)" "$(stat -c %i usr/share/boottest/hardlink-b)"
  expect "link count of the hard link" "$(stat -c %h usr/share/boottest/hardlink-a)" 2
fi
expect "program in the root file system" "$(chroot /sysroot /bin/sh -c 'echo userland-ok')" userland-ok
expect "program in the Nix store" "$(chroot /sysroot "$(cat /etc/boottest/store-program)")" store-ok
expect "mode of the store program" "$(stat -c %a "/sysroot$(cat /etc/boottest/store-program)")" 555
# Write through the kernel's driver: a bad allocation bitmap or tree shows up here, not in fsck.
echo written-at-boot >var/boottest-written || fail "cannot write to the root file system"
sync
expect "file written at boot" "$(cat var/boottest-written)" written-at-boot
cd /

# The encrypted home (Encrypt=key-file): a LUKS2 container on the partition labelled
# $BT_home, opened by the real cryptsetup with the key the image was built with, and the ext4
# inside mounted read-write on /home.
crypt_error() { dmesg | grep -m1 -E 'device-mapper: (crypt|table|ioctl): .*(error|fail|Error|Fail)'; }
home() {
  homedev=$(find_part "$BT_home") || fail "no partition labelled $BT_home"
  expect "type of the home partition $homedev" "$(part_type "$homedev")" 933ac7e1-2eb4-4f13-b844-0e14e2aef915
  expect "LUKS2 magic and version on $homedev" "$(dd if="$homedev" bs=8 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')" 4c554b53babe0002
  [ -z "$(ls -A /sysroot/home)" ] || fail "/home in the root file system is not empty: $(ls -A /sysroot/home)"
  # No udev here: libdevmapper makes the /dev/mapper node itself; no lock directory needed.
  export DM_DISABLE_UDEV=1
  t0=$(cut -d' ' -f1 /proc/uptime)
  out=$(cryptsetup open --type luks2 --key-file /etc/boottest/home.key --disable-locks --disable-external-tokens "$homedev" home 2>&1) ||
    fail "cryptsetup could not unlock $homedev with /etc/boottest/home.key: $out $(crypt_error)"
  t1=$(cut -d' ' -f1 /proc/uptime)
  [ -b /dev/mapper/home ] || dmsetup mknodes home 2>/dev/null
  [ -b /dev/mapper/home ] || fail "/dev/mapper/home is not a block device after cryptsetup open"
  step "unlocked $homedev in $(awk "BEGIN { print $t1 - $t0 }") s: $(cryptsetup status home | sed -n 's/^ *\(type\|cipher\|keysize\|sector size\|size\): *//p' | tr '\n' ' ')"
  step "keyslot: $(cryptsetup luksDump "$homedev" | sed -n '/^Keyslots:/,/^Tokens:/s/^[[:space:]]*\(PBKDF\|Memory\|Time cost\|Iterations\):[[:space:]]*/\1 /p' | tr '\n' ' ')"
  mount -t ext4 -o rw /dev/mapper/home /sysroot/home || fail "mount -t ext4 /dev/mapper/home /sysroot/home (wrong key or broken container?) $(dmesg | grep -m1 -E 'EXT4-fs.*(error|VFS|bad)')"
  grep -q "^/dev/mapper/home /sysroot/home ext4 rw[ ,]" /proc/mounts || fail "home mount: $(grep /home /proc/mounts)"
  # repart formats the file system at the partition size minus 32 MiB (LUKS2 header area and
  # the room of its in-place encryption's data shift); the decrypted device is 16 MiB larger.
  sbv() { dd if=/dev/mapper/home bs=1 skip=$((1024 + $1)) count=4 2>/dev/null | od -An -tu4 | tr -d ' '; }
  fsbytes=$(($(sbv 4) * (1024 << $(sbv 24))))
  partbytes=$(blockdev --getsize64 "$homedev")
  expect "size of the ext4 in the encrypted home (partition $partbytes bytes)" "$fsbytes" $((partbytes - 32 * 1048576))
  step "mounted /dev/mapper/home (LUKS2 on $homedev, ext4 of $((fsbytes / 1048576)) MiB, mapping $(($(blockdev --getsize64 /dev/mapper/home) / 1048576)) MiB, partition $((partbytes / 1048576)) MiB) on /sysroot/home"
  cd /sysroot/home || fail "cd /sysroot/home"
  sha256sum -c -s /etc/boottest/home.sha256 || { sha256sum -c /etc/boottest/home.sha256; fail "home file contents differ"; }
  owner=$(cat /etc/boottest/home-owner)
  for f in user user/.ssh user/.ssh/authorized_keys user/bin/hello-home user/marker; do
    expect "owner of /home/$f" "$(stat -c %u:%g "$f")" "$owner"
  done
  expect "mode of /home/user/.ssh" "$(stat -c %a user/.ssh)" 700
  expect "mode of /home/user/.ssh/authorized_keys" "$(stat -c %a user/.ssh/authorized_keys)" 600
  expect "mode of /home/user/bin/hello-home" "$(stat -c %a user/bin/hello-home)" 755
  expect "program in the encrypted home" "$(chroot /sysroot /home/user/bin/hello-home)" home-ok
  # Written through dm-crypt and ext4, then read back past the page cache.
  dd if=/dev/urandom of=/tmp/home-written bs=64k count=16 2>/dev/null
  cp /tmp/home-written user/written-at-boot || fail "cannot write to the encrypted home"
  sync
  echo 3 >/proc/sys/vm/drop_caches
  expect "file written to the encrypted home" "$(sha256sum <user/written-at-boot)" "$(sha256sum </tmp/home-written)"
  cd /
  umount /sysroot/home || fail "umount /sysroot/home"
  cryptsetup close home || fail "cryptsetup close home"
}
[ -z "$BT_home" ] || home

if [ -n "$BT_usrhash" ]; then
  # Every block of the store partition, not only those the files use, must match the root hash.
  dd if=/dev/mapper/usr of=/dev/null bs=64k 2>/dev/null || fail "dm-verity refused a read of the store device: $(verity_error)"
  step "all $(($(blockdev --getsize64 /dev/mapper/usr) / 1024)) KiB of the store verified against usrhash $BT_usrhash"
fi

mount_part "$BT_esp" vfat ro /esp
cd /esp || fail "cd /esp"
sha256sum -c -s /etc/boottest/esp.sha256 || { sha256sum -c /etc/boottest/esp.sha256; fail "ESP file contents differ"; }
[ -f /esp/loader/entries/appliance.conf ] || fail "loader entry missing on the ESP"
cd /

umount /esp /sysroot/nix/store 2>/dev/null
[ -z "$BT_usrhash" ] || dmsetup remove --noudevsync usr || fail "dmsetup remove usr"
umount /sysroot || fail "umount /sysroot"
if dmesg | grep -E 'EXT4-fs error|device-mapper: crypt: .*(error|fail)|BTRFS error|BTRFS critical|FAT-fs \(.*\): (error|Invalid|corrupted)|Buffer I/O error|device-mapper: verity: .*(corrupt|error|fail)|erofs: .*err'; then
  fail "the kernel reported file system errors"
fi
echo "BOOTTEST-OK variant=$BT_variant"
poweroff -f
sleep 30
