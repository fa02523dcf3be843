#!/usr/bin/env bash
# kill -9 of PostgreSQL under RADIUS load (its own server, never the shared
# one): a real radiusd with rlm_otpgate (store_timeout_ms = 1000) answers 16
# requests in flight all the time (radclient_load.py records each one).
#  - Every request in flight at the kill or sent while PostgreSQL is down is
#    answered Reject (none Accept, none left unanswered) within the bound +
#    margin: < 2 s from its sending.
#  - No Accept without a committed replay mark: every user the clients saw
#    accepted has an accept in the journal.
#  - `otpgate doctor` names the unreachable database.
#  - PostgreSQL restarted on the same socket: the same radiusd process
#    accepts again, without a restart.
# Bound: ~15 s of load once it is accepted (waits up to 30 s for that) and a
# PostgreSQL start; < 60 s.
# Usage: pg_fault_test.sh MODULE_DIR OTPGATE_CLI SOURCE_DIR
set -u
MODULE_DIR=$1 CLI=$2 SRC=$3
for tool in /usr/sbin/freeradius oathtool python3; do
  command -v "$tool" >/dev/null || { echo "$tool is required"; exit 1; }
done
source "$SRC/tests/integration/radius/harness.sh"
WORK=$(mktemp -d)
chmod 0711 "$WORK"
PGD=$WORK/pg
trap 'touch "$WORK/stop"; radius_stop; "$SRC/tests/postgres/server.sh" stop "$PGD" >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
pg_private_start "$PGD"
STORE=$PG_STORE
HEX=3132333435363738393031323334353637383930
USERS=600
cp "$CLI" "$WORK/otpgate" && chmod 0755 "$WORK/otpgate" && CLI=$WORK/otpgate
touch "$WORK/otpgate.conf"
og() { "$CLI" --config "$WORK/otpgate.conf" --store "$STORE" --master-key "$WORK/master.key" -o store_timeout_ms=60000 "$@"; }
code_now() { oathtool --totp -N "@$(date +%s)" "$HEX"; }
passed=0 failed=0
is() { if [ "$2" = "$3" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1: got '$2', expected '$3'"; fi; }

og init >/dev/null || { echo "init failed"; exit 1; }
for ((i = 0; i < USERS; i++)); do printf 'FLT%09d,%s,totp,6,30,f%d\n' "$i" "$HEX" "$i"; done > "$WORK/t.csv"
og token import --format oath-csv -q "$WORK/t.csv" >/dev/null || { echo "import failed"; exit 1; }

radius_setup "$WORK/r" "$MODULE_DIR" "$SRC"
D=$WORK/r
sed -i "s|store = $D/store|store = \"${STORE//&/\\&}\"\n\t\tstore_timeout_ms = 1000|" "$D/raddb/radiusd.conf"
for ((i = 0; i < USERS; i++)); do printf 'f%d Cleartext-Password := "pw%d"\n' "$i" "$i"; done >> "$D/raddb/users"
install -m 0600 "$WORK/master.key" "$D/master.key"
[ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$D"
radius_start || exit 1
PID_BEFORE=$RADIUS_PID

# Load users f0..f499 (reused: a second request of a user in one step is a
# replay, a Reject); f500.. are kept fresh for the check after the restart.
for ((i = 0; i < 500; i++)); do echo "f$i pw$i"; done > "$WORK/load.users"
code_now > "$WORK/code"
( while [ ! -e "$WORK/stop" ]; do code_now > "$WORK/code.new"; mv "$WORK/code.new" "$WORK/code"; sleep 1; done ) &
CODER=$!
python3 "$SRC/tests/integration/radius/radclient_load.py" "$((RADIUS_PORT + 2))" "$RADIUS_SECRET" \
  "$WORK/load.users" "$WORK/code" "$WORK/stop" 16 "$WORK/load.out" &
LOAD=$!
# The kill comes after the load has been accepted for a while (a busy
# machine may take seconds to start it): 200 answers, at least one Accept.
wait_for() {  # wait_for FILE MIN_LINES PATTERN SECONDS
  local i
  for ((i = 0; i < $4 * 10; i++)); do
    [ "$(wc -l < "$1" 2>/dev/null || echo 0)" -ge "$2" ] && grep -q "$3" "$1" && return 0
    sleep 0.1
  done
  return 1
}
wait_for "$WORK/load.out" 200 ' accept$' 30 || echo "load: no Accept within 30 s before the kill"
KILL_AT=$(date +%s.%N)
"$SRC/tests/postgres/server.sh" kill "$PGD"
KILLED_AT=$(date +%s.%N)
sleep 2.5
DOCTOR=$(og doctor 2>&1)
grep -q 'PostgreSQL store' <<<"$DOCTOR" && passed=$((passed + 1)) || {
  failed=$((failed + 1)); echo "FAIL: doctor does not name the database:"; sed 's/^/    /' <<<"$DOCTOR"; }
grep 'PostgreSQL store' <<<"$DOCTOR" | head -2 | sed 's/^/  doctor: /'
RESTART_AT=$(date +%s.%N)
"$SRC/tests/postgres/server.sh" restart "$PGD"
UP_AT=$(date +%s.%N)
sleep 3
touch "$WORK/stop"
wait $LOAD
kill $CODER 2>/dev/null; wait $CODER 2>/dev/null

# After the restart, the same radiusd decides: fresh users are accepted.
for ((i = 500; i < 520; i++)); do echo "f$i pw$i"; done > "$WORK/fresh.users"
rm -f "$WORK/stop"; code_now > "$WORK/code"
( wait_for "$WORK/fresh.out" 20 . 30; touch "$WORK/stop" ) &
STOPPER=$!
python3 "$SRC/tests/integration/radius/radclient_load.py" "$((RADIUS_PORT + 2))" "$RADIUS_SECRET" \
  "$WORK/fresh.users" "$WORK/code" "$WORK/stop" 1 "$WORK/fresh.out"
wait $STOPPER
is "the same radiusd" "$(kill -0 "$PID_BEFORE" 2>/dev/null && echo alive)" alive
FRESH_ACCEPTS=$(awk '$4 == "accept"' "$WORK/fresh.out" | cut -d' ' -f3 | sort -u | wc -l)
[ "$FRESH_ACCEPTS" -ge 15 ] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: after the restart only $FRESH_ACCEPTS fresh users accepted"; }

og --json audit > "$WORK/journal.json"
REPORT=$(python3 - "$WORK/load.out" "$WORK/journal.json" "$KILL_AT" "$KILLED_AT" "$RESTART_AT" "$UP_AT" <<'PY'
import json, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
kill_at, killed_at, restart_at, up_at = map(float, sys.argv[3:7])
journal_accepts = {e["user"] for e in json.load(open(sys.argv[2]))
                   if e["action"] == "login" and e["outcome"] == "accept"}
total = len(rows)
# In flight at the kill, or sent while the database was down.
down = [r for r in rows if float(r[0]) < restart_at and float(r[1]) > kill_at]
# Sent after the postmaster died, answered before it was started again: no
# commit was possible, so an Accept here would be one without a mark.
down_accepts = [r for r in down if r[3] == "accept" and float(r[0]) > killed_at
                and float(r[1]) < restart_at]
unanswered = [r for r in down if r[3] not in ("accept", "reject")]
slowest = max((float(r[1]) - float(r[0]) for r in down), default=0.0)
client_accepts = {r[2] for r in rows if r[3] == "accept"}
unmarked = sorted(client_accepts - journal_accepts)
before = sum(1 for r in rows if float(r[1]) < kill_at and r[3] == "accept")
after = sum(1 for r in rows if float(r[0]) > up_at and r[3] == "accept")
print(f"requests {total}; accepts before the kill {before}, after the restart {after}; "
      f"during the outage {len(down)} (accepted {len(down_accepts)}, unanswered {len(unanswered)}), "
      f"slowest answer {slowest:.2f} s; accepted without a journal accept: {len(unmarked)}")
print("VERDICT", int(len(down_accepts) == 0 and not unanswered and slowest < 2.0 and not unmarked
                     and len(down) > 0 and before > 0))
PY
)
echo "$REPORT" | grep -v VERDICT
is "fail closed within 2 s, no accept without a mark, resumes" "$(grep -o 'VERDICT [01]' <<<"$REPORT")" "VERDICT 1"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
