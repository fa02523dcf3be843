#!/usr/bin/env bash
# Sets up (missing Debian packages), configures, builds and runs the whole
# test suite with CTest. Exits non-zero on any failure.
#   scripts/test.sh            # every stage (below)
#   scripts/test.sh -L unit    # only the normal build; arguments go to ctest
# Stages, each timed:
#   1. the normal build, every CTest test (unit, integration, reliability, package)
#   2. the whole suite built with -DOTPGATE_SANITIZE=address,undefined in a
#      second build directory: unit tests with leak detection, integration
#      tests with the sanitizer runtime preloaded into the hosts (pamtester,
#      pam_wrapper, radiusd) — see docs/reliability.md
#   3. the fuzz smoke: every libFuzzer target for OTPGATE_FUZZ_SECONDS (20) s
# OTPGATE_STAGES=1,2,3 picks stages.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
otpgate_install_deps

ROOT=$PWD
BUILD_DIR=${OTPGATE_BUILD_DIR:-build}
STAGES=${OTPGATE_STAGES:-1,2,3}
[ $# -gt 0 ] && STAGES=1
WERROR=OFF
[ "${CI:-}" = true ] && WERROR=ON
JOBS=$(nproc)

stage_time() { echo "otpgate: stage $1 took $(( ($(date +%s) - $2) / 60 )) min $(( ($(date +%s) - $2) % 60 )) s"; }
wants() { [[ ",$STAGES," == *",$1,"* ]]; }

if wants 1; then
  started=$(date +%s)
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTPGATE_WERROR=$WERROR \
    -DOTPGATE_BUILD_RADIUS=${OTPGATE_BUILD_RADIUS:-ON}
  cmake --build "$BUILD_DIR" -j"$JOBS"
  (cd "$BUILD_DIR" && ctest --output-on-failure -j"$JOBS" "$@")
  stage_time 1 "$started"
fi

if wants 2; then
  started=$(date +%s)
  ASAN_DIR=${OTPGATE_ASAN_BUILD_DIR:-build-asan}
  cmake -S . -B "$ASAN_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOTPGATE_WERROR=$WERROR \
    -DOTPGATE_SANITIZE=address,undefined -DOTPGATE_BUILD_BENCH=OFF \
    -DOTPGATE_BUILD_RADIUS=${OTPGATE_BUILD_RADIUS:-ON}
  cmake --build "$ASAN_DIR" -j"$JOBS"
  libasan=$(gcc -print-file-name=libasan.so)
  # Load tests whose point is volume or kills, not memory safety, run in
  # stage 1 only: under the sanitizer they would cost CI ~20 minutes and test
  # nothing the instrumented flows, race and leak tests do not.
  # The tests whose hosts run instrumented code: the PAM module inside
  # libpam (pamtester, the PAM drivers, 16 threads), the CLI, and the RADIUS
  # module inside radiusd, including the leak test at debug level and the
  # mixed race, and PAM on a full and a read-only file system. radiusd
  # dlopens its modules with RTLD_DEEPBIND, which the ASan runtime refuses
  # (google/sanitizers#611); the harness preloads dlopen_without_deepbind.so
  # ahead of the runtime to clear that flag. See docs/reliability.md.
  ASAN_HOSTED='integration[.](pam|cli|radius)[.]|integration[.]host[.]store_faults$|reliability[.](leak|race)$'
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  # Our own binaries: every report, leaks included, fails the test.
  (cd "$ASAN_DIR" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
    ctest --output-on-failure -j"$JOBS" -L unit)
  # (-LE postgres: a PostgreSQL server with the runtime preloaded is untried;
  # the PostgreSQL tests run in stage 1.)
  # Hosts we do not build (bash, pamtester, radiusd, python3) run with the
  # runtime preloaded so that our .so files can load into them; they leak by
  # design at exit (radiusd's config tree, bash), so leak checking is off for
  # this part only. Memory errors and UB still abort.
  # Every process's reports also go to a file, so that one in a process
  # whose output a test discards (a racer, a refused login) still fails the
  # stage. (radiusd's go to its own directory: the RADIUS harness checks
  # them.)
  sanitizer_logs=$(mktemp -d)
  chmod 1777 "$sanitizer_logs"
  hosted_rc=0
  (cd "$ASAN_DIR" && LD_PRELOAD="$libasan" OTPGATE_TEST_PRELOAD="$libasan" \
    OTPGATE_TEST_DEEPBIND_SHIM="$PWD/tests/integration/dlopen_without_deepbind.so" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:log_path="$sanitizer_logs/asan" \
    UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$sanitizer_logs/ubsan" \
    ctest --output-on-failure -j"$JOBS" -R "$ASAN_HOSTED" -LE postgres) || hosted_rc=$?
  if compgen -G "$sanitizer_logs/*" > /dev/null; then
    echo "otpgate: sanitizer reports from processes the tests ran:"
    head -n 60 "$sanitizer_logs"/*
    hosted_rc=1
  fi
  rm -rf "$sanitizer_logs"
  [ "$hosted_rc" = 0 ] || exit "$hosted_rc"
  stage_time 2 "$started"
fi

if wants 3; then
  started=$(date +%s)
  "$ROOT/scripts/fuzz.sh"
  stage_time 3 "$started"
fi
