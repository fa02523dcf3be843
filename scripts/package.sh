#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Builds the Debian source package and the binary packages (otpgate,
# libpam-otpgate, freeradius-otpgate) from the committed tree, then runs
# lintian on all of them (no errors, no warnings). Results in OUT_DIR
# (default build-deb/).
#   scripts/package.sh [OUT_DIR]
#
# The source package is 3.0 (quilt) with two upstream tarballs:
#   otpgate_V.orig.tar.xz             the tree (git ls-files, without debian/)
#   otpgate_V.orig-freeradius.tar.xz  the 8 FreeRADIUS headers Debian's
#                                     libfreeradius-dev lacks, from Debian's
#                                     freeradius source package of the
#                                     installed version (fetched here, before
#                                     the build, and cached)
# dpkg-buildpackage then runs without network (as root: in a new network
# namespace with only loopback; otherwise as is). DEB_BUILD_OPTIONS is passed
# through (nocheck skips the test suite inside the build).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
source scripts/deps.sh
otpgate_install_deps
missing=$(otpgate_missing_packages "${OTPGATE_PACKAGE_PACKAGES[@]}")
if [ -n "$missing" ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  # shellcheck disable=SC2086
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
OUT=$(realpath -m "${1:-build-deb}")
UPSTREAM=$(dpkg-parsechangelog -S Version | sed 's/-[^-]*$//')
DATE=$(dpkg-parsechangelog -S Date)
rm -rf "$OUT"; mkdir -p "$OUT"

# The second upstream component, cached per freeradius version.
FR_VERSION=$(dpkg-query -W -f='${Version}' libfreeradius-dev)
CACHE=${OTPGATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/otpgate}
COMPONENT="$CACHE/orig-freeradius-$FR_VERSION.tar.xz"
if [ ! -s "$COMPONENT" ]; then
  mkdir -p "$CACHE"
  scripts/freeradius-headers.sh --component "$COMPONENT.tmp"
  mv "$COMPONENT.tmp" "$COMPONENT"
fi
cp "$COMPONENT" "$OUT/otpgate_$UPSTREAM.orig-freeradius.tar.xz"

# The main upstream tarball: reproducible (order, owner, time from the changelog).
git ls-files -z -- . ':!:debian' |
  tar --null -T - --sort=name --owner=0 --group=0 --numeric-owner --mtime="$DATE" \
      --transform "s|^|otpgate-$UPSTREAM/|" -cf - | xz -6 > "$OUT/otpgate_$UPSTREAM.orig.tar.xz"

TREE="$OUT/otpgate-$UPSTREAM"
tar -C "$OUT" -xJf "$OUT/otpgate_$UPSTREAM.orig.tar.xz"
tar -C "$TREE" -xJf "$OUT/otpgate_$UPSTREAM.orig-freeradius.tar.xz"
git ls-files -z -- debian | xargs -0 cp --parents -t "$TREE"

build=(dpkg-buildpackage -us -uc)
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  offline=(unshare --net sh -c 'ip link set lo up && exec "$@"' offline-build)
else
  offline=()
  echo "package.sh: not root: the build runs with the network it has (no namespace)" >&2
fi
(cd "$TREE" && "${offline[@]}" "${build[@]}") > "$OUT/build.log" 2>&1 || {
  tail -60 "$OUT/build.log"; echo "dpkg-buildpackage failed; full log: $OUT/build.log"; exit 1; }
ls "$OUT"/*.deb "$OUT"/*.dsc
# Clean: no error, no warning; each remaining informational tag is explained
# in debian/*.lintian-overrides.
lintian --fail-on error,warning --display-info "$OUT"/*.changes | tee "$OUT/lintian.log"
