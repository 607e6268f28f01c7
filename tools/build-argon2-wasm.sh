#!/usr/bin/env bash
# Developer tool (never run by CI, npm ci or npm test): rebuild the committed WebAssembly build of
# the Argon2 reference implementation (wasm/argon2/) from Debian trixie's source package `argon2`
# with Debian's emscripten. Only the library's core (argon2.c core.c blake2b.c ref.c) and the
# small C surface wasm/argon2/argon2-api.c are built, no CLI, no threads. ~10 seconds.
#
#   sudo tools/build-argon2-wasm.sh          # everything: setup, fetch, build, install
#   sudo tools/build-argon2-wasm.sh STEP...  # setup | fetch | build | install
#
# Steps:
#   setup    apt-get install emscripten (bookworm package), and add a deb-src entry for $SUITE
#            (the same file tools/build-wasm.sh and tools/build-compress-wasm.sh use).
#   fetch    apt-get source --download-only of the pinned version, check every file we have
#            against the SHA-256 the signed Sources index lists for that version, unpack.
#   build    compile and link a standalone module (no JS glue: its only import is
#            env.emscripten_notify_memory_growth), driven by src/luks/argon2.ts.
#   install  copy argon2.wasm, the licence texts, SOURCES and SHA256SUMS into wasm/argon2/.
#
# Reference (ref.c), not opt.c: opt.c is written for SSE; through emscripten's SSE-to-wasm-SIMD
# headers it was ~15% faster (0.89 s vs 1.06 s for 256 MiB x 4 passes, 2 lanes), not worth
# compiling x86 intrinsics through a translation layer for the one KDF call per partition.
#
# The mirror this machine uses serves the .orig.tar.xz but 404s on argon2's .dsc and
# .debian.tar.xz (for both trixie's -4 and sid's -6), so the checksum comes from `apt-cache
# showsrc` (apt verified that index against the Release signature) and Debian's patch series
# is not applied. We compile upstream's unmodified sources; the .orig is the same file for -4
# and -6.
#
# Reproducibility: fixed build directory, -ffile-prefix-map, pinned SOURCE_DATE_EPOCH, fixed
# source order: a rebuild with the same emscripten package gives the same bytes.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
W=${ARGON2_BUILD_DIR:-/var/tmp/repart-ts-argon2-build}
SUITE=trixie
ARGON2_VER=0~20190702+dfsg-4     # source package "argon2" (binaries: argon2, libargon2-1)
export SOURCE_DATE_EPOCH=1735689600
export LC_ALL=C TZ=UTC
unset EM_CACHE                     # Debian ships a frozen, prebuilt sysroot cache

UP=${ARGON2_VER%-*}
SRC=$W/argon2
OUT=$W/out
API=$REPO/wasm/argon2
ORIG=argon2_$UP.orig.tar.xz
CFLAGS="-O3 -DARGON2_NO_THREADS -ffile-prefix-map=$W/=/build/ -fdebug-prefix-map=$W/=/build/ -ffile-prefix-map=$REPO/=/repart-ts/"
log() { printf '\n== %s\n' "$*" >&2; }
. "$REPO/tools/lib/deb-src.sh"

step_setup() {
  log "setup: emscripten and deb-src for $SUITE"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends emscripten python3 xz-utils >/dev/null
  add_deb_src "$SUITE"
}

# The SHA-256 apt's (signed) Sources index gives for a file of the pinned version.
index_sha256() {
  apt-cache showsrc argon2 | python3 -c '
import re, sys
ver, name = sys.argv[1], sys.argv[2]
for rec in sys.stdin.read().split("\n\n"):
    if not re.search(r"^Version: " + re.escape(ver) + r"$", rec, re.M): continue
    t = rec.split("Checksums-Sha256:")[1]
    t = re.split(r"\n(?=\S)", t, 1)[0]
    for sha, size, n in re.findall(r"^ ([0-9a-f]{64}) (\d+) (\S+)$", t, re.M):
        if n == name: print(sha); sys.exit(0)
sys.exit(f"{name} not listed for argon2 {ver}")' "$ARGON2_VER" "$1"
}

step_fetch() {
  log "fetch: argon2=$ARGON2_VER"
  mkdir -p "$W/src"; cd "$W/src"
  apt-get source --download-only "argon2=$ARGON2_VER" >/dev/null 2>&1 || true
  [ -f "$ORIG" ] || { echo "could not download $ORIG" >&2; exit 1; }
  local want; want=$(index_sha256 "$ORIG")
  echo "$want  $ORIG" | sha256sum -c -
  rm -rf "$SRC"; mkdir -p "$SRC"
  tar -C "$SRC" --strip-components=1 -xJf "$ORIG"
  if [ -f "argon2_$ARGON2_VER.debian.tar.xz" ]; then
    echo "$(index_sha256 "argon2_$ARGON2_VER.debian.tar.xz")  argon2_$ARGON2_VER.debian.tar.xz" | sha256sum -c -
    tar -C "$SRC" -xJf "argon2_$ARGON2_VER.debian.tar.xz"
  fi
}

# STANDALONE_WASM + --no-entry: a plain module exporting malloc/free, rz_argon2 and its memory.
# Memory grows up to 4 GiB (LUKS2's argon2 limit is 4 GiB of blocks); src/luks instantiates a
# fresh instance per derivation so that memory is released afterwards.
step_build() {
  log "build: argon2 $UP (reference implementation, single-threaded)"
  mkdir -p "$W/obj" "$OUT"
  local f objs=()
  for f in src/argon2.c src/core.c src/blake2/blake2b.c src/ref.c; do
    emcc $CFLAGS -I"$SRC/include" -I"$SRC/src" -c "$SRC/$f" -o "$W/obj/$(basename "$f" .c).o"
    objs+=("$W/obj/$(basename "$f" .c).o")
  done
  emcc $CFLAGS -I"$SRC/include" -c "$API/argon2-api.c" -o "$W/obj/api.o"
  emcc -O3 -o "$OUT/argon2.wasm" "$W/obj/api.o" "${objs[@]}" \
    -sSTANDALONE_WASM=1 --no-entry -sFILESYSTEM=0 -sALLOW_MEMORY_GROWTH=1 \
    -sINITIAL_MEMORY=16777216 -sMAXIMUM_MEMORY=4294967296 \
    '-sEXPORTED_FUNCTIONS=["_rz_argon2","_rz_argon2_error","_malloc","_free"]'
  ls -l "$OUT/argon2.wasm"
}

step_install() {
  log "install into wasm/argon2"
  local D=$REPO/wasm/argon2
  mkdir -p "$D/licenses"
  cp "$OUT/argon2.wasm" "$D/argon2.wasm"
  cp "$SRC/LICENSE" "$D/licenses/argon2-LICENSE"   # CC0-1.0 or Apache-2.0, at the user's choice
  {
    echo "# Source of the committed WebAssembly build (tools/build-argon2-wasm.sh)."
    echo "debian-suite: $SUITE"
    echo "argon2: $ARGON2_VER"
    echo "debian-patches: not applied (the mirror 404s on the .debian.tar.xz; see the build script)"
    echo "emscripten: $(dpkg-query -W -f='${Version}' emscripten)"
    echo "clang: $(dpkg-query -W -f='${Version}' clang-14 2>/dev/null || echo unknown)"
    echo "binaryen: $(dpkg-query -W -f='${Version}' binaryen 2>/dev/null || echo unknown)"
    echo "api-shim (sha256):"; (cd "$API" && sha256sum argon2-api.c | sed 's/^/  /')
    echo "compiled: src/argon2.c src/core.c src/blake2/blake2b.c src/ref.c (-O3 -DARGON2_NO_THREADS)"
    echo "source-files (sha256, as listed in the Sources index for $ARGON2_VER):"
    (cd "$W/src" && sha256sum -- "$ORIG" | sed 's/^/  /')
  } > "$D/SOURCES"
  (cd "$D" && sha256sum argon2.wasm > SHA256SUMS && cat SHA256SUMS)
}

steps=("$@"); [ ${#steps[@]} -gt 0 ] || steps=(setup fetch build install)
for s in "${steps[@]}"; do "step_$s"; done
