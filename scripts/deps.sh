#!/usr/bin/env bash
# Installs the Debian 12 packages otpgate needs to build, test and demo,
# skipping those already installed. Sourced by test.sh and demo.sh.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

OTPGATE_BUILD_PACKAGES=(
  build-essential cmake pkg-config
  libssl-dev liblmdb-dev libpam0g-dev libqrencode-dev libcli11-dev libxml2-dev
  libgtest-dev libgmock-dev libbenchmark-dev libpng-dev
  libpq-dev  # the PostgreSQL store backend
  # FreeRADIUS module: headers, and dpkg-dev to unpack the missing ones
  freeradius freeradius-utils libfreeradius-dev libtalloc-dev libpcre3-dev dpkg-dev
)
OTPGATE_TEST_PACKAGES=(
  oathtool lmdb-utils python3 time
  libpam-wrapper pamtester libpam-modules libpam-oath
  postgresql  # a real PostgreSQL 15 for the store conformance and pool tests
  # token files written by other tools: PSKC (python3-pskc), google-authenticator,
  # and zbarimg to decode the QR images
  python3-pskc libpam-google-authenticator zbar-tools
  # fuzz/ (scripts/fuzz.sh): clang with libFuzzer and its sanitizer runtimes
  clang-14 libclang-rt-14-dev
  # the style test (tests/style): .clang-format is enforced
  clang-format
)

# scripts/package.sh and the package test (ctest -L package) only.
OTPGATE_PACKAGE_PACKAGES=(debhelper lintian fakeroot iproute2)

otpgate_missing_packages() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
  done
}

otpgate_install_deps() {
  local missing
  missing=$(otpgate_missing_packages "${OTPGATE_BUILD_PACKAGES[@]}" "${OTPGATE_TEST_PACKAGES[@]}")
  [ -z "$missing" ] && return 0
  echo "otpgate: installing missing packages:" $missing
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  # freeradius' postinst tries to start the service; on machines without
  # systemd that must not fail the install.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # shellcheck disable=SC2086
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  otpgate_install_deps
fi
