#!/usr/bin/env bash
# Debian's libfreeradius-dev (3.2.1) lacks 8 headers that radiusd.h and
# modules.h include. This fetches the Debian *source* package of the
# installed version (no root, /etc/apt untouched), and copies those headers
# into OUT_DIR/freeradius/, rewriting <freeradius-devel/X> to <freeradius/X>
# as upstream's `make install` does. Nothing fetched is committed.
#   scripts/freeradius-headers.sh OUT_DIR
set -euo pipefail
OUT=${1:?usage: $0 OUT_DIR}
HEADERS="automask.h clients.h connection.h listen.h log.h process.h tmpl.h xlat.h"
VERSION=$(dpkg-query -W -f='${Version}' libfreeradius-dev 2>/dev/null) ||
  { echo "libfreeradius-dev is not installed" >&2; exit 1; }
STAMP="$OUT/freeradius/.otpgate-headers-$VERSION"
[ -f "$STAMP" ] && exit 0

WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/sources" "$WORK/lists/partial" "$WORK/cache/archives/partial"
SOURCES=/etc/apt/sources.list.d/debian.sources
if [ -f "$SOURCES" ]; then
  sed 's/^Types: deb$/Types: deb-src/' "$SOURCES" > "$WORK/sources/debian-src.sources"
else
  grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | sed 's/^deb /deb-src /' > "$WORK/sources/debian-src.list"
fi
APT_OPTS=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$WORK/sources"
          -o Dir::State::Lists="$WORK/lists" -o Dir::Cache="$WORK/cache" -o Debug::NoLocking=1
          -o APT::Sandbox::User="$(id -un)")
apt-get "${APT_OPTS[@]}" -qq update
(cd "$WORK" && apt-get "${APT_OPTS[@]}" -qq source --download-only "freeradius=$VERSION")
DSC=$(ls "$WORK"/freeradius_*.dsc)
(cd "$WORK" && dpkg-source --no-check -x "$DSC" src >/dev/null)
mkdir -p "$OUT/freeradius"
for h in $HEADERS; do
  sed 's|#include <freeradius-devel/|#include <freeradius/|' "$WORK/src/src/include/$h" > "$OUT/freeradius/$h"
done
touch "$STAMP"
echo "freeradius headers for $VERSION in $OUT/freeradius"
