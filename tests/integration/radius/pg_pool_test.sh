#!/usr/bin/env bash
# A pool on one PostgreSQL: two real radiusd instances (each its own
# rlm_otpgate and connection pool) and PAM (pamtester, one process per
# login) decide on one store started here (tests/postgres/server.sh).
#  - ROUNDS rounds (default 1,000): in each, one valid code for one user is
#    sent at once to server A, server B and PAM. Exactly one accepts: the
#    front ends' accepts add up to ROUNDS, and every user's journal reads
#    accept, replay, replay (the accept committed before the others
#    decided); the journal verifies.
#  - Registration on A, then login on B; round one (Access-Challenge) at A,
#    round two at B, and the State refused when used again; wrong codes
#    spread over A, B and PAM lock the token everywhere.
# Users and TOTP tokens share one secret, so one code is valid for every
# user in a step: no clock is injected. Rounds go in batches of 25 users.
# Bound: ~1,100 pamtester runs and 2 x 1,000 RADIUS requests; ~60 s here.
# Usage: pg_pool_test.sh MODULE_DIR PAM_MODULE OTPGATE_CLI SOURCE_DIR [ROUNDS]
set -u
MODULE_DIR=$1 PAM_MODULE=$(realpath "$2") CLI=$3 SRC=$4 ROUNDS=${5:-1000}
BATCH=25
for tool in /usr/sbin/freeradius radclient oathtool python3 pamtester; do
  command -v "$tool" >/dev/null || { echo "$tool is required"; exit 1; }
done
source "$SRC/tests/integration/radius/harness.sh"
WORK=$(mktemp -d)
chmod 0711 "$WORK"
PGD=$WORK/pg
stop_all() {
  [ -n "${PID_A:-}" ] && { kill "$PID_A" 2>/dev/null; wait "$PID_A" 2>/dev/null; }
  [ -n "${PID_B:-}" ] && { kill "$PID_B" 2>/dev/null; wait "$PID_B" 2>/dev/null; }
  "$SRC/tests/postgres/server.sh" stop "$PGD" >/dev/null 2>&1
}
trap 'stop_all; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
pg_private_start "$PGD"
STORE=$PG_STORE
HEX=3132333435363738393031323334353637383930
cp "$CLI" "$WORK/otpgate" && chmod 0755 "$WORK/otpgate" && CLI=$WORK/otpgate
touch "$WORK/otpgate.conf"  # explicit: the host's /etc/otpgate is never read
og() { "$CLI" --config "$WORK/otpgate.conf" --store "$STORE" --master-key "$WORK/master.key" -o store_timeout_ms=60000 "$@"; }
code_at() { oathtool --totp -N "@$1" "$HEX"; }
passed=0 failed=0
is() { if [ "$2" = "$3" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1: got '$2', expected '$3'"; fi; }

og init >/dev/null || { echo "init failed"; exit 1; }
# Tokens bound at import (privacyIDEA CSV: serial, seed, type, digits,
# step, user): one per racing user, one to register, one to lock.
python3 - "$ROUNDS" "$HEX" > "$WORK/t.csv" <<'PY'
import sys
rounds, hexkey = int(sys.argv[1]), sys.argv[2]
for i in range(rounds):
    print(f"POOL{i:08d},{hexkey},totp,6,30,u{i}")
print(f"REGI00000001,{hexkey},totp,6,30")
print(f"LOCK00000001,{hexkey},totp,6,30,locky")
print(f"TWOS00000001,{hexkey},totp,6,30,twostep")
PY
og token import --format oath-csv -q "$WORK/t.csv" >/dev/null || { echo "import failed"; exit 1; }

# Two radiusd instances on the same store and key.
start_server() {  # start_server NAME -> sets PID_<NAME>, PORT_<NAME>
  unset RADIUS_PORT RADIUS_PID
  radius_setup "$WORK/$1" "$MODULE_DIR" "$SRC"
  local d=$WORK/$1
  sed -i "s|store = $d/store|store = \"${STORE//&/\\&}\"|" "$d/raddb/radiusd.conf"
  for i in $(seq 0 $((ROUNDS - 1))); do printf 'u%d Cleartext-Password := "pw%d"\n' "$i" "$i"; done >> "$d/raddb/users"
  printf 'reggie Cleartext-Password := "regpw"\nlocky Cleartext-Password := "lockpw"\ntwostep Cleartext-Password := "twopw"\n' \
    >> "$d/raddb/users"
  install -m 0600 "$WORK/master.key" "$d/master.key"
  [ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$d"
  radius_start || return 1
  eval "PID_$1=$RADIUS_PID PORT_$1=$RADIUS_PORT DIR_$1=$d"
}
start_server A || exit 1
start_server B || exit 1

mkdir "$WORK/pam.d"
echo "auth required pam_deny.so" > "$WORK/pam.d/other"
echo "auth required $PAM_MODULE config=$WORK/otpgate.conf store=$STORE master_key=$WORK/master.key fail_delay_ms=0 unenrolled=deny" \
  > "$WORK/pam.d/otpgate-pool"
pt() {  # pt USER CODE: 0 if PAM accepted
  echo "$2" | env LD_PRELOAD="${OTPGATE_TEST_PRELOAD:+$OTPGATE_TEST_PRELOAD }libpam_wrapper.so" PAM_WRAPPER=1 \
    PAM_WRAPPER_SERVICE_DIR="$WORK/pam.d" timeout 20 pamtester otpgate-pool "$1" authenticate >/dev/null 2>&1
}
rad() {  # rad SERVER FILE PARALLEL -> radclient output
  local port dir
  eval "port=\$PORT_$1 dir=\$DIR_$1"
  # Line-buffered: radclient's stdout and stderr lines must not tear.
  stdbuf -oL -eL radclient -d "$dir/raddb" -x -t 10 -r 1 -p "$3" -f "$2" "127.0.0.1:$((port + 2))" \
    auth "$RADIUS_SECRET" 2>&1
}

# --- The race: ROUNDS rounds, BATCH users at a time. ---
START=$(date +%s.%N)
for ((first = 0; first < ROUNDS; first += BATCH)); do
  last=$((first + BATCH < ROUNDS ? first + BATCH : ROUNDS))
  CODE=$(code_at "$(date +%s)")
  for ((u = first; u < last; u++)); do
    printf 'User-Name = "u%d", User-Password = "pw%d%s"\n\n' "$u" "$u" "$CODE"
  done > "$WORK/batch"
  chmod 0644 "$WORK/batch"
  rad A "$WORK/batch" $BATCH > "$WORK/a.out" &
  ra=$!
  rad B "$WORK/batch" $BATCH > "$WORK/b.out" &
  rb=$!
  pids=()
  for ((u = first; u < last; u++)); do
    ( pt "u$u" "$CODE" && touch "$WORK/pam.ok.$u" ) &
    pids+=($!)
  done
  wait $ra $rb "${pids[@]}"
  for f in a b; do echo "=== batch $first" >> "$WORK/$f.all"; cat "$WORK/$f.out" >> "$WORK/$f.all"; done
done
ELAPSED=$(python3 -c "import time; print(f'{time.time() - $START:.1f}')")
# Per user (= per round): the front ends that answered Accept, from
# radclient's debug output (request Id -> User-Name, reply Id -> code) and
# pamtester's exit status.
ACCEPTS=$(python3 - "$WORK" "$ROUNDS" <<'PY'
import collections, os, re, sys
work, rounds = sys.argv[1], int(sys.argv[2])
accepts = collections.defaultdict(list)
for server in ("a", "b"):
    user_of = {}
    for line in open(os.path.join(work, server + ".all")):
        if line.startswith("=== batch"):
            user_of = {}
        m = re.match(r"Sent Access-Request Id (\d+)", line)
        if m:
            sent = m.group(1)
        m = re.match(r'\s+User-Name = "(u\d+)"', line)
        if m:
            user_of[sent] = m.group(1)
        m = re.match(r"Received Access-Accept Id (\d+)", line)
        if m:
            accepts[user_of.get(m.group(1), "?")].append(server.upper())
for name in os.listdir(work):
    if name.startswith("pam.ok."):
        accepts["u" + name[len("pam.ok."):]].append("PAM")
counts = collections.Counter(len(accepts[f"u{i}"]) for i in range(rounds))
bad = [f"u{i}:{accepts[f'u{i}']}" for i in range(rounds) if len(accepts[f"u{i}"]) != 1]
print(f"{counts[1]} rounds with one accept" + (f"; not one: {' '.join(bad[:5])}" if bad else ""),
      f"(RADIUS {sum(v.count('A') + v.count('B') for v in accepts.values())},",
      f"PAM {sum(v.count('PAM') for v in accepts.values())})")
PY
)
echo "rounds: $ROUNDS in ${ELAPSED} s; $ACCEPTS"
is "exactly one accept per round (A, B, PAM)" "${ACCEPTS%% (*}" "$ROUNDS rounds with one accept"
# Every user's journal: accept first, then two replays (or, when a round
# straddled a step, the code still in the window: replay as well).
og --json audit > "$WORK/journal.json"
SHAPE=$(python3 - "$WORK/journal.json" "$ROUNDS" <<'PY'
import json, sys, collections
entries = json.load(open(sys.argv[1]))
rounds = int(sys.argv[2])
by_user = collections.defaultdict(list)
for e in entries:
    if e["action"] == "login":
        by_user[e["user"]].append(e["outcome"])
# Accept first, then only replays. A request that failed closed (store
# unavailable under load) decided nothing and left no entry: counted apart.
bad = [u for u in (f"u{i}" for i in range(rounds))
       if not by_user[u] or by_user[u][0] != "accept" or len(by_user[u]) > 3
       or any(o != "replay" for o in by_user[u][1:])]
short = sum(1 for i in range(rounds) if len(by_user[f"u{i}"]) < 3)
if bad:
    print(f"{rounds - len(bad)} ok; first bad: {bad[0]} {by_user[bad[0]]}")
else:
    print(f"{rounds} ok", file=sys.stdout)
    print(f"requests that failed closed without deciding: {short}", file=sys.stderr)
PY
)
is "each round: accept committed, then two replays" "$SHAPE" "$ROUNDS ok"
# A round without a front end's accept: show what the journal says of it.
for u in $(grep -o 'u[0-9]*:\[\]' <<<"$ACCEPTS" | cut -d: -f1); do
  python3 -c "import json,sys; [print('  journal:', e) for e in json.load(open(sys.argv[1])) if e['user'] == sys.argv[2]]" \
    "$WORK/journal.json" "$u"
  grep -h "user=$u " "$DIR_A/log/stdout.log" "$DIR_B/log/stdout.log" | sed 's/^/  radiusd: /'
  grep -h -B1 -A2 "User-Name = \"$u\"" "$WORK/a.all" "$WORK/b.all" | sed 's/^/  radclient: /'
  for f in a b; do
    for id in $(grep -B1 "User-Name = \"$u\"" "$WORK/$f.all" | grep -o 'Id [0-9]*' | cut -d' ' -f2); do
      grep -n "Id $id " "$WORK/$f.all" | sed "s/^/  radclient $f: /" | head -8
    done
  done
done
is "journal verifies" "$(og --json audit --verify | python3 -c 'import json,sys; print(json.load(sys.stdin)["ok"])')" True

# --- Registration on A, login on B. ---
NOW=$(date +%s)
printf 'User-Name = "reggie", User-Password = "regpw", Otpgate-Action = Register, Otpgate-Credential-Id = "REGI00000001", Otpgate-Code = "%s"\n' \
  "$(code_at "$NOW")" > "$WORK/reg"
rad_port_a=$PORT_A
REPLY=$(radclient -d "$DIR_A/raddb" -x -t 5 -r 1 -f "$WORK/reg" "127.0.0.1:$rad_port_a" auth "$RADIUS_SECRET" 2>&1)
is "register on A" "$(grep -c 'Received Access-Accept' <<<"$REPLY")" 1
printf 'User-Name = "reggie", User-Password = "regpw%s"\n' "$(code_at $((NOW + 30)))" > "$WORK/login"
is "login on B" "$(rad B "$WORK/login" 1 | grep -c 'Received Access-Accept')" 1

# --- Round one (password -> Access-Challenge) at A, round two at B. ---
two_rounds() {  # two_rounds SERVER 'attrs' -> radclient output (port +0)
  local port dir
  eval "port=\$PORT_$1 dir=\$DIR_$1"
  printf '%s\n' "$2" | radclient -d "$dir/raddb" -x -t 5 -r 1 "127.0.0.1:$port" auth "$RADIUS_SECRET" 2>&1
}
REPLY=$(two_rounds A 'User-Name = "twostep", User-Password = "twopw", Response-Packet-Type = Access-Challenge')
STATE=$(sed -n 's/^[[:space:]]*State = \(0x[0-9a-f]*\).*/\1/p' <<<"$REPLY" | head -1)
is "challenge from A" "${STATE:0:2}" 0x
TWO_CODE=$(code_at "$(date +%s)")
is "round two at B" "$(two_rounds B "User-Name = \"twostep\", User-Password = \"$TWO_CODE\", State = $STATE" | grep -c 'Received Access-Accept')" 1
is "the State again at A" "$(two_rounds A "User-Name = \"twostep\", User-Password = \"$(code_at $(($(date +%s) + 30)))\", State = $STATE" | grep -c 'Received Access-Accept')" 0

# --- Lockout reached across servers. ---
# (Five different wrong codes: a repeated wrong code counts once.)
n=0
for server in A B pam A B; do
  n=$((n + 1))
  if [ $server = pam ]; then pt locky "00000$n"; else
    printf 'User-Name = "locky", User-Password = "lockpw00000%d"\n' $n > "$WORK/wrong"; rad $server "$WORK/wrong" 1 >/dev/null; fi
done
GOOD=$(code_at "$(date +%s)")
printf 'User-Name = "locky", User-Password = "lockpw%s"\n' "$GOOD" > "$WORK/good"
is "locked on A" "$(rad A "$WORK/good" 1 | grep -c 'Received Access-Accept')" 0
is "locked on B" "$(rad B "$WORK/good" 1 | grep -c 'Received Access-Accept')" 0
pt locky "$GOOD" && is "locked in PAM" accepted refused || is "locked in PAM" refused refused
LOCKY=$(og --json audit --user locky | python3 -c 'import json,sys; print(",".join(e["outcome"] for e in json.load(sys.stdin) if e["action"] == "login"))')
# Five failures decided in the store, from three front ends; the lock is
# then refused before any code is looked at (audit line, not a decision).
is "lockout journal" "$LOCKY" "reject,reject,reject,reject,reject"
is "A says locked" "$(grep -c 'user=locky .*outcome=locked' "$DIR_A/log/stdout.log")" 1
is "B says locked" "$(grep -c 'user=locky .*outcome=locked' "$DIR_B/log/stdout.log")" 1

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
