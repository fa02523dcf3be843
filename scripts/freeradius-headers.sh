#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Debian's libfreeradius-dev (3.2.1) lacks 8 headers that radiusd.h and
# modules.h include. They come from Debian's own freeradius *source* package
# of the installed version, fetched without root and without touching
# /etc/apt (a private deb-src list, see docs/recipes in the README).
#
#   freeradius-headers.sh OUT_DIR
#       developer builds: fetch, then install the headers into
#       OUT_DIR/freeradius/ (needs the network once; cached by version)
#   freeradius-headers.sh --component TARBALL
#       scripts/package.sh: fetch, then write the source package's second
#       upstream component (orig-freeradius): those headers, FreeRADIUS's
#       LICENSE and COPYRIGHT, and DEBIAN-VERSION naming the source package
#   freeradius-headers.sh --from COMPONENT_DIR OUT_DIR
#       the package build (offline): install the headers from the unpacked
#       component; refuses a component made for another freeradius version
#
# Installing rewrites <freeradius-devel/X> to <freeradius/X>, as upstream's
# `make install` does. Nothing fetched is committed.
set -euo pipefail
HEADERS="automask.h clients.h connection.h listen.h log.h process.h tmpl.h xlat.h"
installed_version() {
  dpkg-query -W -f='${Version}' libfreeradius-dev 2>/dev/null ||
    { echo "libfreeradius-dev is not installed" >&2; exit 1; }
}

# Unpacks the freeradius source package of VERSION into $1/src.
fetch_source() {
  local work=$1 version=$2
  mkdir -p "$work/sources" "$work/lists/partial" "$work/cache/archives/partial"
  local sources=/etc/apt/sources.list.d/debian.sources
  if [ -f "$sources" ]; then
    sed 's/^Types: deb$/Types: deb-src/' "$sources" > "$work/sources/debian-src.sources"
  else
    grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | sed 's/^deb /deb-src /' > "$work/sources/debian-src.list"
  fi
  local opts=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$work/sources"
              -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o Debug::NoLocking=1
              -o APT::Sandbox::User="$(id -un)")
  apt-get "${opts[@]}" -qq update
  (cd "$work" && apt-get "${opts[@]}" -qq source --download-only "freeradius=$version")
  (cd "$work" && dpkg-source --no-check -x freeradius_*.dsc src >/dev/null)
}

install_headers() {  # SRC_INCLUDE_DIR OUT_DIR
  mkdir -p "$2/freeradius"
  for h in $HEADERS; do
    sed 's|#include <freeradius-devel/|#include <freeradius/|' "$1/$h" > "$2/freeradius/$h"
  done
}

case "${1:-}" in
  --component)
    TARBALL=$(realpath -m "${2:?usage: $0 --component TARBALL}")
    VERSION=$(installed_version)
    WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
    fetch_source "$WORK" "$VERSION"
    C="$WORK/freeradius"
    mkdir -p "$C/src/include"
    for h in $HEADERS; do cp "$WORK/src/src/include/$h" "$C/src/include/"; done
    cp "$WORK/src/LICENSE" "$WORK/src/COPYRIGHT" "$C/"
    echo "$VERSION" > "$C/DEBIAN-VERSION"
    # Reproducible: fixed order, owner and time (the source package's date).
    MTIME=$(sed -n 's/^ -- .*>  //p' "$WORK/src/debian/changelog" | head -1)
    tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="$MTIME" \
        -C "$WORK" -cf - freeradius | xz -6 > "$TARBALL"
    echo "orig-freeradius component for freeradius $VERSION: $TARBALL"
    ;;
  --from)
    COMPONENT=${2:?usage: $0 --from COMPONENT_DIR OUT_DIR}
    OUT=${3:?usage: $0 --from COMPONENT_DIR OUT_DIR}
    VERSION=$(installed_version)
    MADE_FOR=$(cat "$COMPONENT/DEBIAN-VERSION")
    if [ "$MADE_FOR" != "$VERSION" ]; then
      echo "the orig-freeradius component holds the headers of freeradius $MADE_FOR but" \
           "libfreeradius-dev $VERSION is installed: remake the source package with" \
           "scripts/package.sh (rlm_otpgate must be built against the server it loads into)" >&2
      exit 1
    fi
    install_headers "$COMPONENT/src/include" "$OUT"
    ;;
  *)
    OUT=${1:?usage: $0 OUT_DIR | --component TARBALL | --from COMPONENT_DIR OUT_DIR}
    VERSION=$(installed_version)
    STAMP="$OUT/freeradius/.otpgate-headers-$VERSION"
    [ -f "$STAMP" ] && exit 0
    WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
    fetch_source "$WORK" "$VERSION"
    install_headers "$WORK/src/src/include" "$OUT"
    touch "$STAMP"
    echo "freeradius headers for $VERSION in $OUT/freeradius"
    ;;
esac
