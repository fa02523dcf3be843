#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The Debian packages on a Debian 12 host, end to end. Builds the source and
# binary packages (scripts/package.sh: dpkg-buildpackage without network,
# lintian clean) and installs them into a throwaway root: a copy-on-write
# overlay of this system in private mount and network namespaces (loopback
# only), entered with chroot. Real dpkg and maintainer scripts, real libpam
# and pamtester, Debian's freeradius running as freerad with its default
# configuration plus otpgate, openssh-server's stacks; nothing reaches the
# host (the overlay's upper layer is thrown away). Needs root; skipped
# otherwise (exit 77).
#   install_test.sh SOURCE_DIR [DEB_DIR]   (DEB_DIR given: use those .debs)
# The build skips the test suite (DEB_BUILD_OPTIONS=nocheck: the same CTest
# run already runs it); OTPGATE_PACKAGE_CHECK=1 runs it inside the build too.
# Bound: about 4 minutes on 2 cores (the build is most of it).
set -euo pipefail
SRC=$(realpath "$1")
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (mount namespace, overlay, chroot)"; exit 77; }
START=$(date +%s)
WORK=$(mktemp -d /var/tmp/otpgate-install.XXXXXX)
chmod 0755 "$WORK"  # the package build's tests run some parts as nobody
trap 'rm -rf "$WORK"' EXIT
DEBS=${2:-$WORK/deb}
if [ -z "${2:-}" ]; then
  [ "${OTPGATE_PACKAGE_CHECK:-0}" = 1 ] || export DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}"
  "$SRC/scripts/package.sh" "$DEBS" > "$WORK/package.log" 2>&1 || { tail -40 "$WORK/package.log"; exit 1; }
  grep -q "unshare --net" "$SRC/scripts/package.sh"  # the build ran offline
fi
BUILT=$(date +%s)

# The store directory is never in a .deb (so never world-readable between
# unpack and configure): postinst makes it root:otpgate 2770.
if dpkg-deb -c "$DEBS"/otpgate_*.deb | grep -q ' \./var/lib/otpgate/'; then
  echo "FAIL: otpgate.deb ships /var/lib/otpgate"; exit 1
fi

# openssh-server for sshd's stack, fetched now (not installed on the host).
mkdir -p "$WORK/upper/debs/ssh/partial"
apt-get install -qq -y --download-only --no-install-recommends \
  -o Dir::Cache::archives="$WORK/upper/debs/ssh" openssh-server > "$WORK/ssh.log" 2>&1 ||
  { cat "$WORK/ssh.log"; exit 1; }
cp "$DEBS"/otpgate_*.deb "$DEBS"/libpam-otpgate_*.deb "$DEBS"/freeradius-otpgate_*.deb \
  "$WORK/upper/debs/"
mkdir -p "$WORK/work" "$WORK/root"
cp "$SRC/tests/package/inside.sh" "$WORK/upper/debs/inside.sh"

rc=0
unshare --mount --net --fork bash -c "
  set -e
  ip link set lo up
  mount --make-rprivate /
  mount -t overlay overlay -o lowerdir=/,upperdir=$WORK/upper,workdir=$WORK/work $WORK/root
  mount -t proc proc $WORK/root/proc
  mount --rbind /dev $WORK/root/dev
  mount -t sysfs sys $WORK/root/sys
  mount -t tmpfs tmpfs $WORK/root/tmp
  mount -t tmpfs tmpfs $WORK/root/run
  chroot $WORK/root /debs/inside.sh
" || rc=$?
echo "wall time: build $((BUILT - START)) s, install test $(( $(date +%s) - BUILT )) s"
exit $rc
