#!/usr/bin/env bash
# Issue 11: processes SIGKILLed in the middle of write transactions must not
# leave the store locked. Each trial starts two writers (each holding the
# write lock ~0.2 ms per transaction, so a kill almost always lands inside
# one), a reader and a CLI login, SIGKILLs the writers at a random moment,
# and then requires a new process to complete writes within 10 s, and the
# CLI to list the store.
# Usage: kill_trials_test.sh STORE_HAMMER OTPGATE_CLI [TRIALS]   (default 100)
# Bound: ~0.2 s per trial (about 30 s for 100), at most 10 s per stuck trial.
set -euo pipefail
HAMMER=$(realpath "$1") CLI=$(realpath "$2") TRIALS=${3:-100}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
printf 'store = %s\nmaster_key = %s\n' "$WORK/store" "$WORK/master.key" > "$WORK/otpgate.conf"
og() { "$CLI" --config "$WORK/otpgate.conf" "$@"; }
og init >/dev/null
echo "KILL00000001,3132333435363738393031323334353637383930,hex" > "$WORK/t.csv"
og token import "$WORK/t.csv" >/dev/null
og register alice KILL00000001 "$(oathtool --totp 3132333435363738393031323334353637383930)" >/dev/null

proceeded=0 stuck=0 failed=0
START=$(date +%s)
for ((t = 1; t <= TRIALS; t++)); do
  "$HAMMER" "$WORK/store" write 1000000 2>/dev/null & W1=$!
  "$HAMMER" "$WORK/store" write 1000000 2>/dev/null & W2=$!
  "$HAMMER" "$WORK/store" read 100000000 2>/dev/null & R=$!
  og verify alice 000000 >/dev/null 2>&1 & C=$!
  sleep "0.0$((RANDOM % 90 + 10))"
  kill -9 $W1 $W2 $C 2>/dev/null || true
  wait $W1 $W2 $C 2>/dev/null || true
  rc=0
  timeout 10 "$HAMMER" "$WORK/store" write 5 2> "$WORK/next.err" || rc=$?
  if [ $rc = 0 ] && timeout 10 "$CLI" --config "$WORK/otpgate.conf" list >/dev/null 2>>"$WORK/next.err"; then
    proceeded=$((proceeded + 1))
  elif [ $rc = 124 ]; then
    stuck=$((stuck + 1)); echo "trial $t: the next writer was stuck for 10 s"
  else
    failed=$((failed + 1)); echo "trial $t: the next process failed (exit $rc):"; cat "$WORK/next.err"
  fi
  kill -9 $R 2>/dev/null || true
  wait $R 2>/dev/null || true
done
echo "trials=$TRIALS proceeded=$proceeded stuck=$stuck failed=$failed wall=$(($(date +%s) - START))s"
# The store still holds alice's token and decides.
og show KILL00000001 >/dev/null || { echo "FAIL: token lost"; exit 1; }
[ $proceeded = "$TRIALS" ] && echo PASS || { echo FAIL; exit 1; }
