#!/usr/bin/env bash
# Developer tool (never run by CI, npm ci or npm test): rebuild the committed WebAssembly
# builds of mke2fs and mkfs.btrfs from Debian source packages with Debian's emscripten.
# One set per Debian suite, matching the tools that suite's systemd-repart runs:
#   SUITE=trixie (default): wasm/      e2fsprogs 1.47.2-3, btrfs-progs 6.14-1 (--compat=257)
#   SUITE=sid:              wasm/sid/  e2fsprogs 1.47.4-1 (--compat >= 258; 262 is the default)
# Slow (~4-8 minutes for trixie, ~2 for sid, on 2 cores; most of it autoconf probing emcc).
#
#   sudo [SUITE=sid] tools/build-wasm.sh          # everything: setup, fetch, build, install
#   sudo [SUITE=sid] tools/build-wasm.sh STEP...  # setup | fetch | e2fsprogs | zlib | complibs | btrfs | install
#
# Steps:
#   setup      apt-get install emscripten + autotools (bookworm packages), and add a deb-src
#              entry for $SUITE on the mirror this machine already uses (a new file; deb-src
#              only, so no $SUITE binaries can be installed by accident).
#   fetch      apt-get source --download-only of the pinned versions below, check every file's
#              SHA-256 against the .dsc, unpack, apply Debian's own patch series, then ours
#              ($DEST/patches/*.patch, each explains itself in its header).
#   e2fsprogs  configure + build libext2fs etc., link mke2fs.
#   zlib       compile zlib for mkfs.btrfs --compress=zlib.
#   complibs   compile libzstd and liblzo2 for mkfs.btrfs --compress=zstd|lzo.
#   btrfs      configure + build btrfs-progs, link mkfs.btrfs.
#   install    copy the .cjs/.wasm, license texts, SOURCES and SHA256SUMS into $DEST.
#              After `fetch e2fsprogs install` (mke2fs only), the committed mkfs.btrfs is kept.
# A suite without BTRFS_VER (sid, for now: see below) builds and installs mke2fs only.
#
# Reproducibility: the build directory ($W) is fixed and source paths are mapped away with
# -ffile-prefix-map, SOURCE_DATE_EPOCH is pinned, and the link inputs come in a fixed order,
# so a rebuild with the same emscripten package gives the same bytes (checked: see wasm/README.md).
set -euo pipefail
shopt -s nullglob     # a suite may have no patches of ours for a tool

REPO=$(cd "$(dirname "$0")/.." && pwd)
SUITE=${SUITE:-trixie}
# One set per Debian suite, each matching what that suite's systemd-repart runs:
# trixie (systemd 257, --compat=257) in wasm/, sid (systemd 262, the default) in wasm/sid/.
case $SUITE in
  trixie)
    E2FS_VER=1.47.2-3
    BTRFS_VER=6.14-1
    ZLIB_VER=1:1.3.dfsg+really1.3.1-1   # trixie release; the mirror lacks +deb13u1 (a minizip fix, not used here)
    ZSTD_VER=1.5.7+dfsg-1               # trixie's libzstd1 (mkfs.btrfs --compress zstd)
    LZO_VER=2.10-3                      # trixie's liblzo2-2 (mkfs.btrfs --compress lzo)
    W=${WASM_BUILD_DIR:-/var/tmp/repart-ts-wasm-build}
    DEST=wasm ;;
  sid)
    E2FS_VER=1.47.4-1                    # sid's binary is 1.47.4-1+b2: a binNMU, same source
    # sid has btrfs-progs 7.3-1 (zlib 1:1.3.dfsg+really1.3.2-4), but the mirror answers 404 for
    # its .dsc and tarballs, so the sid set has no mkfs.btrfs yet: the trixie one serves all
    # --compat modes. Once the sources are there: BTRFS_VER=7.3-1 ZLIB_VER=1:1.3.dfsg+really1.3.2-4
    # (the zlib sid's mkfs.btrfs links; --compress zlib output follows it) and port the patches.
    BTRFS_VER=${BTRFS_VER:-}
    ZLIB_VER=${ZLIB_VER:-}
    ZSTD_VER=${ZSTD_VER:-1.5.7+dfsg-4}
    LZO_VER=${LZO_VER:-2.10-3}
    W=${WASM_BUILD_DIR:-/var/tmp/repart-ts-wasm-build-sid}
    DEST=wasm/sid ;;
  *) echo "SUITE must be trixie or sid" >&2; exit 2 ;;
esac
JOBS=${JOBS:-$(nproc)}
export SOURCE_DATE_EPOCH=1735689600          # fixed: nothing in the build may depend on "now"
export NODE_PATH=/usr/share/nodejs           # Debian's node-acorn; nodesource node does not look there
export LC_ALL=C TZ=UTC
unset EM_CACHE                               # Debian ships a frozen, prebuilt sysroot cache
# Debian's emcc runs `python3` from PATH: Debian's own, not a version manager's shim (a pyenv
# shim first in PATH costs seconds per emcc call on a loaded machine; configure makes hundreds).
export PATH=/usr/bin:/bin:$PATH

WITH_BTRFS=$([ -n "$BTRFS_VER" ] && echo yes || echo no)
E2FS_UP=${E2FS_VER%-*}; BTRFS_UP=${BTRFS_VER%-*}
ZLIB_UP=${ZLIB_VER#*:}; ZLIB_UP=${ZLIB_UP%-*}
E2SRC=$W/e2fsprogs-$E2FS_UP
BTSRC=$W/btrfs-progs-v$BTRFS_UP
ZSRC=$W/zlib
DEPS=$W/deps
OUT=$W/out
PATCHES=$REPO/$DEST/patches              # ours, per suite (context drifts between versions)
GLUE=$REPO/wasm/glue
SHIM=$REPO/wasm/shim
log() { printf '\n== %s\n' "$*" >&2; }
. "$REPO/tools/lib/deb-src.sh"

step_setup() {
  log "setup: packages and deb-src for $SUITE"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    emscripten autoconf automake pkgconf patch bc python3 xz-utils linux-libc-dev >/dev/null
  add_deb_src "$SUITE"
}

# Check every file the .dsc lists that we have against its SHA-256 (apt already checked the
# .dsc against the signed Sources index). Missing files are reported, not fatal: the mirror
# has been seen to 404 on signatures and debian tarballs we can do without.
verify_dsc() {
  python3 - "$@" <<'P'
import hashlib, os, re, sys
for dsc in sys.argv[1:]:
    t = open(dsc).read().split("Checksums-Sha256:")[1]
    t = re.split(r"\n(?=\S)", t, 1)[0]
    for sha, size, name in re.findall(r"^ ([0-9a-f]{64}) (\d+) (\S+)$", t, re.M):
        if not os.path.exists(name):
            print("missing (not needed)" if name.endswith(".asc") else "MISSING", name); continue
        h = hashlib.sha256(open(name, "rb").read()).hexdigest()
        if h != sha: sys.exit(f"checksum mismatch: {name}")
        print("ok", name)
P
}

step_fetch() {
  log "fetch: e2fsprogs=$E2FS_VER btrfs-progs=${BTRFS_VER:-none} zlib=${ZLIB_VER:-none}"
  mkdir -p "$W/src"; cd "$W/src"
  local pkgs=("e2fsprogs=$E2FS_VER") dscs=("e2fsprogs_$E2FS_VER.dsc")
  if [ "$WITH_BTRFS" = yes ]; then
    pkgs+=("btrfs-progs=$BTRFS_VER" "zlib=$ZLIB_VER" "libzstd=$ZSTD_VER" "lzo2=$LZO_VER")
    dscs+=("btrfs-progs_$BTRFS_VER.dsc" "zlib_${ZLIB_VER#*:}.dsc" "libzstd_$ZSTD_VER.dsc" "lzo2_$LZO_VER.dsc")
  fi
  # `apt-get source pkg/$SUITE` resolves through the installed binary's version and fails;
  # exact versions work. || true: keep what arrived when the mirror lacks an optional file.
  apt-get source --download-only "${pkgs[@]}" >/dev/null 2>&1 || true
  local d; for d in "${dscs[@]}"; do [ -f "$d" ] || { echo "$d: not on the mirror" >&2; exit 1; }; done
  verify_dsc "${dscs[@]}"
  rm -rf "$E2SRC"
  tar -C "$W" -xzf "e2fsprogs_$E2FS_UP.orig.tar.gz"
  tar -C "$E2SRC" -xJf "e2fsprogs_$E2FS_VER.debian.tar.xz"
  if [ -f "$E2SRC/debian/patches/series" ]; then   # 1.47.4-1 has none: plain upstream
    ( cd "$E2SRC" && while read -r p; do case $p in ''|'#'*) continue;; esac
        patch -p1 -s < "debian/patches/$p"; done < debian/patches/series )
  fi
  for p in "$PATCHES"/e2fsprogs-*.patch; do (cd "$E2SRC" && patch -p1 -s < "$p"); done
  [ "$WITH_BTRFS" = yes ] || return 0
  rm -rf "$BTSRC" "$ZSRC"
  mkdir -p "$BTSRC"; tar -C "$BTSRC" --strip-components=1 -xf btrfs-progs_$BTRFS_UP.orig.tar.*
  if [ -f "btrfs-progs_$BTRFS_VER.debian.tar.xz" ]; then
    tar -C "$BTSRC" -xJf "btrfs-progs_$BTRFS_VER.debian.tar.xz"
    if [ -f "$BTSRC/debian/patches/series" ]; then
      ( cd "$BTSRC" && while read -r p; do case $p in ''|'#'*) continue;; esac
          patch -p1 -s < "debian/patches/$p"; done < debian/patches/series )
    fi
  else
    echo "note: btrfs-progs_$BTRFS_VER.debian.tar.xz unavailable; building the orig tarball as is" >&2
  fi
  mkdir -p "$ZSRC"; tar -C "$ZSRC" --strip-components=1 -xf zlib_$ZLIB_UP.orig.tar.*
  # zstd and lzo as Debian ships them (their patch series applied) for --compress zstd/lzo.
  local lib
  for lib in "libzstd $ZSTD_VER $W/zstd" "lzo2 $LZO_VER $W/lzo2"; do
    set -- $lib; rm -rf "$3"; mkdir -p "$3"
    tar -C "$3" --strip-components=1 -xf "$(ls "$1_${2%-*}.orig.tar."* | grep -v '\.asc$')"
    tar -C "$3" -xJf "$1_$2.debian.tar.xz"
    if [ -f "$3/debian/patches/series" ]; then
      ( cd "$3" && while read -r p _; do case $p in ''|'#'*) continue;; esac
          patch -p1 -s < "debian/patches/$p"; done < debian/patches/series )
    fi
  done
  for p in "$PATCHES"/btrfs-progs-*.patch; do (cd "$BTSRC" && patch -p1 -s < "$p"); done
}

CFLAGS_COMMON=""
cflags() { CFLAGS_COMMON="-O2 -ffile-prefix-map=$W/=/build/ -fdebug-prefix-map=$W/=/build/"; }

# Link flags shared by both tools. MODULARIZE: each run gets a fresh instance (fresh C globals,
# fresh FS state) from one compiled WebAssembly.Module; the JS host (src/fs/wasm) drives it
# through FS and callMain. NODEJS_CATCH_*=0: no process-wide handlers per instance.
link_flags() {
  local name=$1
  LINK=(-O2 -sNODERAWFS=1 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=2147483648 -sEXIT_RUNTIME=1
    -sMODULARIZE=1 -sEXPORT_NAME="$name" -sINVOKE_RUN=0 -sENVIRONMENT=node
    -sNODEJS_CATCH_EXIT=0 -sNODEJS_CATCH_REJECTION=0
    "-sEXPORTED_RUNTIME_METHODS=[\"FS\",\"callMain\"]"
    --pre-js "$GLUE/pre.js" --post-js "$GLUE/post.js" --js-library "$GLUE/lib64.js" --js-library "$GLUE/xattr.js")
}

# Linux UAPI headers (emscripten's sysroot has none): the host's linux/ + asm-generic, with
# asm/X.h -> asm-generic/X.h. Added with -idirafter so libc's own headers win.
kheaders() {
  rm -rf "$DEPS/kheaders"; mkdir -p "$DEPS/kheaders/asm"
  cp -r /usr/include/linux /usr/include/asm-generic "$DEPS/kheaders/"
  local f
  for f in /usr/include/asm-generic/*.h; do echo "#include <asm-generic/$(basename "$f")>" > "$DEPS/kheaders/asm/$(basename "$f")"; done
  echo '#include <linux/byteorder/little_endian.h>' > "$DEPS/kheaders/asm/byteorder.h"
}

step_e2fsprogs() {
  log "e2fsprogs: configure + build (configure alone takes minutes: every probe links with emcc)"
  cflags
  local B=$E2SRC/build-wasm
  mkdir -p "$B" "$W/obj" "$OUT" "$DEPS"; cd "$B"
  kheaders
  # linux/falloc.h (kernel headers) + fallocate (wasm/shim/fallocate.c): mke2fs discards and
  # zeroes through fallocate() as it does natively, instead of writing zeros. llistxattr
  # (wasm/shim/xattr.c, linked below): mke2fs -d copies xattrs only when configure finds it.
  local CONF=(--host=wasm32-unknown-emscripten BUILD_CC=gcc
      CFLAGS="$CFLAGS_COMMON -idirafter $DEPS/kheaders" ac_cv_func_fallocate=yes ac_cv_func_llistxattr=yes
      --disable-nls --disable-fuse2fs --enable-libuuid --enable-libblkid --disable-uuidd \
      --disable-tls --without-pthread --disable-debugfs --disable-imager --disable-resizer \
      --disable-defrag --disable-e2initrd-helper --disable-backtrace --disable-mmp --disable-tdb \
      --disable-bmap-stats --disable-rpath --disable-elf-shlibs --without-libarchive)
  if [ ! -f config.status ] || [ "$(cat configure.args 2>/dev/null)" != "${CONF[*]}" ]; then
    rm -f configure.args
    emconfigure ../configure "${CONF[@]}" > configure.log 2>&1 || { tail -30 configure.log; exit 1; }
    echo "${CONF[*]}" > configure.args
  fi
  make -j"$JOBS" libs > make-libs.log 2>&1 || { tail -30 make-libs.log; exit 1; }
  make -C misc mke2fs > make-mke2fs.log 2>&1 || true   # objects; its own (non-modular) link is unused
  emcc $CFLAGS_COMMON -c "$SHIM/ioctl_shim.c" -o "$W/obj/ioctl_shim.o"
  emcc $CFLAGS_COMMON -c "$SHIM/fallocate.c" -o "$W/obj/fallocate.o"
  emcc $CFLAGS_COMMON -c "$SHIM/xattr.c" -o "$W/obj/xattr.o"
  # pagesize.o (--wrap=sysconf): a 4 KiB page as on Linux, else mke2fs rounds the device's
  # block count down to wasm's 64 KiB pages (wasm/shim/pagesize.c).
  emcc $CFLAGS_COMMON -c "$SHIM/pagesize.c" -o "$W/obj/pagesize.o"
  # memcpy.o (--wrap=memcpy): large copies as memory.copy, not calls out to JavaScript
  # (wasm/shim/memcpy.c); -mbulk-memory at the link lets the module use the instruction.
  emcc $CFLAGS_COMMON -mbulk-memory -c "$SHIM/memcpy.c" -o "$W/obj/memcpy.o"
  link_flags createMke2fs
  cd misc
  emcc -o "$OUT/mke2fs.js" mke2fs.o util.o default_profile.o mk_hugefiles.o create_inode.o \
    create_inode_libarchive.o \
    ../lib/libext2fs.a ../lib/libcom_err.a ../lib/libsupport.a ../lib/libblkid.a ../lib/libuuid.a \
    ../lib/libext2fs.a ../lib/libe2p.a "$W/obj/ioctl_shim.o" "$W/obj/fallocate.o" "$W/obj/xattr.o" "$W/obj/pagesize.o" \
    "$W/obj/memcpy.o" -Wl,--wrap=ioctl -Wl,--wrap=sysconf -Wl,--wrap=memcpy -mbulk-memory "${LINK[@]}"
  ls -l "$OUT"/mke2fs.*
}

step_zlib() {
  log "zlib"
  cflags; mkdir -p "$W/obj/zlib" "$DEPS/lib" "$DEPS/include"
  local f objs=()
  for f in adler32 compress crc32 deflate gzclose gzlib gzread gzwrite infback inffast inflate \
           inftrees trees uncompr zutil; do
    emcc $CFLAGS_COMMON -DHAVE_UNISTD_H -c "$ZSRC/$f.c" -o "$W/obj/zlib/$f.o"; objs+=("$W/obj/zlib/$f.o")
  done
  rm -f "$DEPS/lib/libz.a"; emar rcs "$DEPS/lib/libz.a" "${objs[@]}"
  cp "$ZSRC/zlib.h" "$ZSRC/zconf.h" "$DEPS/include/"
}

# libzstd and liblzo2, static, for mkfs.btrfs --compress zstd|lzo (as tools/build-rofs-wasm.sh
# builds them for mkfs.erofs/mksquashfs).
step_complibs() {
  log "complibs: libzstd, liblzo2"
  cflags; mkdir -p "$W/obj/zstd" "$DEPS/lib/pkgconfig" "$DEPS/include"
  local f o objs=()
  for f in "$W"/zstd/lib/common/*.c "$W"/zstd/lib/compress/*.c "$W"/zstd/lib/decompress/*.c; do
    o=$W/obj/zstd/$(basename "$(dirname "$f")")-$(basename "$f" .c).o
    emcc $CFLAGS_COMMON -DZSTD_DISABLE_ASM -DZSTD_LEGACY_SUPPORT=0 -DXXH_NAMESPACE=ZSTD_ -I"$W/zstd/lib" \
      -I"$W/zstd/lib/common" -c "$f" -o "$o" &
    objs+=("$o")
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  done
  wait
  rm -f "$DEPS/lib/libzstd.a"; emar rcs "$DEPS/lib/libzstd.a" "${objs[@]}"
  cp "$W/zstd/lib/zstd.h" "$W/zstd/lib/zstd_errors.h" "$W/zstd/lib/zdict.h" "$DEPS/include/"
  printf 'prefix=%s\nName: libzstd\nDescription: wasm\nVersion: %s\nCflags: -I${prefix}/include\nLibs: -L${prefix}/lib -lzstd\n' \
    "$DEPS" "${ZSTD_VER%%+*}" > "$DEPS/lib/pkgconfig/libzstd.pc"
  local B=$W/lzo2/build-wasm; mkdir -p "$B"
  ( cd "$B"
    # lzo 2.10's config.sub predates wasm32: any 32-bit host triple works (the probes are
    # compile tests run with emcc); --disable-asm keeps the i386 assembler out.
    [ -f config.status ] || emconfigure ../configure --host=i686-pc-linux-gnu CFLAGS="$CFLAGS_COMMON" \
      --disable-shared --enable-static --disable-asm > configure.log 2>&1 || { tail -30 configure.log; exit 1; }
    make -j"$JOBS" src/liblzo2.la > make.log 2>&1 || { tail -30 make.log; exit 1; } )
  cp "$B/src/.libs/liblzo2.a" "$DEPS/lib/"; rm -rf "$DEPS/include/lzo"; cp -r "$W/lzo2/include/lzo" "$DEPS/include/"
}

step_btrfs() {
  log "btrfs-progs: deps, configure, build"
  cflags
  mkdir -p "$OUT" "$W/obj" "$DEPS/include/blkid" "$DEPS/include/uuid" "$DEPS/lib/pkgconfig" "$DEPS/kheaders/asm"
  # libblkid: a stub whose probes find nothing (btrfs-progs wants util-linux's probe API,
  # which e2fsprogs' bundled blkid lacks); libuuid: from the e2fsprogs build.
  cp "$SHIM/include/blkid/blkid.h" "$DEPS/include/blkid/"
  emcc $CFLAGS_COMMON -I"$DEPS/include" -c "$SHIM/blkid_stub.c" -o "$W/obj/blkid_stub.o"
  rm -f "$DEPS/lib/libblkid.a"; emar rcs "$DEPS/lib/libblkid.a" "$W/obj/blkid_stub.o"
  cp "$E2SRC/build-wasm/lib/uuid/uuid.h" "$DEPS/include/uuid/"
  cp "$E2SRC/build-wasm/lib/libuuid.a" "$DEPS/lib/"
  [ -f "$DEPS/lib/libz.a" ] || step_zlib
  [ -f "$DEPS/lib/libzstd.a" ] && [ -f "$DEPS/lib/liblzo2.a" ] || step_complibs
  local n
  for n in blkid:-lblkid uuid:-luuid zlib:-lz; do
    printf 'prefix=%s\nName: %s\nDescription: wasm\nVersion: 2.40.0\nCflags: -I${prefix}/include\nLibs: -L${prefix}/lib %s\n' \
      "$DEPS" "${n%%:*}" "${n##*:}" > "$DEPS/lib/pkgconfig/${n%%:*}.pc"
  done
  printf '#!/bin/sh\nPKG_CONFIG_LIBDIR=%s/lib/pkgconfig PKG_CONFIG_PATH= exec /usr/bin/pkg-config "$@"\n' "$DEPS" > "$DEPS/pkg-config"
  chmod +x "$DEPS/pkg-config"
  kheaders
  emcc $CFLAGS_COMMON -c "$SHIM/ioctl_shim.c" -o "$W/obj/ioctl_shim.o"
  emcc $CFLAGS_COMMON -c "$SHIM/libc_missing.c" -o "$W/obj/libc_missing.o"
  emcc $CFLAGS_COMMON -c "$SHIM/xattr.c" -o "$W/obj/xattr.o"
  emcc $CFLAGS_COMMON -c "$SHIM/repro.c" -o "$W/obj/repro.o"

  cd "$BTSRC"
  [ -f include/config.h.in ] || ./autogen.sh > autogen.log 2>&1
  if [ ! -f Makefile.inc ]; then
    # sysinfo: required by 6.14's configure, provided by our shim. malloc/realloc: AC_FUNC_MALLOC
    # assumes the worst when cross-compiling (#define malloc rpl_malloc, never defined);
    # emscripten's malloc(0)/realloc(p,0) return non-NULL, so "yes" is the truth.
    PKG_CONFIG=$DEPS/pkg-config emconfigure ./configure --host=wasm32-unknown-emscripten PKG_CONFIG="$DEPS/pkg-config" \
      CFLAGS="$CFLAGS_COMMON -idirafter $DEPS/kheaders" --disable-documentation --disable-python --disable-libudev \
      CPPFLAGS="-I$DEPS/include" LDFLAGS="-L$DEPS/lib" --disable-convert --disable-backtrace --disable-zoned --disable-shared \
      --with-crypto=builtin ac_cv_func_sysinfo=yes ac_cv_func_malloc_0_nonnull=yes ac_cv_func_realloc_0_nonnull=yes \
      > configure-wasm.log 2>&1 || { tail -30 configure-wasm.log; exit 1; }
    sed -i 's/ -pthread$//; s/ -pthread / /' Makefile.inc    # no pthreads in the wasm build
  fi
  # x86 SIMD crypto flags would follow the *build* host: keep them off for wasm.
  local MK=(EXTRA_CFLAGS="-I$DEPS/include" crypto_blake2b_sse2_cflags= crypto_blake2b_sse41_cflags=
    crypto_blake2b_avx2_cflags= crypto_sha256_x86_cflags=)
  make -j"$JOBS" "${MK[@]}" mkfs.btrfs > make-mkfs.log 2>&1 || true   # objects; its own link is unused
  local objs
  objs=$(make -n mkfs.btrfs "${MK[@]}" V=1 2>/dev/null | grep -E '^emcc -o mkfs.btrfs' | head -1 \
         | sed 's/^emcc -o mkfs.btrfs //; s/ -rdynamic//g; s/ -pthread//g')
  [ -n "$objs" ] || { tail -30 make-mkfs.log; exit 1; }
  link_flags createMkfsBtrfs
  # shellcheck disable=SC2086
  # repro.o: UUIDs and time() from the host when it asks for them (wasm/shim/repro.c).
  emcc -o "$OUT/mkfs.btrfs.js" $objs "$W/obj/ioctl_shim.o" "$W/obj/libc_missing.o" "$W/obj/xattr.o" "$W/obj/repro.o" \
    -Wl,--wrap=ioctl -Wl,--wrap=sysconf -Wl,--wrap=uuid_generate -Wl,--wrap=time "${LINK[@]}"
  ls -l "$OUT"/mkfs.btrfs.*
}

step_install() {
  log "install into $DEST/"
  local D=$REPO/$DEST
  mkdir -p "$D/licenses"
  # .cjs: the package is "type": "module", and emscripten's glue is CommonJS.
  cp "$OUT/mke2fs.js" "$D/mke2fs.cjs"; cp "$OUT/mke2fs.wasm" "$D/mke2fs.wasm"
  cp "$E2SRC/NOTICE" "$D/licenses/e2fsprogs-NOTICE"
  cp "$E2SRC/debian/copyright" "$D/licenses/e2fsprogs-debian-copyright"
  cp "$E2SRC/misc/mke2fs.conf.in" "$D/mke2fs.conf"
  local files=(mke2fs.cjs mke2fs.wasm)
  if [ "$WITH_BTRFS" = yes ]; then
    # `fetch e2fsprogs install` rebuilds mke2fs only: the committed mkfs.btrfs stays as it is
    if [ -f "$OUT/mkfs.btrfs.js" ]; then
      cp "$OUT/mkfs.btrfs.js" "$D/mkfs.btrfs.cjs"; cp "$OUT/mkfs.btrfs.wasm" "$D/mkfs.btrfs.wasm"
    else
      echo "note: no mkfs.btrfs built; keeping $DEST/mkfs.btrfs.*" >&2
    fi
    cp "$BTSRC/COPYING" "$D/licenses/btrfs-progs-COPYING"
    [ -f "$BTSRC/debian/copyright" ] && cp "$BTSRC/debian/copyright" "$D/licenses/btrfs-progs-debian-copyright"
    cp "$ZSRC/LICENSE" "$D/licenses/zlib-LICENSE" 2>/dev/null || sed -n '/Copyright/,/madler/p' "$ZSRC/zlib.h" > "$D/licenses/zlib-LICENSE"
    cp "$W/zstd/LICENSE" "$D/licenses/zstd-LICENSE"; cp "$W/lzo2/COPYING" "$D/licenses/lzo2-COPYING"
    files+=(mkfs.btrfs.cjs mkfs.btrfs.wasm)
  fi
  files+=(mke2fs.conf)
  {
    echo "# Sources of the committed WebAssembly builds (tools/build-wasm.sh)."
    echo "debian-suite: $SUITE"
    echo "e2fsprogs: $E2FS_VER"
    if [ "$WITH_BTRFS" = yes ]; then
      echo "btrfs-progs: $BTRFS_VER"
      echo "zlib: $ZLIB_VER"
      echo "libzstd: $ZSTD_VER"
      echo "lzo2: $LZO_VER"
    fi
    echo "emscripten: $(dpkg-query -W -f='${Version}' emscripten)"
    echo "clang: $(dpkg-query -W -f='${Version}' clang-14 2>/dev/null || echo unknown)"
    echo "binaryen: $(dpkg-query -W -f='${Version}' binaryen 2>/dev/null || echo unknown)"
    echo "our-patches:"; [ ! -d "$PATCHES" ] || (cd "$PATCHES" && sha256sum -- *.patch | sed 's/^/  /')
    echo "source-files (sha256, as listed in the .dsc files):"
    (cd "$W/src" && sha256sum -- *.orig.tar.* *.debian.tar.* 2>/dev/null | sed 's/^/  /')
  } > "$D/SOURCES"
  (cd "$D" && sha256sum "${files[@]}" > SHA256SUMS)
  cat "$D/SHA256SUMS"
}

steps=("$@")
if [ ${#steps[@]} -eq 0 ]; then
  steps=(setup fetch e2fsprogs); [ "$WITH_BTRFS" = yes ] && steps+=(zlib complibs btrfs); steps+=(install)
fi
for s in "${steps[@]}"; do "step_$s"; done
