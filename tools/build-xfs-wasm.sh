#!/usr/bin/env bash
# Developer tool (never run by CI, npm ci or npm test): rebuild the committed WebAssembly
# build of xfsprogs' mkfs.xfs from Debian source packages with Debian's emscripten, in the
# style of tools/build-wasm.sh and tools/build-rofs-wasm.sh.
#
#   sudo [SUITE=trixie|sid] tools/build-xfs-wasm.sh          # setup fetch deps xfs install
#   sudo [SUITE=...] tools/build-xfs-wasm.sh STEP...         # one or more of those steps
#
# One build per Debian suite, each matching what that suite's systemd-repart runs:
#   SUITE=trixie (default): wasm/xfs/trixie/  xfsprogs 6.13.0-2+deb13u1 (systemd 257)
#   SUITE=sid:              wasm/xfs/sid/     xfsprogs 7.2.0-1 (systemd 262). Its sources answer
#                           404 on our package mirror (as do sid's btrfs-progs 7.3 and liburcu),
#                           so this fails at `fetch` today; see wasm/xfs/README.md.
#
# Steps:
#   setup    apt-get install emscripten + autotools (bookworm packages); deb-src for $SUITE and
#            trixie (libinih comes from trixie: see deps).
#   fetch    apt-get source --download-only of the pinned versions, SHA-256 check against the
#            .dsc, unpack, Debian's patch series, then ours (wasm/xfs/patches/<suite>-*.patch)
#            and the sources they include (wasm/xfs/ext/: mkfs -p <directory>).
#   deps     libinih from Debian source (ini.c, as meson builds it); shims for what the mirror
#            cannot give or a wasm mkfs does not need (wasm/xfs/shim/): liburcu (one thread),
#            libuuid (util-linux API subset), libblkid (wasm/shim's stub + topology calls).
#   xfs      emconfigure xfsprogs as debian/rules does (minus lto/editline/scrub/gettext),
#            build libfrog, libxfs, libxcmd and mkfs, link mkfs.xfs with the glue.
#   install  copy .cjs/.wasm, licenses, SOURCES and SHA256SUMS into $DEST.
#
# Reproducibility as in build-wasm.sh: fixed build directory, -ffile-prefix-map, pinned
# SOURCE_DATE_EPOCH, fixed link order.
set -euo pipefail
shopt -s nullglob

REPO=$(cd "$(dirname "$0")/.." && pwd)
SUITE=${SUITE:-trixie}
case $SUITE in
  trixie) XFS_VER=6.13.0-2+deb13u1 ;;
  sid)    XFS_VER=7.2.0-1 ;;
  *) echo "SUITE must be trixie or sid" >&2; exit 2 ;;
esac
INIH_VER=59-1            # trixie's; sid's 61-1 .dsc is 404 on the mirror. mkfs.xfs reads an ini
                         # file only for -c (repart never passes it).
W=${XFS_BUILD_DIR:-/var/tmp/repart-ts-xfs-build-$SUITE}
DEST=wasm/xfs/$SUITE
JOBS=${JOBS:-$(nproc)}
export SOURCE_DATE_EPOCH=1735689600
export NODE_PATH=/usr/share/nodejs
export LC_ALL=C TZ=UTC
unset EM_CACHE

up() { local v=${1#*:}; echo "${v%-*}"; }
XSRC=$W/xfsprogs-$(up $XFS_VER); DEPS=$W/deps; OUT=$W/out
SHIM=$REPO/wasm/xfs/shim; GLUE=$REPO/wasm/glue; PATCHES=$REPO/wasm/xfs/patches
CFLAGS_COMMON="-O2 -ffile-prefix-map=$W/=/build/ -fdebug-prefix-map=$W/=/build/ -ffile-prefix-map=$REPO/=/repart-ts/"
log() { printf '\n== %s\n' "$*" >&2; }
. "$REPO/tools/lib/deb-src.sh"

step_setup() {
  log "setup: packages and deb-src for $SUITE (+ trixie for libinih)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    emscripten autoconf automake libtool pkgconf patch gettext python3 xz-utils linux-libc-dev >/dev/null
  add_deb_src "$SUITE"
  [ "$SUITE" = trixie ] || add_deb_src trixie
}

verify_dsc() {
  python3 - "$@" <<'P'
import hashlib, os, re, sys
for dsc in sys.argv[1:]:
    t = open(dsc).read().split("Checksums-Sha256:")[1]
    t = re.split(r"\n(?=\S)", t, 1)[0]
    for sha, size, name in re.findall(r"^ ([0-9a-f]{64}) (\d+) (\S+)$", t, re.M):
        if not os.path.exists(name):
            if name.endswith(".asc"): print("missing (not needed)", name); continue
            sys.exit(f"missing: {name}")
        h = hashlib.sha256(open(name, "rb").read()).hexdigest()
        if h != sha: sys.exit(f"checksum mismatch: {name}")
        print("ok", name)
P
}

unpack() {   # unpack SRCPKG VERSION DIR: orig + debian tarball, then Debian's series
  local pkg=$1 ver=$2 dir=$3 u orig p; u=$(up "$ver")
  rm -rf "$dir"; mkdir -p "$dir"
  orig=$(ls "$W/src/${pkg}_$u.orig.tar."* | grep -v '\.asc$')
  tar -C "$dir" --strip-components=1 -xf "$orig"
  tar -C "$dir" -xJf "$W/src/${pkg}_${ver#*:}.debian.tar.xz"
  [ -f "$dir/debian/patches/series" ] || return 0
  ( cd "$dir" && while read -r p _; do case $p in ''|'#'*) continue;; esac
      patch -p1 -s < "debian/patches/$p"; done < debian/patches/series )
}

step_fetch() {
  log "fetch: xfsprogs=$XFS_VER libinih=$INIH_VER"
  mkdir -p "$W/src"; cd "$W/src"
  apt-get source --download-only "xfsprogs=$XFS_VER" >/dev/null 2>&1 || true
  apt-get source --download-only "libinih=$INIH_VER" >/dev/null 2>&1 || true
  local d
  for d in "xfsprogs_$XFS_VER.dsc" "libinih_$INIH_VER.dsc"; do
    [ -f "$d" ] || { echo "$d: not on the package mirror (apt-get source failed)" >&2; exit 1; }
  done
  verify_dsc "xfsprogs_$XFS_VER.dsc" "libinih_$INIH_VER.dsc"
  unpack xfsprogs "$XFS_VER" "$XSRC"
  unpack libinih "$INIH_VER" "$W/inih"
  local p
  for p in "$PATCHES/$SUITE"-*.patch; do (cd "$XSRC" && patch -p1 -s < "$p"); done
  # our own sources that a patch includes (populate_dir.c: -p <directory>)
  cp "$REPO/wasm/xfs/ext/"*.c "$XSRC/mkfs/"
}

step_deps() {
  log "deps: libinih (source), liburcu/libuuid/libblkid (shims)"
  rm -rf "$DEPS"; mkdir -p "$DEPS/include" "$DEPS/lib" "$W/obj"
  cp -r "$SHIM/include/." "$DEPS/include/"
  # the blkid shim header includes wasm/shim's by a relative path: resolve it here
  mkdir -p "$DEPS/include/blkid"
  { sed -n '/^#ifndef/,/^#define/p' "$SHIM/include/blkid/blkid.h"
    sed '/^#ifndef _BLKID_BLKID_H/d; /^#define _BLKID_BLKID_H/d; /^#endif/d' "$REPO/wasm/shim/include/blkid/blkid.h"
    sed -n '/^typedef struct blkid_struct_topology/,/^#endif/p' "$SHIM/include/blkid/blkid.h"
  } > "$DEPS/include/blkid/blkid.h"
  local I="-I$DEPS/include"
  emcc $CFLAGS_COMMON $I -c "$W/inih/ini.c" -o "$W/obj/ini.o"
  cp "$W/inih/ini.h" "$DEPS/include/"
  emcc $CFLAGS_COMMON $I -c "$SHIM/urcu.c" -o "$W/obj/urcu.o"
  emcc $CFLAGS_COMMON $I -c "$SHIM/uuid.c" -o "$W/obj/uuid.o"
  emcc $CFLAGS_COMMON $I -c "$REPO/wasm/shim/blkid_stub.c" -o "$W/obj/blkid_stub.o"
  emcc $CFLAGS_COMMON $I -c "$SHIM/blkid_topology.c" -o "$W/obj/blkid_topology.o"
  rm -f "$DEPS"/lib/*.a
  emar rcs "$DEPS/lib/libinih.a" "$W/obj/ini.o"
  emar rcs "$DEPS/lib/liburcu.a" "$W/obj/urcu.o"
  emar rcs "$DEPS/lib/libuuid.a" "$W/obj/uuid.o"
  emar rcs "$DEPS/lib/libblkid.a" "$W/obj/blkid_stub.o" "$W/obj/blkid_topology.o"
}

kheaders() {
  rm -rf "$DEPS/kheaders"; mkdir -p "$DEPS/kheaders/asm"
  cp -r /usr/include/linux /usr/include/asm-generic "$DEPS/kheaders/"
  local f
  for f in /usr/include/asm-generic/*.h; do echo "#include <asm-generic/$(basename "$f")>" > "$DEPS/kheaders/asm/$(basename "$f")"; done
  echo '#include <linux/byteorder/little_endian.h>' > "$DEPS/kheaders/asm/byteorder.h"
}

step_xfs() {
  log "xfsprogs $(up $XFS_VER): configure + build mkfs.xfs"
  mkdir -p "$OUT" "$W/obj"; kheaders
  emcc $CFLAGS_COMMON -c "$REPO/wasm/shim/ioctl_shim.c" -o "$W/obj/ioctl_shim.o"
  emcc $CFLAGS_COMMON -c "$SHIM/xfs_libc.c" -o "$W/obj/xfs_libc.o"
  emcc $CFLAGS_COMMON -c "$REPO/wasm/shim/fallocate.c" -o "$W/obj/fallocate.o"
  emcc $CFLAGS_COMMON -c "$REPO/wasm/shim/xattr.c" -o "$W/obj/xattr.o"
  emcc $CFLAGS_COMMON -c "$SHIM/xattr_fd.c" -o "$W/obj/xattr_fd.o"
  cd "$XSRC"
  # configure: the build-host compiler builds crc32 table generators; the *_cv_* answers are
  # what emscripten's libc really does (cross-compiling, configure cannot run test programs).
  if [ ! -f include/builddefs ]; then
    emconfigure ./configure --host=wasm32-unknown-emscripten BUILD_CC=gcc \
      CFLAGS="$CFLAGS_COMMON -idirafter $DEPS/kheaders" CPPFLAGS="-I$DEPS/include" LDFLAGS="-L$DEPS/lib" \
      --disable-shared --enable-static --enable-gettext=no --enable-editline=no --enable-blkid=yes \
      --disable-scrub --disable-libicu --disable-ubsan --disable-addrsan --disable-threadsan --disable-lto \
      --localstatedir=/var > configure-wasm.log 2>&1 || { tail -40 configure-wasm.log; exit 1; }
  fi
  # -D__linux__: emscripten's clang does not define it, and include/xfs.h refuses any other
  # platform (emscripten's libc is musl with Linux's ABI, so <xfs/linux.h> is the right one).
  # -include time.h: glibc's headers bring in nanosleep() through <pthread.h>, musl's do not.
  # HAVE_*: configure's link tests cannot see what our shims add. getrandom (xfs_libc.c) gives
  # inodes random generation numbers, as Debian's native build does; memfd_create is declared
  # by emscripten's headers (libxfs' fallback would clash with it) and mkfs never calls it.
  local MK=(DEBUG=-DNDEBUG OPTIMIZER="$CFLAGS_COMMON -D__linux__ -I$DEPS/include -include time.h" V=1
    HAVE_GETRANDOM_NONBLOCK=yes HAVE_MEMFD_CREATE=yes
    EXTRA_OBJECTS=)   # libxfs's C++ header-compile checks: not part of any program
  make "${MK[@]}" headers > make-include.log 2>&1 || { tail -30 make-include.log; exit 1; }
  make -j"$JOBS" "${MK[@]}" libfrog libxfs libxcmd > make-libs.log 2>&1 || { tail -30 make-libs.log; exit 1; }
  make -j"$JOBS" -C mkfs "${MK[@]}" > make-mkfs.log 2>&1 || true   # objects; its own link is unused
  local objs; objs=$(ls mkfs/*.o | sort)
  [ -n "$objs" ] || { tail -30 make-mkfs.log; exit 1; }
  local LINK=(-O2 -sNODERAWFS=1 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=2147483648 -sEXIT_RUNTIME=1
    -sMODULARIZE=1 -sEXPORT_NAME=createMkfsXfs -sINVOKE_RUN=0 -sENVIRONMENT=node
    -sNODEJS_CATCH_EXIT=0 -sNODEJS_CATCH_REJECTION=0
    "-sEXPORTED_RUNTIME_METHODS=[\"FS\",\"callMain\"]"
    --pre-js "$GLUE/pre.js" --post-js "$GLUE/post.js" --js-library "$GLUE/lib64.js" --js-library "$GLUE/xattr.js"
    --js-library "$REPO/wasm/xfs/glue/fdpath.js" --js-library "$REPO/wasm/xfs/glue/mtime.js"
    -Wl,--wrap=ioctl -Wl,--wrap=sysconf -Wl,--wrap=getpagesize -Wl,--wrap=getsubopt)
  # shellcheck disable=SC2086
  emcc -o "$OUT/mkfs.xfs.js" $objs libxfs/.libs/libxfs.a libxcmd/.libs/libxcmd.a libfrog/.libs/libfrog.a \
    "$DEPS/lib/libblkid.a" "$DEPS/lib/libuuid.a" "$DEPS/lib/libinih.a" "$DEPS/lib/liburcu.a" \
    "$W/obj/ioctl_shim.o" "$W/obj/xfs_libc.o" "$W/obj/fallocate.o" "$W/obj/xattr.o" "$W/obj/xattr_fd.o" "${LINK[@]}"
  ls -l "$OUT"/mkfs.xfs.*
}

step_install() {
  log "install into $DEST/"
  local D=$REPO/$DEST
  mkdir -p "$D/licenses"
  cp "$OUT/mkfs.xfs.js" "$D/mkfs.xfs.cjs"; cp "$OUT/mkfs.xfs.wasm" "$D/mkfs.xfs.wasm"
  cp -r "$XSRC/LICENSES/." "$D/licenses/"
  cp "$XSRC/debian/copyright" "$D/licenses/xfsprogs-debian-copyright"
  cp "$W/inih/LICENSE.txt" "$D/licenses/libinih-LICENSE.txt"
  cp "$W/inih/debian/copyright" "$D/licenses/libinih-debian-copyright"
  {
    echo "# Sources of the committed WebAssembly build (tools/build-xfs-wasm.sh)."
    echo "debian-suite: $SUITE"
    echo "xfsprogs: $XFS_VER"
    echo "libinih: $INIH_VER (trixie)"
    echo "emscripten: $(dpkg-query -W -f='${Version}' emscripten)"
    echo "clang: $(dpkg-query -W -f='${Version}' clang-14 2>/dev/null || echo unknown)"
    echo "binaryen: $(dpkg-query -W -f='${Version}' binaryen 2>/dev/null || echo unknown)"
    echo "our-shims-and-patches (sha256):"
    (cd "$REPO/wasm" && sha256sum -- xfs/ext/*.c xfs/shim/*.c xfs/shim/include/*.h xfs/shim/include/*/*.h xfs/patches/"$SUITE"-*.patch \
       xfs/glue/*.js shim/ioctl_shim.c shim/blkid_stub.c shim/fallocate.c shim/xattr.c \
       shim/include/blkid/blkid.h glue/*.js | sed 's/^/  /')
    echo "source-files (sha256, as listed in the .dsc files):"
    (cd "$W/src" && sha256sum -- xfsprogs_"$(up $XFS_VER)".orig.tar.* "xfsprogs_$XFS_VER.debian.tar.xz" \
       libinih_"$(up $INIH_VER)".orig.tar.* "libinih_$INIH_VER.debian.tar.xz" | grep -v '\.asc$' | sed 's/^/  /')
  } > "$D/SOURCES"
  (cd "$D" && sha256sum mkfs.xfs.cjs mkfs.xfs.wasm > SHA256SUMS && cat SHA256SUMS)
}

steps=("$@"); [ ${#steps[@]} -gt 0 ] || steps=(setup fetch deps xfs install)
for s in "${steps[@]}"; do "step_$s"; done
