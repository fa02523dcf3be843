#!/usr/bin/env bash
# Issue 11, point 5: a store on a small file system that fills up, and on a
# read-only one. Decisions fail closed with a clear reason (store-full /
# unavailable), nothing partial is stored, decisions resume when space (or
# write access) returns, and the CLI says what to do.
# Runs in a private mount namespace (a 1 MiB tmpfs); needs root (77 = skipped).
# Usage: store_faults_test.sh PAM_MODULE OTPGATE_CLI     Bound: ~20 s.
set -euo pipefail
if [ -z "${OTPGATE_IN_NAMESPACE:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "needs root (mount); skipped"; exit 77; }
  exec unshare -m env OTPGATE_IN_NAMESPACE=1 "$0" "$@"
fi
MODULE=$(realpath "$1") CLI=$(realpath "$2")
WORK=$(mktemp -d)
trap 'umount "$WORK/fs" "$WORK/tmp" 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir "$WORK/fs"
mount -t tmpfs -o size=1m,mode=0700 tmpfs "$WORK/fs"
KEY=3132333435363738393031323334353637383930
printf 'store = %s\nmaster_key = %s\n' "$WORK/fs/store" "$WORK/master.key" > "$WORK/otpgate.conf"
og() { "$CLI" --config "$WORK/otpgate.conf" "$@"; }
og init >/dev/null
echo "FULL00000001,$KEY,hex,hotp" > "$WORK/t.csv"
og token import "$WORK/t.csv" >/dev/null
mapfile -t CODES < <(oathtool --hotp -c 0 -w 40 "$KEY")
og register alice FULL00000001 "${CODES[0]}" >/dev/null
mkdir "$WORK/pam.d"
echo "auth required pam_deny.so" > "$WORK/pam.d/other"
echo "auth required $MODULE config=$WORK/otpgate.conf fail_delay_ms=0" > "$WORK/pam.d/login"
login() {  # login CODE -> accept | reject | unavailable | other
  local got
  got=$(echo "$1" | env LD_PRELOAD="${OTPGATE_TEST_PRELOAD:+$OTPGATE_TEST_PRELOAD }libpam_wrapper.so" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$WORK/pam.d" \
    timeout 30 pamtester -v login alice authenticate 2>&1 || true)
  case "$got" in
    *"successfully authenticated"*) echo accept ;;
    *"Authentication failure"*) echo reject ;;
    *"cannot retrieve authentication info"*) echo unavailable ;;
    *) echo "other: $got" ;;
  esac
}
fail=0
check() {  # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "ok: $name"; else echo "FAIL: $name"; fail=1; fi
}
count() { og list 2>/dev/null | grep -c . || true; }

# --- A full file system. ---
TOKENS_BEFORE=$(count)
dd if=/dev/zero of="$WORK/fs/filler" bs=4k 2>/dev/null || true  # until ENOSPC
for i in $(seq 1 2000); do echo "BULK$(printf %08d "$i"),$KEY,hex"; done > "$WORK/bulk.csv"
set +e; OUT=$(og token import "$WORK/bulk.csv" 2>&1); RC=$?; set -e
check "an import on a full file system fails" test $RC -ne 0
check "the CLI says the file system is full and what to do" \
  grep -q "file system holding the store is full: free space there" <<< "$OUT"
check "nothing of the failed import is stored" test "$(count)" = "$TOKENS_BEFORE"
# Logins: each either decides (and is then stored) or fails closed; a code
# whose login failed closed was not consumed.
declare -A OUTCOME
for n in 1 2 3 4 5 6 7 8; do OUTCOME[$n]=$(login "${CODES[$n]}"); done
echo "logins on the full file system: ${OUTCOME[*]}"
for n in 1 2 3 4 5 6 7 8; do
  check "login $n on a full file system is accept or unavailable" \
    test "${OUTCOME[$n]}" = accept -o "${OUTCOME[$n]}" = unavailable
done
# Space returns: decisions resume, nothing half-done is visible.
rm -f "$WORK/fs/filler"
for n in 1 2 3 4 5 6 7 8; do
  again=$(login "${CODES[$n]}")
  if [ "${OUTCOME[$n]}" = accept ]; then
    check "code $n accepted before the space ran out is a replay after" test "$again" = reject
  else
    # A later code may have been accepted meanwhile (HOTP moves forward):
    # then this older one is refused; otherwise it is still good.
    later_accepted=no
    for m in $(seq $((n + 1)) 8); do [ "${OUTCOME[$m]}" = accept ] && later_accepted=yes; done
    want=$([ $later_accepted = yes ] && echo reject || echo accept)
    check "code $n refused for lack of space gives '$want' once space returns" test "$again" = "$want"
  fi
done
check "a new code is accepted once space returns" test "$(login "${CODES[12]}")" = accept
imported() { og token import "$WORK/bulk.csv" >/dev/null; }
check "the import works once space returns" imported
check "all tokens are there" test "$(count)" = $((TOKENS_BEFORE + 2000))

# --- A read-only file system. ---
mount -o remount,ro "$WORK/fs"
check "a login on a read-only store fails closed" test "$(login "${CODES[13]}")" = unavailable
set +e; OUT=$(og verify alice "${CODES[13]}" 2>&1); RC=$?; set -e
check "the CLI fails on a read-only store" test $RC -ne 0
check "the CLI says the store's file system is read-only and what to do" \
  grep -q "read-only: remount it read-write" <<< "$OUT"
mount -o remount,rw "$WORK/fs"
check "decisions resume when the file system is writable again" test "$(login "${CODES[13]}")" = accept
# --- A temporary directory running out of room. A staged import (over
# 10,000 new tokens) sorts its entries through an unnamed file in $TMPDIR
# once they pass 16 MiB; before each 16 MiB run it writes there, 64 MiB must
# stay free, or it stops, before the store is touched. 250,000 tokens are
# ~50 MB of records: on a 90 MiB file system the first run fits (90 >= 16 +
# 64), the second does not (74 < 16 + 64). ---
mkdir "$WORK/tmp"
mount -t tmpfs -o size=90m,mode=0700 tmpfs "$WORK/tmp"
printf 'store = %s\nmaster_key = %s\n' "$WORK/big-store" "$WORK/big.key" > "$WORK/big.conf"
big() { "$CLI" --config "$WORK/big.conf" "$@"; }
big init >/dev/null
big_count() { big --json list 2>/dev/null | grep -o '"credential_id"' | wc -l; }
python3 -c 'import sys
for i in range(250000): sys.stdout.write("SORT%08d,%s,hex\n" % (i, sys.argv[1]))' "$KEY" > "$WORK/big.csv"
JOURNAL_BEFORE=$(big audit 2>/dev/null | grep -c . || true)
# A dry run fails as the import will: it prepares the same temporary file.
set +e; OUT=$(TMPDIR="$WORK/tmp" big token import --dry-run --quiet "$WORK/big.csv" 2>&1); RC=$?; set -e
check "a dry run of it fails as the import will" test $RC = 17
check "and says why" grep -q "more of temporary space for its next run .* in $WORK/tmp" <<< "$OUT"
set +e; OUT=$(TMPDIR="$WORK" big token import --dry-run --quiet "$WORK/big.csv" 2>&1); RC=$?; set -e
check "with room, the dry run says all would be imported" test $RC = 0
check "and says how many" grep -q "250000" <<< "$OUT"
check "a dry run stores nothing" test "$(big_count)" = 0
set +e; OUT=$(TMPDIR="$WORK/tmp" big token import --quiet "$WORK/big.csv" 2>&1); RC=$?; set -e
check "an import whose temporary directory runs out of room fails" test $RC = 17
check "the CLI says why: the next run, what was written, the directory, TMPDIR" \
  grep -q "the import needs 1[56] MiB more of temporary space for its next run (1[56] MiB written so far) in $WORK/tmp, which would leave less than 64 MiB free there (.*set TMPDIR" <<< "$OUT"
check "nothing of it is stored" test "$(big_count)" = 0
check "nothing of it is journalled" test "$(big audit 2>/dev/null | grep -c . || true)" = "$JOURNAL_BEFORE"
check "its temporary file went with it" test "$(df --output=used -k "$WORK/tmp" | tail -1 | tr -d ' ')" -lt 1024
check "with room in TMPDIR it works" env TMPDIR="$WORK" "$CLI" --config "$WORK/big.conf" token import --quiet "$WORK/big.csv"
check "all of it is stored" test "$(big_count)" = 250000
[ $fail = 0 ] && echo PASS
exit $fail
