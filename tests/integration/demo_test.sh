#!/usr/bin/env bash
# README's first command, scripts/demo.sh, end to end on this build: it must
# finish with exit 0 and show each of the bank's flows through the CLI, PAM
# and RADIUS with the outcome the demo's text announces.
# Bound: one demo run (~15 s) on the built tree (OTPGATE_DEMO_PREBUILT=1).
# Usage: demo_test.sh SOURCE_DIR BUILD_DIR
set -u
SRC=$1 BUILD=$2
WORK=$(mktemp -d)
chmod 0711 "$WORK"  # the demo's radiusd runs as nobody
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
OTPGATE_DEMO_PREBUILT=1 OTPGATE_BUILD_DIR=$BUILD OTPGATE_DEMO_DIR=$WORK/demo \
  bash "$SRC/scripts/demo.sh" > "$WORK/out" 2>&1
rc=$?
passed=0 failed=0
expect() {  # expect NAME COUNT PATTERN: PATTERN (grep -E) on exactly COUNT lines
  local n; n=$(grep -cE -- "$3" "$WORK/out")
  if [ "$n" = "$2" ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $1: $n lines match '$3', expected $2"; fi
}
if [ "$rc" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: demo exit $rc"; fi
# The CLI part.
expect "registered" 1 '^result: +registration complete'
expect "logins accepted (one after the unlock)" 2 '^result: +login accepted'
expect "replay refused" 1 '^decision: +replay'
expect "wrong codes" 4 '^decision: +reject'
expect "locked" 1 '^decision: +locked'
expect "stopped" 1 '^result: +one-time password stopped'
expect "no token before and after" 2 '^decision: +no-token'
# PAM: password only, register, login, replay, wrong password, stop, password only.
expect "PAM successes" 5 'pamtester: successfully authenticated'
expect "PAM registration message" 1 'One-time password: One-time password registration is complete'
expect "PAM refusals (a replay; pam_exec's answer to a wrong password)" 2 'pamtester: (Authentication failure|System error)$'
# RADIUS and its audit lines.
expect "RADIUS challenges" 2 '^    -> Access-Challenge'
expect "RADIUS rejects" 1 '^    -> Access-Reject'
expect "RADIUS audit lines" 6 'rlm_otpgate \(otpgate\): action='
expect "the demo's end" 1 'Done. The store is in'
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] || { echo "--- demo output:"; cat "$WORK/out"; exit 1; }
