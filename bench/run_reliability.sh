#!/usr/bin/env bash
# The long versions of tests/reliability (docs/reliability.md has the figures):
#   bench/run_reliability.sh BUILD_DIR [TRIALS] [ROUNDS]
# 1,000 kill -9 crash trials and 1,000 mixed-race rounds by default.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$SRC/build}" && pwd)
TRIALS=${2:-1000} ROUNDS=${3:-1000}
time "$SRC/tests/reliability/crash_test.sh" "$BUILD" "$SRC" "$TRIALS"
time "$SRC/tests/reliability/race_test.sh" "$BUILD" "$SRC" "$ROUNDS"
