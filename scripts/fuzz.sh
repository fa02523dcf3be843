#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, -fsanitize=fuzzer,address,undefined)
# in their own build directory and runs them through CTest (label `fuzz`).
#   scripts/fuzz.sh                 # each target OTPGATE_FUZZ_SECONDS (20) s
#   OTPGATE_FUZZ_SECONDS=3600 scripts/fuzz.sh -R token_csv   # a long run of one
# Extra arguments go to ctest. The build directory is build-fuzz unless
# OTPGATE_FUZZ_BUILD_DIR says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${OTPGATE_FUZZ_BUILD_DIR:-build-fuzz}
CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOTPGATE_FUZZ=ON -DOTPGATE_SANITIZE=address,undefined \
  -DOTPGATE_FUZZ_SECONDS="${OTPGATE_FUZZ_SECONDS:-20}" \
  -DOTPGATE_BUILD_TESTS=OFF -DOTPGATE_BUILD_BENCH=OFF -DOTPGATE_BUILD_RADIUS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target otpgate_fuzzers
cd "$BUILD_DIR"
ctest --output-on-failure -L fuzz -j"$(nproc)" "$@"
