#!/bin/sh
# Builds the appliance image (default: the ext4 variant, by repart-ts) and boots it under QEMU.
#   test-images/appliance/boot.sh [--variant=ext4|btrfs|store|ext4-minimize|verity] [--sector-size=512|4096]
#                                 [--builder=repart-ts|reference] [--work=DIR] [--quiet]
set -e
cd "$(dirname "$0")/../.."
[ -f dist/tools/boot/main.js ] || npx tsc -p .
exec node dist/tools/boot/main.js "$@"
