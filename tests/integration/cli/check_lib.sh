# Sourced by the CLI tests: counted checks on exit codes and output.
#   check NAME EXPECTED_EXIT COMMAND...   runs COMMAND, keeps its output in LAST
#   has NAME TEXT                         LAST contains TEXT
# End with: echo "$passed passed, $failed failed"; [ "$failed" = 0 ]
passed=0 failed=0
check() {
  local name=$1 expected=$2; shift 2
  LAST=$("$@" 2>&1); local rc=$?
  if [ "$rc" = "$expected" ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $name: exit $rc, expected $expected"; sed 's/^/    /' <<<"$LAST"; fi
}
has() { if grep -qF -- "$2" <<<"$LAST"; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "FAIL: $1: lacks '$2'"; sed 's/^/    /' <<<"$LAST"; fi; }

# at TIME WRAPPER ARGS...: WRAPPER (a function that runs "${AT[@]:-$OTPGATE}")
# with the command line's clock fixed at TIME: the test build's otpgate_at
# ($OTPGATE_AT) runs the same commands as otpgate, on a fixed clock. The
# shipped otpgate has no time option on commands that write.
at() {
  local -a AT=("${OTPGATE_AT:?OTPGATE_AT: the otpgate_at test driver}" "$1")
  shift
  "$@"
}
