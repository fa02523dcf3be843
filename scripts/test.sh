#!/usr/bin/env bash
# Sets up (missing Debian packages), configures, builds and runs the whole
# test suite with CTest. Exits non-zero on any failure.
#   scripts/test.sh            # everything
#   scripts/test.sh -L unit    # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
otpgate_install_deps

BUILD_DIR=${OTPGATE_BUILD_DIR:-build}
WERROR=OFF
[ "${CI:-}" = true ] && WERROR=ON
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTPGATE_WERROR=$WERROR \
  -DOTPGATE_BUILD_RADIUS=${OTPGATE_BUILD_RADIUS:-ON}
cmake --build "$BUILD_DIR" -j"$(nproc)"
cd "$BUILD_DIR"
ctest --output-on-failure -j"$(nproc)" "$@"
