#!/usr/bin/env bash
# Builds the Debian packages (otpgate, libpam-otpgate, freeradius-otpgate)
# with dpkg-buildpackage from a copy of the committed tree, then runs lintian
# on them. The .debs end up in OUT_DIR (default build-deb/).
#   scripts/package.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
otpgate_install_deps
missing=$(otpgate_missing_packages debhelper lintian fakeroot)
if [ -n "$missing" ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  # shellcheck disable=SC2086
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
OUT=$(realpath -m "${1:-build-deb}")
rm -rf "$OUT"; mkdir -p "$OUT/src"
# A clean copy: dpkg-buildpackage writes next to the source tree.
git ls-files -z | xargs -0 cp --parents -t "$OUT/src"
(cd "$OUT/src" && dpkg-buildpackage -us -uc -b) > "$OUT/build.log" 2>&1 || {
  tail -60 "$OUT/build.log"; echo "dpkg-buildpackage failed; full log: $OUT/build.log"; exit 1; }
ls "$OUT"/*.deb
# No errors allowed; each remaining warning is explained in debian/*.lintian-overrides.
lintian --fail-on error --display-info "$OUT"/*.changes | tee "$OUT/lintian.log"
