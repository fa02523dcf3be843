#!/usr/bin/env bash
# bench/radius_load against a real radiusd: what it counts is what the server
# answered. Three virtual servers: one accepts everything, one rejects
# everything, one accepts only when User-Password, as the server decoded it,
# is a given 40-byte password (three blocks of RFC 2865 hiding). A wrong
# secret's answers (the server drops the requests: their
# Message-Authenticator is wrong) are not counted as answers.
# Usage: radius_load_test.sh RADIUS_LOAD MODULE_DIR SOURCE_DIR
set -u
LOAD=$1 MODULE_DIR=$2 SRC=$3
command -v /usr/sbin/freeradius >/dev/null || { echo "freeradius is required"; exit 1; }
source "$SRC/tests/integration/radius/harness.sh"
WORK=$(mktemp -d); chmod 0711 "$WORK"
trap 'radius_stop; rm -rf "$WORK"' EXIT
radius_setup "$WORK/r" "$MODULE_DIR" "$SRC"
D=$WORK/r
PASSWORD=0123456789abcdefghijklmnopqrstuvwxyz-._~
server() {  # server NAME PORT_OFFSET AUTHORIZE_BODY
  cat >> "$D/raddb/radiusd.conf" <<EOT
server load_$1 {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $((RADIUS_PORT + $2))
	}
	authorize {
$3
	}
}
EOT
}
server accept 5 '		update control {
			&Auth-Type := Accept
		}'
server reject 6 '		update control {
			&Auth-Type := Reject
		}'
server password 7 "		if (&User-Password == \"$PASSWORD\") {
			update control {
				&Auth-Type := Accept
			}
		}
		else {
			update control {
				&Auth-Type := Reject
			}
		}"
radius_start || exit 1
for u in $(seq 1 300); do printf 'user%d\t%s\n' "$u" "$PASSWORD"; done > "$WORK/requests"
printf 'user1\twrong\nuser2\t%s\n' "$PASSWORD" > "$WORK/mixed"

passed=0 failed=0
check() {  # check NAME EXPECTED_EXIT EXPECTED_OUTPUT_REGEX... (one per line of output)
  local name=$1 want=$2; shift 2
  local pattern
  for pattern in "$@"; do
    if ! grep -Eq "$pattern" "$WORK/out"; then
      failed=$((failed + 1)); echo "FAIL: $name: no '$pattern' in:"; sed 's/^/    /' "$WORK/out"; return
    fi
  done
  if [ "$rc" != "$want" ]; then failed=$((failed + 1)); echo "FAIL: $name: exit $rc, not $want"; return; fi
  passed=$((passed + 1))
}
send() { "$LOAD" "127.0.0.1:$((RADIUS_PORT + $1))" "$2" "$3" "$4" > "$WORK/out" 2>&1; rc=$?; }

send 5 "$RADIUS_SECRET" 32 "$WORK/requests"
check "accept-all, 32 in flight" 0 '^Accepted +: 300$' '^Rejected +: 0$' '^Lost +: 0$'
send 6 "$RADIUS_SECRET" 8 "$WORK/requests"
check "reject-all" 0 '^Accepted +: 0$' '^Rejected +: 300$' '^Lost +: 0$'
send 7 "$RADIUS_SECRET" 1 "$WORK/requests"
check "the password as the server decoded it" 0 '^Accepted +: 300$' '^Rejected +: 0$'
send 7 "$RADIUS_SECRET" 2 "$WORK/mixed"
check "a wrong password is rejected" 0 '^Accepted +: 1$' '^Rejected +: 1$'
send 5 "not-the-secret" 2 "$WORK/mixed"
check "a wrong secret gets no answer" 1 '^Accepted +: 0$' '^Lost +: 2$'
send 5 "$RADIUS_SECRET" 0 "$WORK/requests"
check "in flight out of range" 2 'bad server or in-flight count'
: > "$WORK/empty"
send 5 "$RADIUS_SECRET" 4 "$WORK/empty"
check "no requests" 2 'no requests read'
echo "radius_load: $passed passed, $failed failed"
[ "$failed" = 0 ]
