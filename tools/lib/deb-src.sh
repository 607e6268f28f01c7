# Sourced by the tools/build-*-wasm.sh recipes (developer tools; CI never builds).
#
# add_deb_src SUITE: a deb-src entry for SUITE on the Debian mirror this machine already uses (a
# new file, deb-src only, so no SUITE binaries can be installed by accident), then apt-get update.
add_deb_src() {
  local suite=$1 mirror f
  mirror=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
           | grep -v security | grep -oE 'https?://[^ ]*/debian/?' | head -1 || true)
  [ -n "$mirror" ] || { echo "no Debian mirror found in the apt sources" >&2; exit 1; }
  f=/etc/apt/sources.list.d/repart-ts-$suite-src.sources
  if [ ! -f "$f" ]; then
    printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" "$suite" > "$f"
  fi
  apt-get update -qq
}
