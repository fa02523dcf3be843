#!/usr/bin/env bash
# A pool of two radiusd instances (A and B, each its own ports) sharing ONE
# LMDB store directory and master key on one host: a challenge issued by
# one server is finished at the other, and a State is good once across the
# pool. Used, forged, another user's and expired States are refused at
# either server with a Reply-Message and an audit line; one State raced to
# both servers is decided once. Bounded: ~90 requests, two server starts
# (about 10 s).
# Usage: pool_test.sh MODULE_DIR OTPGATE_CLI SOURCE_DIR
set -u
MODULE_DIR=$1 CLI=$2 SRC=$3
for tool in /usr/sbin/freeradius radclient oathtool python3; do
  command -v "$tool" >/dev/null || { echo "$tool is required"; exit 1; }
done
source "$SRC/tests/integration/radius/harness.sh"
WORK=$(mktemp -d)
chmod 0711 "$WORK"
declare -A PID=()
stop_all() {
  for s in "${!PID[@]}"; do kill "${PID[$s]}" 2>/dev/null; wait "${PID[$s]}" 2>/dev/null; done
  for s in a b; do radius_sanitizer_check "$WORK/$s/log"; done
}
trap 'stop_all; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT

# Two servers; B's module sections point at A's store and key.
radius_setup "$WORK/a" "$MODULE_DIR" "$SRC"; PORT_A=$RADIUS_PORT
unset RADIUS_PORT
radius_setup "$WORK/b" "$MODULE_DIR" "$SRC"; PORT_B=$RADIUS_PORT
sed -i "s|$WORK/b/store|$WORK/a/store|; s|$WORK/b/master.key|$WORK/a/master.key|" "$WORK/b/raddb/radiusd.conf"
# A also keeps session-state of its own (as a site with other modules may):
# FreeRADIUS then files it under the State otpgate set, and must neither
# replace that State nor make B refuse it for want of the session.
python3 - "$WORK/a/raddb/radiusd.conf" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
s = s.replace("\tauthorize {\n\t\totpgate\n", "\tauthorize {\n\t\tupdate session-state {\n\t\t\t&Tmp-String-0 := \"from-a\"\n\t\t}\n\t\totpgate\n", 1)
open(p, "w").write(s)
PY
ok_conf=$(grep -c "$WORK/a/store" "$WORK/b/raddb/radiusd.conf")
D=$WORK/a
cp "$CLI" "$WORK/otpgate" && chmod 0755 "$WORK/otpgate" && CLI=$WORK/otpgate
HEX=3132333435363738393031323334353637383930
og() { as_owner "$CLI" --config "$D/otpgate.conf" --store "$D/store" --master-key "$D/master.key" "$@"; }
og init >/dev/null
printf '%s\n' "VSST12345678,$HEX,hex" "VSSTH0000001,$HEX,hex,hotp" > "$WORK/t.csv"; chmod 0644 "$WORK/t.csv"
og token import "$WORK/t.csv" >/dev/null
og assign VSST12345678 alice >/dev/null
og assign VSSTH0000001 carol >/dev/null

use() {  # use a|b: the harness's variables for that server
  RADIUS_DIR=$WORK/$1; RADIUS_LOG=$WORK/$1/log/stdout.log
  if [ "$1" = a ]; then RADIUS_PORT=$PORT_A; else RADIUS_PORT=$PORT_B; fi
}
for s in a b; do use $s; radius_start || exit 1; PID[$s]=$RADIUS_PID; done

next_code() {
  local last step now
  last=$(og --json show VSST12345678 | python3 -c 'import json,sys; v=json.load(sys.stdin)["last_accepted"]; print(-1 if v is None else v)')
  now=$(( $(date +%s) / 30 ))
  step=$(( last + 1 > now ? last + 1 : now ))
  oathtool --totp -N "@$((step * 30))" "$HEX"
}
passed=0 failed=0
ok() { if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $*"; fi; }
expect() {  # expect NAME REPLY_TYPE [REPLY_MESSAGE]
  local good=1
  grep -q "Received $2 " <<<"$REPLY" || good=0
  [ -z "${3:-}" ] || grep -qF "Reply-Message = \"$3\"" <<<"$REPLY" || good=0
  if [ $good = 1 ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $1: expected $2 ${3:-}"; sed 's/^/    /' <<<"$REPLY"; fi
}
at() { use "$1"; rc_send 0 "$2"; }  # at a|b 'attrs'
state_of() { sed -n 's/^[[:space:]]*State = \(0x[0-9a-f]*\).*/\1/p' <<<"$REPLY" | head -1; }
challenge() { REPLY=$(at "$1" "User-Name = \"${2:-alice}\", User-Password = \"${2:-alice}pw\""); state_of; }
audited() {  # audited SERVER USER REASON: an audit line in that server's log
  grep -q "action=login user=$2 frontend=radius client=127.0.0.1 outcome=reject reason=$3" "$WORK/$1/log/stdout.log"
}
AGAIN="The login took too long or was already used; log in again."
ok test "$ok_conf" -ge 3
ok grep -q 'Tmp-String-0 := "from-a"' "$WORK/a/raddb/radiusd.conf"

# Round one at A, round two at B; then the same State at A and at B.
STATE=$(challenge a); ok test "${#STATE}" = $((2 + 2 * 41))
REPLY=$(at b "User-Name = \"alice\", User-Password = \"$(next_code)\", State = $STATE")
expect "round one at A, round two at B" Access-Accept
ok grep -q "action=login user=alice token=VSST12345678 frontend=radius client=127.0.0.1 outcome=accept" "$WORK/b/log/stdout.log"
for s in a b; do
  REPLY=$(at $s "User-Name = \"alice\", User-Password = \"$(next_code)\", State = $STATE")
  expect "used State again at $s" Access-Reject "$AGAIN"
  ok audited $s alice state-used
done
# And the other way round: B issues, A finishes.
STATE=$(challenge b)
REPLY=$(at a "User-Name = \"alice\", User-Password = \"$(next_code)\", State = $STATE")
expect "round one at B, round two at A" Access-Accept

# A State spent by a wrong code at A is spent at B too, whatever the code.
STATE=$(challenge a)
REPLY=$(at a "User-Name = \"alice\", User-Password = \"000000\", State = $STATE"); expect "wrong code at A" Access-Reject
REPLY=$(at b "User-Name = \"alice\", User-Password = \"$(next_code)\", State = $STATE")
expect "State spent by a wrong code, at B" Access-Reject "$AGAIN"
og unlock VSST12345678 >/dev/null

# bob's State used by alice, and alice's by bob (bob has no token: his
# round one is unenrolled-allow, so alice's State is taken for his).
STATE=$(challenge a)
REPLY=$(at b "User-Name = \"bob\", User-Password = \"$(next_code)\", State = $STATE")
expect "alice's State used by bob" Access-Reject "$AGAIN"
ok audited b bob state-forged-or-other-user
REPLY=$(at b "User-Name = \"alice\", User-Password = \"$(next_code)\", State = $STATE")
expect "the State is still alice's after bob's try" Access-Accept

# Forged: one flipped byte; and a random 16-byte State (FreeRADIUS's kind).
STATE=$(challenge a)
FORGED=${STATE:0:40}$(printf '%02x' $(( 0x${STATE:40:2} ^ 1 )))${STATE:42}
REPLY=$(at b "User-Name = \"alice\", User-Password = \"$(next_code)\", State = $FORGED")
expect "forged State" Access-Reject "$AGAIN"
ok audited b alice state-forged-or-other-user
REPLY=$(at a "User-Name = \"alice\", User-Password = \"$(next_code)\", State = 0x00112233445566778899aabbccddeeff")
expect "random State" Access-Reject "$AGAIN"

# Expired: a State made as the core makes it (key derived from the master
# key), but with an expiry in the past. The same maker with a future expiry
# is accepted, so the refusal is the expiry's.
make_state() {  # make_state USER EXPIRY
  python3 - "$D/master.key" "$1" "$2" <<'PY'
import hashlib, hmac, os, struct, sys
master = open(sys.argv[1], "rb").read()
key = hmac.new(master, b"otpgate radius challenge v1", hashlib.sha256).digest()
body = b"\x01" + os.urandom(16) + struct.pack(">q", int(sys.argv[3]))
print("0x" + (body + hmac.new(key, body + sys.argv[2].encode(), hashlib.sha256).digest()[:16]).hex())
PY
}
REPLY=$(at b "User-Name = \"alice\", User-Password = \"$(next_code)\", State = $(make_state alice $(( $(date +%s) + 60 )))")
expect "a State made with the pool's key" Access-Accept
REPLY=$(at b "User-Name = \"alice\", User-Password = \"$(next_code)\", State = $(make_state alice $(( $(date +%s) - 1 )))")
expect "expired State" Access-Reject "$AGAIN"
ok audited b alice state-expired

# One State, the same valid code, sent to A and B at once (HOTP: a fresh
# code each round): in every round exactly one server decides the code and
# accepts; the other finds the State spent (state-used), never the code
# (code-already-used), because the State is consumed before the code is
# looked at, in the same transaction. 20 rounds, about 5 s.
ROUNDS=20
for i in $(seq 0 $((ROUNDS - 1))); do
  STATE=$(challenge a carol)
  CODE=$(oathtool --hotp -c "$i" "$HEX")
  at a "User-Name = \"carol\", User-Password = \"$CODE\", State = $STATE" > "$WORK/race.a" &
  RACE_A=$!
  at b "User-Name = \"carol\", User-Password = \"$CODE\", State = $STATE" > "$WORK/race.b" &
  wait $RACE_A $!
  cat "$WORK/race.a" "$WORK/race.b" >> "$WORK/race.all"
done
count() { cat "$WORK"/{a,b}/log/stdout.log | grep -c "action=login user=carol $1"; }
ok test "$(grep -c 'Received Access-Accept' "$WORK/race.all")" = $ROUNDS
ok test "$(grep -c 'Received Access-Reject' "$WORK/race.all")" = $ROUNDS
ok test "$(count "token=VSSTH0000001 frontend=radius client=127.0.0.1 outcome=accept")" = $ROUNDS
ok test "$(count "frontend=radius client=127.0.0.1 outcome=reject reason=state-used")" = $ROUNDS
ok test "$(count ".*reason=code-already-used")" = 0
echo "race: A accepted $(grep -c "user=carol token=VSSTH0000001 .*outcome=accept" "$WORK/a/log/stdout.log"), B $(grep -c "user=carol token=VSSTH0000001 .*outcome=accept" "$WORK/b/log/stdout.log") of $ROUNDS"

# Neither server's log holds a code or the secret.
for s in a b; do
  if grep -qE "$HEX|User-Password = \"[0-9]{6}\"" "$WORK/$s/log/stdout.log"; then
    failed=$((failed + 1)); echo "FAIL: a secret in $s's log"; else passed=$((passed + 1)); fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
