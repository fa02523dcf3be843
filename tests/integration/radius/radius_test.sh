#!/usr/bin/env bash
# rlm_otpgate in a real radiusd (Debian's freeradius 3.2), driven by radclient:
# two-round challenge, single step, unenrolled policies, register and stop
# through the dictionary attributes, replay, lockout, racing packets, and a
# store that is unavailable. Codes from oathtool.
# (Round two at another server of a pool: pool_test.sh.)
# Usage: radius_test.sh MODULE_DIR OTPGATE_CLI SOURCE_DIR
set -u
MODULE_DIR=$1 CLI=$2 SRC=$3
for tool in /usr/sbin/freeradius radclient oathtool python3; do
  command -v "$tool" >/dev/null || { echo "$tool is required"; exit 1; }
done
source "$SRC/tests/integration/radius/harness.sh"
WORK=$(mktemp -d)
chmod 0711 "$WORK"  # radiusd and the CLI run as nobody when we are root
trap 'radius_stop; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
radius_setup "$WORK/r" "$MODULE_DIR" "$SRC"
D=$WORK/r
cp "$CLI" "$WORK/otpgate" && chmod 0755 "$WORK/otpgate" && CLI=$WORK/otpgate  # runs as nobody too
HEX=3132333435363738393031323334353637383930
og() { as_owner "$CLI" --config "$D/otpgate.conf" --store "$D/store" --master-key "$D/master.key" "$@"; }
og init >/dev/null
for id in VSST12345678 VSST00000002 VSST00000003; do echo "$id,$HEX,hex"; done > "$WORK/t.csv"
chmod 0644 "$WORK/t.csv"
og token import "$WORK/t.csv" >/dev/null

# The next code a token accepts: one step past its replay mark, or now.
next_code() {
  local last step now
  last=$(og --json show "$1" | python3 -c 'import json,sys; v=json.load(sys.stdin)["last_accepted"]; print(-1 if v is None else v)')
  now=$(( $(date +%s) / 30 ))
  step=$(( last + 1 > now ? last + 1 : now ))
  oathtool --totp -N "@$((step * 30))" "$HEX"
}
field() { og --json show "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }

passed=0 failed=0
expect() {  # expect NAME EXPECTED_REPLY_TYPE (from $REPLY)
  if grep -q "Received $2 " <<<"$REPLY"; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $1: expected $2"; sed 's/^/    /' <<<"$REPLY"; fi
}
ok() { if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $*"; fi; }
state_of() { sed -n 's/^[[:space:]]*State = \(0x[0-9a-f]*\).*/\1/p' <<<"$REPLY" | head -1; }

# The server loads the module and accepts the configuration (-XC).
radiusd_command "$D/log" || exit 1
ok grep -q "Configuration appears to be OK" <<<"$("${RADIUSD[@]}" -XC -d "$D/raddb" 2>&1)"
radius_sanitizer_check "$D/log"
ok test "$(readelf --dyn-syms -W "$MODULE_DIR/rlm_otpgate.so" | awk '$7 != "UND" && $8 != "" && NR > 3 {print $8}' | sort -u | tr '\n' ' ')" = "rlm_otpgate "

radius_start || exit 1

# Unenrolled: allow (password alone) and deny.
REPLY=$(rc_send 0 'User-Name = "alice", User-Password = "alicepw"'); expect "unenrolled allow" Access-Accept
REPLY=$(rc_send 1 'User-Name = "alice", User-Password = "alicepw"'); expect "unenrolled deny" Access-Reject
REPLY=$(rc_send 0 'User-Name = "alice", User-Password = "nope"'); expect "wrong password" Access-Reject

# Register through the dictionary attributes.
REPLY=$(rc_send 0 "User-Name = \"alice\", User-Password = \"alicepw\", Otpgate-Action = Register, Otpgate-Credential-Id = \"VSST12345678\", Otpgate-Code = \"$(next_code VSST12345678)\"")
expect "register" Access-Accept
ok grep -q "registration is complete" <<<"$REPLY"
ok test "$(field VSST12345678 owner)" = alice
REPLY=$(rc_send 0 "User-Name = \"bob\", User-Password = \"bobpw\", Otpgate-Action = Register, Otpgate-Credential-Id = \"VSST12345678\", Otpgate-Code = \"$(next_code VSST12345678)\"")
expect "register a token bound to someone else" Access-Reject
REPLY=$(rc_send 0 "User-Name = \"bob\", User-Password = \"wrong\", Otpgate-Action = Register, Otpgate-Credential-Id = \"VSST00000002\", Otpgate-Code = \"$(next_code VSST00000002)\"")
expect "register needs the password" Access-Reject
ok test "$(field VSST00000002 state)" = unassigned

# Two rounds: password -> challenge -> code -> accept.
REPLY=$(rc_send 0 'User-Name = "alice", User-Password = "alicepw"'); expect "challenge" Access-Challenge
ok grep -q 'Reply-Message = "Enter one-time password"' <<<"$REPLY"
STATE=$(state_of); CODE=$(next_code VSST12345678)
ok test "${#STATE}" = $((2 + 2 * 41))  # the core's State (challenge.h), as FreeRADIUS sent it
REPLY=$(rc_send 0 "User-Name = \"alice\", User-Password = \"$CODE\", State = $STATE"); expect "code accepted" Access-Accept
REPLY=$(rc_send 0 "User-Name = \"alice\", User-Password = \"$CODE\", State = $STATE"); expect "used State" Access-Reject
ok grep -q 'Reply-Message = "The login took too long or was already used; log in again."' <<<"$REPLY"
REPLY=$(rc_send 0 'User-Name = "alice", User-Password = "nope"'); expect "wrong password gets no challenge" Access-Reject
REPLY=$(rc_send 0 'User-Name = "alice", User-Password = "alicepw"'); STATE=$(state_of)
REPLY=$(rc_send 0 "User-Name = \"alice\", User-Password = \"$CODE\", State = $STATE"); expect "replayed code" Access-Reject
ok grep -q 'Reply-Message = "The one-time password is not correct."' <<<"$REPLY"
REPLY=$(rc_send 0 "User-Name = \"alice\", User-Password = \"123456\", State = 0x00112233445566778899aabbccddeeff"); expect "unknown State" Access-Reject
ok grep -q 'Reply-Message = "The login took too long or was already used; log in again."' <<<"$REPLY"
REPLY=$(rc_send 0 'User-Name = "alice", User-Password = "alicepw"'); STATE=$(state_of)
REPLY=$(rc_send 0 "User-Name = \"bob\", User-Password = \"$(next_code VSST12345678)\", State = $STATE"); expect "State of another user" Access-Reject
ok grep -q 'Reply-Message = "The login took too long or was already used; log in again."' <<<"$REPLY"

# Wrong codes until locked (the replay was failure 1); then even the right code is refused.
for w in 000001 000002 000003 000004; do
  REPLY=$(rc_send 0 'User-Name = "alice", User-Password = "alicepw"'); STATE=$(state_of)
  REPLY=$(rc_send 0 "User-Name = \"alice\", User-Password = \"$w\", State = $STATE"); expect "wrong code $w" Access-Reject
done
REPLY=$(rc_send 0 'User-Name = "alice", User-Password = "alicepw"'); expect "locked: no challenge" Access-Reject
ok grep -q 'Reply-Message = "One-time password is locked after too many failures; try again after 20' <<<"$REPLY"
ok grep -q "action=login user=alice token=VSST12345678 frontend=radius client=127.0.0.1 outcome=locked reason=token-locked" "$RADIUS_LOG"
og unlock VSST12345678 >/dev/null
REPLY=$(rc_send 0 'User-Name = "alice", User-Password = "alicepw"'); STATE=$(state_of)
REPLY=$(rc_send 0 "User-Name = \"alice\", User-Password = \"$(next_code VSST12345678)\", State = $STATE"); expect "after unlock" Access-Accept

# Single step: password + code in User-Password.
REPLY=$(rc_send 2 "User-Name = \"alice\", User-Password = \"alicepw$(next_code VSST12345678)\""); expect "split accept" Access-Accept
REPLY=$(rc_send 2 "User-Name = \"alice\", User-Password = \"wrong$(next_code VSST12345678)\""); expect "split wrong password" Access-Reject
ok test "$(field VSST12345678 failures)" = 0
REPLY=$(rc_send 2 'User-Name = "alice", User-Password = "alicepw000000"'); expect "split wrong code" Access-Reject
REPLY=$(rc_send 2 'User-Name = "dave", User-Password = "davepw"'); expect "split, unenrolled" Access-Accept

# Many identical packets race one valid code: exactly one Accept.
CODE=$(next_code VSST12345678)
for i in $(seq 1 32); do printf 'User-Name = "alice", User-Password = "alicepw%s"\n\n' "$CODE"; done > "$WORK/race"
chmod 0644 "$WORK/race"
# radclient reports each reply it did not expect on stderr (one line each);
# stdout and stderr interleave, so they are read apart.
radclient -d "$D/raddb" -x -t 5 -r 1 -p 32 -f "$WORK/race" "127.0.0.1:$((RADIUS_PORT + 2))" auth "$RADIUS_SECRET" \
  > "$WORK/race.out" 2> "$WORK/race.err"
ok test "$(grep -c 'Received Access-Accept' "$WORK/race.out")/$(grep -c 'got Access-Reject' "$WORK/race.err")" = 1/31

# Stop through the dictionary attributes; then the password alone again.
REPLY=$(rc_send 0 "User-Name = \"alice\", User-Password = \"alicepw\", Otpgate-Action = Stop, Otpgate-Code = \"$(next_code VSST12345678)\"")
expect "stop" Access-Accept
ok test "$(field VSST12345678 state)" = unassigned
REPLY=$(rc_send 0 'User-Name = "alice", User-Password = "alicepw"'); expect "after stop: password only" Access-Accept

# Register without a code: refused with a message and a line of its own.
REPLY=$(rc_send 0 'User-Name = "bob", User-Password = "bobpw", Otpgate-Action = Register, Otpgate-Credential-Id = "VSST00000002"')
expect "register without a code" Access-Reject
ok grep -q 'Reply-Message = "One-time password registration failed' <<<"$REPLY"
ok grep -q "action=register user=bob token=VSST00000002 frontend=radius client=127.0.0.1 outcome=reject reason=missing-token-id-or-code" "$RADIUS_LOG"

# The audit trail: one line per decision, from otpgate itself (the server's
# own auth log is off in the harness: log { auth = no }).
L="frontend=radius client=127.0.0.1"
ok grep -q "Auth: rlm_otpgate (otpgate): action=register user=alice token=VSST12345678 $L outcome=accept reason=token-bound" "$RADIUS_LOG"
ok grep -q "Auth: rlm_otpgate (otpgate): action=login user=alice token=VSST12345678 $L outcome=accept" "$RADIUS_LOG"
ok grep -q "Auth: rlm_otpgate (otpgate_split): action=login user=alice token=VSST12345678 $L outcome=accept" "$RADIUS_LOG"
ok grep -q "action=login user=alice token=VSST12345678 $L outcome=replay reason=code-already-used" "$RADIUS_LOG"
ok grep -q "action=login user=alice $L outcome=reject reason=state-used" "$RADIUS_LOG"
ok grep -q "action=login user=alice $L outcome=reject reason=state-forged-or-other-user" "$RADIUS_LOG"
ok grep -q "action=login user=bob $L outcome=reject reason=state-forged-or-other-user" "$RADIUS_LOG"
ok grep -q "action=login user=alice $L outcome=allow reason=unenrolled-allow" "$RADIUS_LOG"
ok grep -q "action=login user=alice $L outcome=no-token reason=unenrolled-deny" "$RADIUS_LOG"
ok grep -q "action=stop user=alice token=VSST12345678 $L outcome=accept reason=token-unbound" "$RADIUS_LOG"
ok test "$(grep -c "Login OK" "$RADIUS_LOG")" = 0
# One line per decision: the 32 racing packets gave 32 lines.
ok test "$(grep -c "rlm_otpgate (otpgate_split): action=login user=alice token=VSST12345678 $L outcome=" "$RADIUS_LOG")" -ge 32
if grep -qE "$CODE|$HEX" "$RADIUS_LOG"; then failed=$((failed + 1)); echo "FAIL: a code or secret in the log"; else passed=$((passed + 1)); fi
radius_stop

# The store unavailable: radiusd still starts; requests fail closed (Reject).
mv "$D/store" "$D/store.away"
radius_start || exit 1
REPLY=$(rc_send 0 'User-Name = "alice", User-Password = "alicepw"'); expect "store unavailable" Access-Reject
ok grep -q 'Reply-Message = "The one-time password service is unavailable."' <<<"$REPLY"
ok grep -q "action=login user=alice $L outcome=unavailable reason=store" "$RADIUS_LOG"
radius_stop
mv "$D/store.away" "$D/store"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
