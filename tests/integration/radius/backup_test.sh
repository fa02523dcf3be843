#!/usr/bin/env bash
# Backup during a RADIUS load, restore into a new directory: a real radiusd
# with rlm_otpgate keeps deciding (5,000 single-step requests, 16 in flight:
# wrong codes that count failures, replays) while `otpgate backup` copies the
# store; the restored copy keeps every replay mark and lock, every token
# verifies its next code, and the journal verifies.
# Bound: one radiusd, 5,000 requests, about 30 CLI runs (< 60 s).
# Usage: OTPGATE_AT=... backup_test.sh MODULE_DIR OTPGATE_CLI SOURCE_DIR
set -u
MODULE_DIR=$1 CLI=$2 SRC=$3
for tool in /usr/sbin/freeradius radclient oathtool python3; do
  command -v "$tool" >/dev/null || { echo "$tool is required"; exit 1; }
done
source "$SRC/tests/integration/radius/harness.sh"
WORK=$(mktemp -d)
chmod 0711 "$WORK"
trap 'radius_stop; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
radius_setup "$WORK/r" "$MODULE_DIR" "$SRC"
D=$WORK/r
cp "$CLI" "$WORK/otpgate" && chmod 0755 "$WORK/otpgate" && CLI=$WORK/otpgate
cp "$OTPGATE_AT" "$WORK/otpgate_at" && chmod 0755 "$WORK/otpgate_at" && OTPGATE_AT=$WORK/otpgate_at
source "$SRC/tests/integration/cli/check_lib.sh"  # at
mkdir -m 0700 "$WORK/out" && { [ "$(id -u)" != 0 ] || chown nobody:nogroup "$WORK/out"; }
HEX=3132333435363738393031323334353637383930
og() { as_owner "${AT[@]:-$CLI}" --config "$D/otpgate.conf" --store "$D/store" --master-key "$D/master.key" "$@"; }
rs() { as_owner "${AT[@]:-$CLI}" --config "$D/otpgate.conf" --store "$WORK/out/restored" --master-key "$WORK/out/restored.key" "$@"; }
code_at() { oathtool --totp -N "@$1" "$HEX"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
passed=0 failed=0
ok() { if "$@" >/dev/null; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $*"; fi; }
is() { if [ "$2" = "$3" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1: got '$2', expected '$3'"; fi; }

og init >/dev/null
USERS="alice bob carol dave"
for u in $USERS; do echo "TOK-$u,$HEX,hex"; done > "$WORK/t.csv"; chmod 0644 "$WORK/t.csv"
og token import "$WORK/t.csv" >/dev/null
for u in $USERS; do og assign "TOK-$u" "$u" >/dev/null; done
# Replay marks at step S (a time of the CLI's choosing; radiusd's clock is
# later, so its requests below meet tokens whose marks are in the past).
TS=$(( ($(date +%s) / 30 - 4) * 30 ))
for u in $USERS; do ok at $TS og verify "$u" "$(code_at $TS)"; done
for w in 000001 000002 000003 000004 000005; do og verify dave $w >/dev/null; done
# The lock lasts 60 s of the real clock, and a busy machine can take longer
# than that to reach the check below: it looks at the copy as of now.
LOCKED_AT=$(date +%s)
DAVE_LOCK=$(og --json show --time "$LOCKED_AT" TOK-dave | json 'd["locked_until"]')
ok test "$DAVE_LOCK" != None
BEFORE=$(og --json audit --verify | json 'd["entries"]')

radius_start || exit 1
# The load: alice and bob replay their used code, carol types wrong codes.
for i in $(seq 1 1250); do
  printf 'User-Name = "alice", User-Password = "alicepw%s"\n\n' "$(code_at $TS)"
  printf 'User-Name = "bob", User-Password = "bobpw%s"\n\n' "$(code_at $TS)"
  printf 'User-Name = "carol", User-Password = "carolpw%06d"\n\n' "$i"
  printf 'User-Name = "carol", User-Password = "carolpw"\n\n'
done > "$WORK/load"
chmod 0644 "$WORK/load"
radclient -d "$D/raddb" -t 10 -r 1 -p 16 -q -f "$WORK/load" "127.0.0.1:$((RADIUS_PORT + 2))" auth "$RADIUS_SECRET" \
  > "$WORK/load.out" 2>&1 &
LOAD=$!
# Back up once the load is visibly under way (the journal grows).
for i in $(seq 1 100); do
  [ "$(og --json audit --verify | json 'd["entries"]')" -gt $((BEFORE + 50)) ] && break
  sleep 0.1
done
ok og backup "$WORK/out/backup"
DURING=$(og --json audit --verify | json 'd["entries"]')
ok kill -0 $LOAD  # still deciding after the copy was taken
wait $LOAD
AFTER=$(og --json audit --verify | json 'd["entries"]')
radius_stop
echo "journal entries: before load $BEFORE, right after backup $DURING, after load $AFTER"

ok rs restore "$WORK/out/backup"
COPY=$(rs --json audit --verify)
is "restored journal verifies" "$(json 'd["ok"]' <<<"$COPY")" True
ENTRIES=$(json 'd["entries"]' <<<"$COPY")
echo "journal entries in the copy: $ENTRIES"
ok test "$ENTRIES" -gt "$BEFORE"   # the copy holds decisions made under load
ok test "$ENTRIES" -lt "$AFTER"    # ... and the load went on after it
is "dave's lock kept" "$(rs --json show --time "$LOCKED_AT" TOK-dave | json 'd["locked_until"]')" "$DAVE_LOCK"
ok test "$(at $((TS + 30)) rs verify dave "$(code_at $((TS + 30)))" >/dev/null; echo $?)" = 4
for u in $USERS; do
  is "$u: replay mark kept" "$(rs --json show "TOK-$u" | json 'd["last_accepted"]')" $((TS / 30))
done
for u in alice bob; do
  is "$u: used code is a replay" "$(at $TS rs verify "$u" "$(code_at $TS)" >/dev/null; echo $?)" 3
done
ok test "$(rs --json show TOK-carol | json 'd["failures"]')" -ge 1  # carol's failures under load
# Unlock everyone, then each token verifies its next code.
for u in $USERS; do rs unlock --user "$u" >/dev/null; done
for u in $USERS; do
  is "$u: next code" "$(at $((TS + 60)) rs verify "$u" "$(code_at $((TS + 60)))" >/dev/null; echo $?)" 0
done
is "restored journal still verifies" "$(rs --json audit --verify | json 'd["ok"]')" True

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
