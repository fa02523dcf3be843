#!/usr/bin/env bash
# Builds the .debs (scripts/package.sh) and installs them into a throwaway
# root: a copy-on-write overlay of this Debian 12 system in a private mount
# namespace, entered with chroot. That is real dpkg with the real maintainer
# scripts, real libpam and pamtester, the real freeradius binary, against
# the same packages a Debian 12 host has, in seconds rather than the minutes
# a debootstrap takes; nothing reaches the host (the overlay's upper layer is
# thrown away). Needs root; skipped otherwise (exit 77).
#   install_test.sh SOURCE_DIR [DEB_DIR]   (DEB_DIR given: use those .debs)
set -euo pipefail
SRC=$1
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (mount namespace, overlay, chroot)"; exit 77; }
WORK=$(mktemp -d /var/tmp/otpgate-install.XXXXXX)
chmod 0755 "$WORK"  # the package build's tests run some parts as nobody
trap 'rm -rf "$WORK"' EXIT
DEBS=${2:-$WORK/deb}
if [ -z "${2:-}" ]; then
  "$SRC/scripts/package.sh" "$DEBS" > "$WORK/package.log" 2>&1 || { tail -40 "$WORK/package.log"; exit 1; }
fi
mkdir -p "$WORK/upper" "$WORK/work" "$WORK/root"
cp "$DEBS"/otpgate_*.deb "$DEBS"/libpam-otpgate_*.deb "$DEBS"/freeradius-otpgate_*.deb "$WORK/upper/" 2>/dev/null ||
  { mkdir -p "$WORK/upper/tmp"; }
mkdir -p "$WORK/upper/debs"
mv "$WORK"/upper/*.deb "$WORK/upper/debs/"

cat > "$WORK/upper/debs/inside.sh" <<'INSIDE'
#!/bin/bash
# Runs inside the throwaway root.
set -u
passed=0 failed=0
ok() { if "$@" >/tmp/ok.out 2>&1; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $*"; sed 's/^/    /' /tmp/ok.out | tail -15; fi; }
ok test ! -e /etc/otpgate/master.key
ok dpkg -i /debs/otpgate_*.deb /debs/libpam-otpgate_*.deb /debs/freeradius-otpgate_*.deb
ok otpgate --version
ok otpgate selftest
ok test "$(stat -c '%a %U' /etc/otpgate/master.key)" = "600 root"
ok test "$(stat -c '%a %U' /var/lib/otpgate)" = "700 root"
ok test "$(stat -c '%a' /var/lib/otpgate/data.mdb)" = 600
# Reinstalling never replaces the key.
sum=$(sha256sum /etc/otpgate/master.key)
ok dpkg -i /debs/otpgate_*.deb
ok test "$(sha256sum /etc/otpgate/master.key)" = "$sum"
# The pam-auth-update profile is installed, not enabled.
ok test -f /usr/share/pam-configs/otpgate
ok bash -c '! grep -q pam_otpgate /etc/pam.d/common-auth'
# pam_otpgate in a real PAM stack, found by name in the multiarch dir.
printf 'auth required pam_otpgate.so unenrolled=deny fail_delay_ms=0\naccount required pam_permit.so\n' > /etc/pam.d/otpgate-install-test
printf 'VSST12345678,3132333435363738393031323334353637383930,hex\n' > /tmp/t.csv
ok otpgate token import /tmp/t.csv
NOW=$(date +%s)
ok otpgate register alice VSST12345678 "$(oathtool --totp -N "@$NOW" 3132333435363738393031323334353637383930)"
NEXT=$(oathtool --totp -N "@$((NOW + 30))" 3132333435363738393031323334353637383930)
ok bash -c "echo $NEXT | timeout 20 pamtester otpgate-install-test alice authenticate"
ok bash -c "! (echo $NEXT | timeout 20 pamtester otpgate-install-test alice authenticate)"
ok bash -c "! (echo 123456 | timeout 20 pamtester otpgate-install-test bob authenticate)"
# freeradius loads rlm_otpgate with the module and the dictionary enabled.
echo '$INCLUDE /usr/share/freeradius/dictionary.otpgate' >> /etc/freeradius/3.0/dictionary
ln -sf ../mods-available/otpgate /etc/freeradius/3.0/mods-enabled/otpgate
ok bash -c 'freeradius -XC 2>&1 | tee /tmp/xc.log | grep -q "Configuration appears to be OK" && grep -q "rlm_otpgate" /tmp/xc.log'
rm -f /etc/freeradius/3.0/mods-enabled/otpgate
# Remove keeps the key and store; purge removes them, and says so.
ok dpkg -r freeradius-otpgate libpam-otpgate otpgate
ok test -e /etc/otpgate/master.key
ok test ! -e /usr/sbin/otpgate
ok bash -c 'dpkg --purge freeradius-otpgate libpam-otpgate otpgate 2>&1 | tee /tmp/purge.log; grep -q "removing the master key" /tmp/purge.log'
ok test ! -e /etc/otpgate/master.key
ok test ! -e /var/lib/otpgate
ok test ! -e /lib/x86_64-linux-gnu/security/pam_otpgate.so
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
INSIDE
chmod +x "$WORK/upper/debs/inside.sh"

unshare --mount --fork bash -c "
  set -e
  mount --make-rprivate /
  mount -t overlay overlay -o lowerdir=/,upperdir=$WORK/upper,workdir=$WORK/work $WORK/root
  mount -t proc proc $WORK/root/proc
  mount --rbind /dev $WORK/root/dev
  mount -t sysfs sys $WORK/root/sys
  mount -t tmpfs tmpfs $WORK/root/tmp
  mount -t tmpfs tmpfs $WORK/root/run
  chroot $WORK/root /debs/inside.sh
"
