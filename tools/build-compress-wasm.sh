#!/usr/bin/env bash
# Developer tool (never run by CI, npm ci or npm test): rebuild the committed WebAssembly
# builds of libzstd (wasm/zstd/) and liblzma (wasm/xz/) from Debian source packages with
# Debian's emscripten. Only the libraries' streaming APIs are built (through the small C
# surfaces in tools/compress/*-api.c), not the CLIs. ~3 minutes on 2 cores.
#
#   sudo tools/build-compress-wasm.sh          # everything: setup, fetch, zstd, xz, install
#   sudo tools/build-compress-wasm.sh STEP...  # setup | fetch | zstd | xz | install
#
# Steps:
#   setup    apt-get install emscripten (bookworm package), and add a deb-src entry for $SUITE
#            on the mirror this machine already uses (a new file, deb-src only, so no $SUITE
#            binaries can be installed by accident; shared with tools/build-wasm.sh).
#   fetch    apt-get source --download-only of the pinned versions below, check every file's
#            SHA-256 against the .dsc, unpack, apply Debian's own patch series.
#   zstd     compile lib/{common,compress,decompress} + tools/compress/zstd-api.c, link.
#   xz       emconfigure liblzma (no CLIs, no threads), build, link with tools/compress/xz-api.c.
#   install  copy the .cjs/.wasm, license texts, SOURCES and SHA256SUMS into wasm/{zstd,xz}/.
#
# Reproducibility: fixed build directory, -ffile-prefix-map, pinned SOURCE_DATE_EPOCH, fixed
# link order: a rebuild with the same emscripten package gives the same bytes.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
W=${COMPRESS_BUILD_DIR:-/var/tmp/repart-ts-compress-build}
SUITE=trixie
ZSTD_VER=1.5.7+dfsg-1          # source package "libzstd" (binary: zstd, libzstd1)
XZ_VER=5.8.1-1+deb13u1         # trixie point release (CVE fix in lzma_index_append); the mirror 404s on +deb13u2
JOBS=${JOBS:-$(nproc)}
export SOURCE_DATE_EPOCH=1735689600
export NODE_PATH=/usr/share/nodejs     # Debian's node-acorn; nodesource node does not look there
export LC_ALL=C TZ=UTC
unset EM_CACHE                         # Debian ships a frozen, prebuilt sysroot cache

ZSTD_UP=${ZSTD_VER%-*}; XZ_UP=${XZ_VER%-*}
ZSRC=$W/zstd
XSRC=$W/xz
OUT=$W/out
API=$REPO/tools/compress
# -msimd128: wasm SIMD (Node >= 16.4); lets clang vectorise loops, ~5% on zstd -3.
CFLAGS_COMMON="-O3 -msimd128 -ffile-prefix-map=$W/=/build/ -fdebug-prefix-map=$W/=/build/ -ffile-prefix-map=$REPO/=/repart-ts/"
log() { printf '\n== %s\n' "$*" >&2; }
. "$REPO/tools/lib/deb-src.sh"

step_setup() {
  log "setup: emscripten and deb-src for $SUITE"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends emscripten python3 xz-utils patch >/dev/null
  add_deb_src "$SUITE"
}

# Check every file the .dsc lists that we have against its SHA-256 (apt already checked the
# .dsc against the signed Sources index). A missing signature is fine; anything else is not.
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

apply_series() {
  local dir=$1 p
  [ -f "$dir/debian/patches/series" ] || return 0
  ( cd "$dir" && while read -r p _; do case $p in ''|'#'*) continue;; esac
      patch -p1 -s < "debian/patches/$p"; done < debian/patches/series )
}

step_fetch() {
  log "fetch: libzstd=$ZSTD_VER xz-utils=$XZ_VER"
  mkdir -p "$W/src"; cd "$W/src"
  # `apt-get source pkg/$SUITE` resolves through the installed binary's version and fails;
  # exact versions work.
  apt-get source --download-only "libzstd=$ZSTD_VER" "xz-utils=$XZ_VER" >/dev/null 2>&1 || true
  verify_dsc "libzstd_$ZSTD_VER.dsc" "xz-utils_$XZ_VER.dsc"
  rm -rf "$ZSRC" "$XSRC"; mkdir -p "$ZSRC" "$XSRC"
  tar -C "$ZSRC" --strip-components=1 -xf "libzstd_$ZSTD_UP.orig.tar.xz"
  tar -C "$ZSRC" -xJf "libzstd_$ZSTD_VER.debian.tar.xz"
  tar -C "$XSRC" --strip-components=1 -xf "xz-utils_$XZ_UP.orig.tar.xz"
  tar -C "$XSRC" -xJf "xz-utils_$XZ_VER.debian.tar.xz"
  apply_series "$ZSRC"; apply_series "$XSRC"
}

# MODULARIZE: one factory per codec; src/compress instantiates it with a WebAssembly.Module
# compiled once per thread (instantiateWasm), so nothing is fetched or read by the glue.
# No filesystem, no exit runtime: these are libraries driven call by call.
link_flags() {
  local name=$1 exports=$2
  LINK=(-O3 -sMODULARIZE=1 -sEXPORT_NAME="$name" -sENVIRONMENT=node -sFILESYSTEM=0
    -sALLOW_MEMORY_GROWTH=1 -sINITIAL_MEMORY=16777216 -sMAXIMUM_MEMORY=2147483648
    -sNODEJS_CATCH_EXIT=0 -sNODEJS_CATCH_REJECTION=0 -sINCOMING_MODULE_JS_API=[instantiateWasm,onAbort,print,printErr]
    "-sEXPORTED_FUNCTIONS=[$exports,\"_malloc\",\"_free\"]"
    "-sEXPORTED_RUNTIME_METHODS=[\"UTF8ToString\"]"
    --pre-js "$API/pre.js")
}

step_zstd() {
  log "zstd: libzstd $ZSTD_UP (compress + decompress, single-threaded)"
  mkdir -p "$W/obj/zstd" "$OUT"
  local f o objs=()
  # ZSTD_DISABLE_ASM: the x86-64 Huffman decoder in .S; no legacy formats (zstd < 0.8);
  # no ZSTD_MULTITHREAD: threads are ours (one frame per worker).
  for f in "$ZSRC"/lib/common/*.c "$ZSRC"/lib/compress/*.c "$ZSRC"/lib/decompress/*.c; do
    o=$W/obj/zstd/$(basename "$(dirname "$f")")-$(basename "$f" .c).o
    emcc $CFLAGS_COMMON -DZSTD_DISABLE_ASM -DZSTD_LEGACY_SUPPORT=0 -DXXH_NAMESPACE=ZSTD_ \
      -I"$ZSRC/lib" -I"$ZSRC/lib/common" -c "$f" -o "$o" &
    objs+=("$o")
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n; done
  done
  wait
  emcc $CFLAGS_COMMON -I"$ZSRC/lib" -c "$API/zstd-api.c" -o "$W/obj/zstd/api.o"
  link_flags createZstd '"_rz_zstd_version","_rz_zstd_max_level","_rz_zstd_is_error","_rz_zstd_error_name","_rz_zstd_cstream_size","_rz_zstd_cctx","_rz_zstd_begin","_rz_zstd_compress","_rz_zstd_cctx_free","_rz_zstd_dctx","_rz_zstd_decompress","_rz_zstd_dctx_free"'
  emcc -o "$OUT/zstd.js" "$W/obj/zstd/api.o" "${objs[@]}" "${LINK[@]}"
  ls -l "$OUT"/zstd.*
}

step_xz() {
  log "xz: liblzma $XZ_UP (no CLIs, no threads)"
  mkdir -p "$W/obj/xz" "$OUT"
  local B=$XSRC/build-wasm
  mkdir -p "$B"; cd "$B"
  if [ ! -f config.status ]; then
    emconfigure ../configure --host=wasm32-unknown-emscripten CFLAGS="$CFLAGS_COMMON" \
      --disable-shared --enable-static --disable-threads --disable-xz --disable-xzdec \
      --disable-lzmadec --disable-lzmainfo --disable-lzma-links --disable-scripts --disable-doc \
      --disable-nls --disable-sandbox --disable-assembler --disable-microlzma --disable-lzip-decoder \
      --disable-clmul-crc --disable-arm64-crc32 --disable-loongarch-crc32 \
      > configure.log 2>&1 || { tail -30 configure.log; exit 1; }
  fi
  make -j"$JOBS" -C src/liblzma > make.log 2>&1 || { tail -30 make.log; exit 1; }
  emcc $CFLAGS_COMMON -I"$XSRC/src/liblzma/api" -c "$API/xz-api.c" -o "$W/obj/xz/api.o"
  link_flags createXz '"_rz_xz_version","_rz_xz_encoder_memusage","_rz_xz_stream","_rz_xz_encoder","_rz_xz_decoder","_rz_xz_code","_rz_xz_stream_free"'
  emcc -o "$OUT/xz.js" "$W/obj/xz/api.o" src/liblzma/.libs/liblzma.a "${LINK[@]}"
  ls -l "$OUT"/xz.*
}

write_sources() {
  local D=$1 pkg=$2 ver=$3; shift 3
  {
    echo "# Source of the committed WebAssembly build (tools/build-compress-wasm.sh)."
    echo "debian-suite: $SUITE"
    echo "$pkg: $ver"
    echo "emscripten: $(dpkg-query -W -f='${Version}' emscripten)"
    echo "clang: $(dpkg-query -W -f='${Version}' clang-14 2>/dev/null || echo unknown)"
    echo "binaryen: $(dpkg-query -W -f='${Version}' binaryen 2>/dev/null || echo unknown)"
    echo "api-shim (sha256):"; (cd "$API" && sha256sum -- "$@" pre.js | sed 's/^/  /')
    echo "source-files (sha256, as listed in the .dsc):"
    (cd "$W/src" && sha256sum -- "${pkg}_"*.orig.tar.* "${pkg}_$ver.debian.tar."* | sed 's/^/  /')
  } > "$D/SOURCES"
}

step_install() {
  log "install into wasm/zstd and wasm/xz"
  local Z=$REPO/wasm/zstd X=$REPO/wasm/xz
  mkdir -p "$Z/licenses" "$X/licenses"
  # .cjs: the package is "type": "module", and emscripten's glue is CommonJS.
  cp "$OUT/zstd.js" "$Z/zstd.cjs"; cp "$OUT/zstd.wasm" "$Z/zstd.wasm"
  cp "$OUT/xz.js" "$X/xz.cjs"; cp "$OUT/xz.wasm" "$X/xz.wasm"
  cp "$ZSRC/LICENSE" "$Z/licenses/zstd-LICENSE"          # BSD-3-Clause
  cp "$ZSRC/COPYING" "$Z/licenses/zstd-COPYING"          # GPL-2.0 (dual licence)
  cp "$ZSRC/debian/copyright" "$Z/licenses/zstd-debian-copyright"
  cp "$XSRC/COPYING" "$X/licenses/xz-COPYING"            # which part is under which licence
  cp "$XSRC/COPYING.0BSD" "$X/licenses/xz-COPYING.0BSD"  # liblzma
  cp "$XSRC/debian/copyright" "$X/licenses/xz-debian-copyright"
  write_sources "$Z" libzstd "$ZSTD_VER" zstd-api.c
  write_sources "$X" xz-utils "$XZ_VER" xz-api.c
  (cd "$Z" && sha256sum zstd.cjs zstd.wasm > SHA256SUMS && cat SHA256SUMS)
  (cd "$X" && sha256sum xz.cjs xz.wasm > SHA256SUMS && cat SHA256SUMS)
}

steps=("$@"); [ ${#steps[@]} -gt 0 ] || steps=(setup fetch zstd xz install)
for s in "${steps[@]}"; do "step_$s"; done
