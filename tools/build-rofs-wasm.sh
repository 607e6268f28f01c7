#!/usr/bin/env bash
# Developer tool (never run by CI, npm ci or npm test): rebuild the committed WebAssembly
# builds of mkfs.erofs and mksquashfs from Debian source packages with Debian's emscripten, in
# the style of tools/build-wasm.sh.
#
#   SUITE=trixie (default): wasm/erofs, wasm/squashfs          erofs-utils 1.8.6, squashfs-tools 4.6.1 (--compat=257)
#   SUITE=sid:              wasm/sid/erofs, wasm/sid/squashfs  erofs-utils 1.9.4, squashfs-tools 4.7.5 (--compat >= 258)
#
#   sudo [SUITE=sid] tools/build-rofs-wasm.sh           # everything: setup fetch libs erofs squashfs install
#   sudo [SUITE=sid] tools/build-rofs-wasm.sh STEP...   # one or more of those steps
#
# Steps:
#   setup     apt-get install emscripten + autotools (bookworm packages); the deb-src entry for
#             trixie that tools/build-wasm.sh adds (same file, same content).
#   fetch     apt-get source --download-only of the pinned versions, SHA-256 check against the
#             .dsc files (or, where the mirror 404s on a .dsc, against the signed Sources index
#             that `apt-cache showsrc` reads), unpack, Debian's patch series, then ours
#             (wasm/rofs/patches/).
#   libs      the compression libraries, static, with emcc: zlib, lz4, zstd, liblzma, lzo2.
#   erofs     autoreconf + configure erofs-utils as Debian does (multithreading on: see
#             wasm/rofs/shim/gthread.h), link mkfs.erofs.
#   squashfs  mksquashfs with every compressor Debian enables (gzip, lzma, xz, lzo, lz4, zstd).
#   install   copy .cjs/.wasm, licenses, SOURCES and SHA256SUMS into wasm/erofs and wasm/squashfs.
#
# Reproducibility as in build-wasm.sh: fixed build directory, -ffile-prefix-map, pinned
# SOURCE_DATE_EPOCH, fixed link order.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
SUITE=${SUITE:-trixie}
case $SUITE in
  trixie)
    W=${ROFS_BUILD_DIR:-/var/tmp/repart-ts-rofs-build}
    DEST=wasm
    EROFS_VER=1.8.6-1
    SQFS_VER=1:4.6.1-1
    LZ4_VER=1.10.0-4
    LZO_VER=2.10-3
    ZSTD_VER=1.5.7+dfsg-1          # source package "libzstd"
    XZ_VER=5.8.1-1+deb13u1         # the mirror 404s on +deb13u2 (a decoder fix; encoders are the same)
    ZLIB_VER=1:1.3.dfsg+really1.3.1-1 ;;  # the mirror lacks +deb13u1 (a minizip fix, not used here)
  sid)
    # The versions sid's systemd-repart 262 runs (its tree: erofs-utils 1.9.4-1, squashfs-tools
    # 1:4.7.5-1, liblz4-1 1.10.0-10, libzstd1 1.5.7+dfsg-4, liblzma5 5.8.4-1, liblzo2-2 2.10-3+b2).
    W=${ROFS_BUILD_DIR:-/var/tmp/repart-ts-rofs-build-sid}
    DEST=wasm/sid
    EROFS_VER=1.9.4-1
    SQFS_VER=1:4.7.5-1
    LZ4_VER=1.10.0-10
    LZO_VER=2.10-3
    ZSTD_VER=1.5.7+dfsg-4
    XZ_VER=5.8.4-1
    # sid's zlib1g is 1.3.2-4, but the mirror 404s on that revision's .dsc and Debian tarball;
    # -3 is the same upstream 1.3.2 (the deflate encoder squashfs' gzip uses).
    ZLIB_VER=1:1.3.dfsg+really1.3.2-3 ;;
  *) echo "SUITE must be trixie or sid" >&2; exit 2 ;;
esac
JOBS=${JOBS:-$(nproc)}
export SOURCE_DATE_EPOCH=1735689600
export NODE_PATH=/usr/share/nodejs
export LC_ALL=C TZ=UTC
unset EM_CACHE
# Debian's emcc runs `python3` from PATH: Debian's own, not a version manager's shim (a pyenv
# shim first in PATH costs seconds per emcc call on a loaded machine; configure makes hundreds).
export PATH=/usr/bin:/bin:$PATH

up() { local v=${1#*:}; echo "${v%-*}"; }    # upstream part of a Debian version
nover() { echo "${1#*:}"; }                   # version without epoch (file names)
ESRC=$W/erofs-utils; SSRC=$W/squashfs-tools; DEPS=$W/deps; OUT=$W/out
SHIM=$REPO/wasm/rofs/shim; GLUE=$REPO/wasm/glue; PATCHES=$REPO/wasm/rofs/patches
CFLAGS_COMMON="-O2 -ffile-prefix-map=$W/=/build/ -fdebug-prefix-map=$W/=/build/ -ffile-prefix-map=$REPO/=/repart-ts/"
log() { printf '\n== %s\n' "$*" >&2; }
. "$REPO/tools/lib/deb-src.sh"

step_setup() {
  log "setup: packages and deb-src for $SUITE"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    emscripten autoconf automake libtool pkgconf patch python3 xz-utils linux-libc-dev >/dev/null
  add_deb_src "$SUITE"
}

# verify_dsc DSC...: each file a .dsc lists against its SHA-256. Where the mirror 404s on the
# .dsc itself (sid's lz4 and xz-utils, for instance), the same list is taken from the Sources
# index apt verified with the Release signature (apt-cache showsrc, that exact version).
verify_dsc() {
  local d
  for d in "$@"; do
    [ -f "$d" ] && continue
    local b=${d%.dsc} pkg ver; pkg=${b%%_*}; ver=${b#*_}
    apt-cache showsrc --only-source "$pkg" | awk -v v="$ver" '
      /^Package: /{keep=0} /^Version: /{e=$2; sub(/^[0-9]+:/, "", e); keep=(e==v)} keep' > "$d.index"
    grep -q Checksums-Sha256 "$d.index" || { echo "no index entry for $pkg $ver" >&2; exit 1; }
    echo "note: $d unavailable; checking against the Sources index" >&2
  done
  python3 - "$@" <<'P'
import hashlib, os, re, sys
for dsc in sys.argv[1:]:
    if not os.path.exists(dsc): dsc += ".index"
    t = open(dsc).read().split("Checksums-Sha256:")[1]
    t = re.split(r"\n(?=\S)", t, 1)[0]
    for sha, size, name in re.findall(r"^ ([0-9a-f]{64}) (\d+) (\S+)$", t, re.M):
        if not os.path.exists(name):
            if name.endswith(".asc") or name.endswith(".dsc"): print("missing (not needed)", name); continue
            sys.exit(f"missing: {name}")
        h = hashlib.sha256(open(name, "rb").read()).hexdigest()
        if h != sha: sys.exit(f"checksum mismatch: {name}")
        print("ok", name)
P
}

apply_series() {
  local dir=$1 p
  [ -f "$dir/debian/patches/series" ] || return 0
  ( cd "$dir" && while read -r p _; do case $p in ''|'#'*) continue;; esac
      patch -p1 -s < "debian/patches/$p"; done < debian/patches/series )
}

# unpack SRCPKG VERSION DIR: orig + debian tarball, Debian's series.
unpack() {
  local pkg=$1 ver=$2 dir=$3 u; u=$(up "$ver")
  rm -rf "$dir"; mkdir -p "$dir"
  local orig; orig=$(ls "$W/src/${pkg}_$u.orig.tar."* | grep -v '\.asc$')
  tar -C "$dir" --strip-components=1 -xf "$orig"
  tar -C "$dir" -xJf "$W/src/${pkg}_$(nover "$ver").debian.tar.xz"
  apply_series "$dir"
}

step_fetch() {
  log "fetch"
  mkdir -p "$W/src"; cd "$W/src"
  apt-get source --download-only "erofs-utils=$EROFS_VER" "squashfs-tools=$SQFS_VER" "lz4=$LZ4_VER" \
    "lzo2=$LZO_VER" "libzstd=$ZSTD_VER" "xz-utils=$XZ_VER" "zlib=$ZLIB_VER" >/dev/null 2>&1 || true
  verify_dsc "erofs-utils_$(nover $EROFS_VER).dsc" "squashfs-tools_$(nover $SQFS_VER).dsc" "lz4_$LZ4_VER.dsc" \
    "lzo2_$LZO_VER.dsc" "libzstd_$ZSTD_VER.dsc" "xz-utils_$XZ_VER.dsc" "zlib_$(nover $ZLIB_VER).dsc"
  unpack erofs-utils "$EROFS_VER" "$ESRC"
  unpack squashfs-tools "$SQFS_VER" "$SSRC"
  unpack lz4 "$LZ4_VER" "$W/lz4"
  unpack lzo2 "$LZO_VER" "$W/lzo2"
  unpack libzstd "$ZSTD_VER" "$W/zstd"
  unpack xz-utils "$XZ_VER" "$W/xz"
  unpack zlib "$ZLIB_VER" "$W/zlib"
  local p
  # erofs-utils-<version>-*.patch: for that upstream version only (the code they touch differs)
  for p in "$PATCHES"/erofs-utils-*.patch; do
    case ${p##*/} in erofs-utils-[0-9]*) [[ ${p##*/} == "erofs-utils-$(up "$EROFS_VER")-"* ]] || continue ;; esac
    [ -f "$p" ] && (cd "$ESRC" && patch -p1 -s < "$p")
  done
  for p in "$PATCHES"/squashfs-tools-*.patch; do [ -f "$p" ] && (cd "$SSRC" && patch -p1 -s < "$p"); done
  for p in "$PATCHES"/lz4-*.patch; do [ -f "$p" ] && (cd "$W/lz4" && patch -p1 -s < "$p"); done
  true
}

# compile_lib NAME OUTDIR CFLAGS... -- FILES...: objects into libNAME.a
compile_lib() {
  local name=$1; shift
  local flags=() f o objs=()
  while [ "$1" != -- ]; do flags+=("$1"); shift; done; shift
  mkdir -p "$W/obj/$name" "$DEPS/lib"
  for f in "$@"; do
    o=$W/obj/$name/$(basename "$(dirname "$f")")-$(basename "$f" .c).o
    emcc $CFLAGS_COMMON "${flags[@]}" -c "$f" -o "$o" &
    objs+=("$o")
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  done
  wait
  rm -f "$DEPS/lib/lib$name.a"; emar rcs "$DEPS/lib/lib$name.a" "${objs[@]}"
}

pcfile() {  # name version libs
  mkdir -p "$DEPS/lib/pkgconfig"
  printf 'prefix=%s\nName: %s\nDescription: wasm\nVersion: %s\nCflags: -I${prefix}/include\nLibs: -L${prefix}/lib %s\n' \
    "$DEPS" "$1" "$2" "$3" > "$DEPS/lib/pkgconfig/$1.pc"
}

step_libs() {
  log "libs: zlib lz4 zstd liblzma lzo2"
  mkdir -p "$DEPS/include" "$DEPS/lib"
  local Z=$W/zlib f
  compile_lib z -DHAVE_UNISTD_H -- $(for f in adler32 compress crc32 deflate gzclose gzlib gzread gzwrite infback \
      inffast inflate inftrees trees uncompr zutil; do echo "$Z/$f.c"; done)
  cp "$Z/zlib.h" "$Z/zconf.h" "$DEPS/include/"; pcfile zlib 1.3.1 -lz
  compile_lib lz4 -- "$W/lz4/lib/lz4.c" "$W/lz4/lib/lz4hc.c" "$W/lz4/lib/lz4frame.c" "$W/lz4/lib/xxhash.c"
  cp "$W/lz4/lib/lz4.h" "$W/lz4/lib/lz4hc.h" "$W/lz4/lib/lz4frame.h" "$DEPS/include/"; pcfile liblz4 1.10.0 -llz4
  compile_lib zstd -DZSTD_DISABLE_ASM -DZSTD_LEGACY_SUPPORT=0 -DXXH_NAMESPACE=ZSTD_ -I"$W/zstd/lib" -I"$W/zstd/lib/common" -- \
    "$W"/zstd/lib/common/*.c "$W"/zstd/lib/compress/*.c "$W"/zstd/lib/decompress/*.c
  cp "$W/zstd/lib/zstd.h" "$W/zstd/lib/zstd_errors.h" "$W/zstd/lib/zdict.h" "$DEPS/include/"; pcfile libzstd 1.5.7 -lzstd
  # liblzma: configure (its config.h), no threads; microlzma is what erofs' -zlzma uses.
  local B=$W/xz/build-wasm; mkdir -p "$B"
  ( cd "$B"
    [ -f config.status ] || emconfigure ../configure --host=wasm32-unknown-emscripten CFLAGS="$CFLAGS_COMMON" \
      --disable-shared --enable-static --disable-threads --disable-xz --disable-xzdec --disable-lzmadec \
      --disable-lzmainfo --disable-lzma-links --disable-scripts --disable-doc --disable-nls --disable-sandbox \
      --disable-assembler --disable-clmul-crc --disable-arm64-crc32 --disable-loongarch-crc32 > configure.log 2>&1 \
      || { tail -30 configure.log; exit 1; }
    make -j"$JOBS" -C src/liblzma > make.log 2>&1 || { tail -30 make.log; exit 1; } )
  cp "$B/src/liblzma/.libs/liblzma.a" "$DEPS/lib/"; cp -r "$W/xz/src/liblzma/api/lzma" "$W/xz/src/liblzma/api/lzma.h" "$DEPS/include/"
  pcfile liblzma 5.8.1 -llzma
  B=$W/lzo2/build-wasm; mkdir -p "$B"
  ( cd "$B"
    # lzo 2.10's config.sub predates wasm32: any 32-bit host triple works, the probes are
    # compile tests run with emcc; --disable-asm keeps the i386 assembler out.
    [ -f config.status ] || emconfigure ../configure --host=i686-pc-linux-gnu CFLAGS="$CFLAGS_COMMON" \
      --disable-shared --enable-static --disable-asm > configure.log 2>&1 || { tail -30 configure.log; exit 1; }
    make -j"$JOBS" src/liblzo2.la > make.log 2>&1 || { tail -30 make.log; exit 1; } )
  cp "$B/src/.libs/liblzo2.a" "$DEPS/lib/"; cp -r "$W/lzo2/include/lzo" "$DEPS/include/"
  pcfile lzo2 2.10 -llzo2
  printf '#!/bin/sh\nPKG_CONFIG_LIBDIR=%s/lib/pkgconfig PKG_CONFIG_PATH= exec /usr/bin/pkg-config "$@"\n' "$DEPS" > "$DEPS/pkg-config"
  chmod +x "$DEPS/pkg-config"
}

# The shims every tool links: gthread (see gthread.h), ioctl, xattr (host-served), sysconf.
shims() {
  mkdir -p "$W/obj/shim"
  emcc $CFLAGS_COMMON -c "$SHIM/gthread.c" -o "$W/obj/shim/gthread.o"
  emcc $CFLAGS_COMMON -c "$REPO/wasm/shim/ioctl_shim.c" -o "$W/obj/shim/ioctl_shim.o"
  emcc $CFLAGS_COMMON -c "$REPO/wasm/shim/xattr.c" -o "$W/obj/shim/xattr.o"
  emcc $CFLAGS_COMMON -c "$SHIM/rofs_libc.c" -o "$W/obj/shim/rofs_libc.o"
  # glibc's qsort order (wasm/shim/qsort_glibc.c): 1.8.6's shared xattr table depends on it
  emcc $CFLAGS_COMMON -c "$REPO/wasm/shim/qsort_glibc.c" -o "$W/obj/shim/qsort_glibc.o"
  SHIM_OBJS=("$W/obj/shim/gthread.o" "$W/obj/shim/ioctl_shim.o" "$W/obj/shim/xattr.o" "$W/obj/shim/rofs_libc.o" "$W/obj/shim/qsort_glibc.o")
}

# Link flags as in build-wasm.sh, plus ASYNCIFY for the green threads' fibers.
link_flags() {
  local name=$1
  LINK=(-O2 -sNODERAWFS=1 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=2147483648 -sEXIT_RUNTIME=1
    -sMODULARIZE=1 -sEXPORT_NAME="$name" -sINVOKE_RUN=0 -sENVIRONMENT=node
    -sNODEJS_CATCH_EXIT=0 -sNODEJS_CATCH_REJECTION=0 -sASYNCIFY=1
    "-sEXPORTED_RUNTIME_METHODS=[\"FS\",\"callMain\"]"
    --pre-js "$GLUE/pre.js" --post-js "$GLUE/post.js" --js-library "$GLUE/lib64.js" --js-library "$GLUE/xattr.js"
    -Wl,--wrap=ioctl -Wl,--wrap=sysconf -Wl,--wrap=getpagesize
    -Wl,--wrap=stat -Wl,--wrap=lstat -Wl,--wrap=fstat -Wl,--wrap=fstatat -Wl,--wrap=qsort)
  # ROFS_PROFILING=1: function names in the wasm (stack traces, node --cpu-prof); not for commits.
  [ -z "${ROFS_PROFILING:-}" ] || LINK+=(--profiling-funcs)
}

kheaders() {
  rm -rf "$DEPS/kheaders"; mkdir -p "$DEPS/kheaders/asm"
  cp -r /usr/include/linux /usr/include/asm-generic "$DEPS/kheaders/"
  local f
  for f in /usr/include/asm-generic/*.h; do echo "#include <asm-generic/$(basename "$f")>" > "$DEPS/kheaders/asm/$(basename "$f")"; done
  echo '#include <linux/byteorder/little_endian.h>' > "$DEPS/kheaders/asm/byteorder.h"
}

step_erofs() {
  log "erofs-utils $(up $EROFS_VER): configure (as debian/rules, minus fuse/selinux/libdeflate/libuuid) + build"
  mkdir -p "$OUT"; shims; kheaders
  cd "$ESRC"
  [ -f configure ] || ./autogen.sh > autogen.log 2>&1 || { tail -30 autogen.log; exit 1; }
  local B=$ESRC/build-wasm; mkdir -p "$B"; cd "$B"
  # llistxattr/lgetxattr: wasm/shim/xattr.c answers them from the source tree (as for e2fsprogs);
  # configure cannot find them in emscripten's libc and would compile xattr copying out.
  if [ ! -f config.status ]; then
    PKG_CONFIG=$DEPS/pkg-config emconfigure ../configure --host=wasm32-unknown-emscripten PKG_CONFIG="$DEPS/pkg-config" \
      CFLAGS="$CFLAGS_COMMON -idirafter $DEPS/kheaders" CPPFLAGS="-I$DEPS/include" LDFLAGS="-L$DEPS/lib" \
      --enable-lzma --enable-multithreading --without-uuid --with-zlib --without-libdeflate --with-libzstd \
      --without-xxhash --disable-fuse --without-selinux --disable-werror \
      --disable-oci --disable-s3 --disable-ublk --disable-fanotify --without-libnl3 \
      --without-libcurl --without-openssl --without-libxml2 --without-json_c \
      ac_cv_func_malloc_0_nonnull=yes ac_cv_func_realloc_0_nonnull=yes \
      ac_cv_func_llistxattr=yes ac_cv_func_lgetxattr=yes ac_cv_func_pwritev=no \
      > configure-wasm.log 2>&1 || { tail -40 configure-wasm.log; exit 1; }
  fi
  # pwritev: emscripten 3.1.6's writes every iovec at the same offset (its doWritev does not
  # advance it), so 1.9.4's inode writes (header + inline xattrs in one pwritev) put the xattrs
  # over the header; without it erofs-utils writes each piece with pwrite (as ac_cv_func_pwritev=no
  # above; a build directory configured before that gets the same edit).
  sed -i 's/^#define HAVE_PWRITEV 1$/\/* #undef HAVE_PWRITEV *\//' config.h
  # gthread.h only now: it renames main(), which configure's test programs need.
  local MK=(CFLAGS="$CFLAGS_COMMON -idirafter $DEPS/kheaders -include $SHIM/gthread.h")
  make -j"$JOBS" -C lib "${MK[@]}" > make-lib.log 2>&1 || { tail -30 make-lib.log; exit 1; }
  make -C mkfs "${MK[@]}" mkfs_erofs-main.o > make-mkfs.log 2>&1 || { tail -30 make-mkfs.log; exit 1; }
  link_flags createMkfsErofs
  emcc -o "$OUT/mkfs.erofs.js" mkfs/mkfs_erofs-main.o lib/.libs/liberofs.a \
    "$DEPS/lib/liblz4.a" "$DEPS/lib/liblzma.a" "$DEPS/lib/libz.a" "$DEPS/lib/libzstd.a" "${SHIM_OBJS[@]}" "${LINK[@]}"
  ls -l "$OUT"/mkfs.erofs.*
}

step_squashfs() {
  log "squashfs-tools $(up $SQFS_VER): mksquashfs with gzip lzma xz lzo lz4 zstd"
  mkdir -p "$OUT"; shims; kheaders
  cd "$SSRC/squashfs-tools"
  make clean > /dev/null 2>&1 || true
  # -fgnu89-inline: debian/rules' DEB_CFLAGS_MAINT_APPEND. -D__linux__: emscripten's clang does
  # not define it (nor `linux`, as gcc's GNU dialects do); mksquashfs would then take its BSD
  # sysctl() path, which does not compile, and endian_compat.h would pick big-endian.
  make -j"$JOBS" CC=emcc GZIP_SUPPORT=1 LZMA_XZ_SUPPORT=1 LZ4_SUPPORT=1 LZO_SUPPORT=1 XZ_SUPPORT=1 ZSTD_SUPPORT=1 \
    XATTR_SUPPORT=1 \
    EXTRA_CFLAGS="$CFLAGS_COMMON -fgnu89-inline -D__linux__ -Dlinux -I$DEPS/include -idirafter $DEPS/kheaders -include $SHIM/gthread.h" \
    mksquashfs > make.log 2>&1 || true   # objects; its own link is unused
  local objs
  objs=$(make -n CC=emcc GZIP_SUPPORT=1 LZMA_XZ_SUPPORT=1 LZ4_SUPPORT=1 LZO_SUPPORT=1 XZ_SUPPORT=1 ZSTD_SUPPORT=1 XATTR_SUPPORT=1 mksquashfs 2>/dev/null \
         | grep -E '^emcc .*-o mksquashfs' | head -1 | grep -oE '[a-z_0-9-]+\.o' | tr '\n' ' ')
  [ -n "$objs" ] || { tail -30 make.log; exit 1; }
  link_flags createMksquashfs
  # shellcheck disable=SC2086
  emcc -o "$OUT/mksquashfs.js" $objs "$DEPS/lib/libz.a" "$DEPS/lib/liblzma.a" "$DEPS/lib/liblzo2.a" \
    "$DEPS/lib/liblz4.a" "$DEPS/lib/libzstd.a" "${SHIM_OBJS[@]}" "${LINK[@]}"
  ls -l "$OUT"/mksquashfs.*
}

step_install() {
  log "install into $DEST/erofs and $DEST/squashfs"
  local E=$REPO/$DEST/erofs S=$REPO/$DEST/squashfs L
  mkdir -p "$E/licenses" "$S/licenses"
  cp "$OUT/mkfs.erofs.js" "$E/mkfs.erofs.cjs"; cp "$OUT/mkfs.erofs.wasm" "$E/mkfs.erofs.wasm"
  cp "$OUT/mksquashfs.js" "$S/mksquashfs.cjs"; cp "$OUT/mksquashfs.wasm" "$S/mksquashfs.wasm"
  cp "$ESRC/COPYING" "$E/licenses/erofs-utils-COPYING"; cp "$ESRC/debian/copyright" "$E/licenses/erofs-utils-debian-copyright"
  cp -r "$ESRC/LICENSES" "$E/licenses/erofs-utils-LICENSES"
  cp "$SSRC/COPYING" "$S/licenses/squashfs-tools-COPYING"; cp "$SSRC/debian/copyright" "$S/licenses/squashfs-tools-debian-copyright"
  for L in "$E" "$S"; do
    cp "$W/lz4/LICENSE" "$L/licenses/lz4-LICENSE"; cp "$W/lz4/lib/LICENSE" "$L/licenses/lz4-lib-LICENSE"
    cp "$W/zstd/LICENSE" "$L/licenses/zstd-LICENSE"
    cp "$W/xz/COPYING.0BSD" "$L/licenses/xz-COPYING.0BSD"
    cp "$W/zlib/LICENSE" "$L/licenses/zlib-LICENSE" 2>/dev/null || sed -n '/Copyright/,/madler/p' "$W/zlib/zlib.h" > "$L/licenses/zlib-LICENSE"
  done
  cp "$W/lzo2/COPYING" "$S/licenses/lzo2-COPYING"
  local pkgs_e="erofs-utils=$EROFS_VER lz4=$LZ4_VER libzstd=$ZSTD_VER xz-utils=$XZ_VER zlib=$ZLIB_VER"
  local pkgs_s="squashfs-tools=$SQFS_VER lz4=$LZ4_VER lzo2=$LZO_VER libzstd=$ZSTD_VER xz-utils=$XZ_VER zlib=$ZLIB_VER"
  write_sources "$E" $pkgs_e
  write_sources "$S" $pkgs_s
  (cd "$E" && sha256sum mkfs.erofs.cjs mkfs.erofs.wasm > SHA256SUMS && cat SHA256SUMS)
  (cd "$S" && sha256sum mksquashfs.cjs mksquashfs.wasm > SHA256SUMS && cat SHA256SUMS)
}

write_sources() {
  local D=$1 p; shift
  {
    echo "# Sources of the committed WebAssembly build (tools/build-rofs-wasm.sh)."
    echo "debian-suite: $SUITE"
    for p in "$@"; do echo "${p%%=*}: ${p#*=}"; done
    echo "emscripten: $(dpkg-query -W -f='${Version}' emscripten)"
    echo "clang: $(dpkg-query -W -f='${Version}' clang-14 2>/dev/null || echo unknown)"
    echo "binaryen: $(dpkg-query -W -f='${Version}' binaryen 2>/dev/null || echo unknown)"
    echo "our-shims-and-patches (sha256):"
    (cd "$REPO/wasm" && shopt -s nullglob && sha256sum -- rofs/shim/* rofs/patches/*.patch shim/ioctl_shim.c shim/xattr.c shim/qsort_glibc.c glue/*.js | sed 's/^/  /')
    echo "source-files (sha256, as listed in the .dsc files):"
    for p in "$@"; do
      local n=${p%%=*} v; v=${p#*=}
      (cd "$W/src" && ls "${n}_$(up "$v").orig.tar."* "${n}_$(nover "$v").debian.tar."* | grep -v '\.asc$' | xargs sha256sum -- | sed 's/^/  /')
    done
  } > "$D/SOURCES"
}

steps=("$@"); [ ${#steps[@]} -gt 0 ] || steps=(setup fetch libs erofs squashfs install)
for s in "${steps[@]}"; do "step_$s"; done
