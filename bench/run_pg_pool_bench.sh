#!/usr/bin/env bash
# A pool of RADIUS servers on one PostgreSQL, under load, in one run:
#   lmdb  one radiusd with rlm_otpgate on its own LMDB store (the single-host
#         baseline),
#   pg    the same radiusd on a PostgreSQL store (a private server on a Unix
#         socket, started here, fsync on; the same tokens, copied),
#   pool  two radiusd instances on that one PostgreSQL store, each sent half
#         of the requests at the same time (IN_FLIGHT / 2 in flight each).
# Durable everywhere: no Accept before its replay mark is committed. No
# password module: each request is a different user with the current code
# of its own TOTP token, so every code is fresh. Each round runs the three
# in a rotated order; ratios are taken within a round, then the median and
# the spread (min-max) over the rounds are reported.
#   bench/run_pg_pool_bench.sh [BUILD_DIR]
#   ROUNDS=5 N=6000 IN_FLIGHT=32 (requests per mode and round)
set -euo pipefail
BUILD_DIR=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
source "$SRC/tests/integration/radius/harness.sh"
ROUNDS=${ROUNDS:-5}
N=${N:-6000}
IN_FLIGHT=${IN_FLIGHT:-32}
USERS=$((ROUNDS * 3 * N))
[ -x "$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | head -1)" ] ||
  { echo "PostgreSQL's server binaries are needed (apt-get install postgresql)"; exit 1; }
WORK=$(mktemp -d); chmod 0711 "$WORK"
PGD=$WORK/pg
stop_all() {
  for pid in ${PID_A:-} ${PID_B:-}; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  "$SRC/tests/postgres/server.sh" stop "$PGD" >/dev/null 2>&1 || true
}
trap 'stop_all; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
PG_FSYNC=on pg_private_start "$PGD"

# instance NAME STORE DIR: an rlm_otpgate instance (split: the code alone,
# sent as "x<code>") added to DIR's radiusd.conf.
instance() {
  python3 - "$1" "$2" "$3" <<'PY'
import sys
name, store, d = sys.argv[1:]
conf = open(d + "/raddb/radiusd.conf").read().replace(
    "\totpgate otpgate_deny {",
    '\totpgate %s {\n\t\tconfig = %s/otpgate.conf\n\t\tstore = "%s"\n\t\tmaster_key = %s/master.key\n'
    "\t\tsplit = yes\n\t}\n\totpgate otpgate_deny {" % (name, d, store, d), 1)
open(d + "/raddb/radiusd.conf", "w").write(conf)
PY
}
# server NAME: a radiusd of its own (directory, ports, log) started on
# NAME's config; sets PID_NAME and PORT_NAME.
server() {
  radius_start
  eval "PID_$1=$RADIUS_PID PORT_$1=$RADIUS_PORT"
}

unset RADIUS_PORT RADIUS_PID
radius_setup "$WORK/A" "$BUILD_DIR/radius_module" "$SRC"
A=$WORK/A
as_owner "$BUILD_DIR/bench/pam_bench" setup "$A" "$USERS" totp
cp "$BUILD_DIR/tools/otpgate" "$WORK/otpgate" && chmod 0755 "$WORK/otpgate"
as_owner "$WORK/otpgate" --config "$A/otpgate.conf" --master-key "$A/master.key" \
  -o store_timeout_ms=60000 store copy "$A/store" "$PG_STORE" >/dev/null
instance otpgate_lmdb "$A/store" "$A"
instance otpgate_pg "$PG_STORE" "$A"
radius_code_only_server bench_lmdb otpgate_lmdb 4
radius_code_only_server bench_pg otpgate_pg 6
server A

unset RADIUS_PORT RADIUS_PID
radius_setup "$WORK/B" "$BUILD_DIR/radius_module" "$SRC"
B=$WORK/B
install -m 0600 "$A/master.key" "$B/master.key"
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$B/master.key"
instance otpgate_pg "$PG_STORE" "$B"
radius_code_only_server bench_pg otpgate_pg 6
server B

OUT="$WORK/results.txt"; : > "$OUT"
requests() {  # requests FIRST COUNT FILE: one request per user, its current code
  python3 - "$1" "$2" > "$3" <<'PY'
import hmac, hashlib, struct, sys, time
first, count = int(sys.argv[1]), int(sys.argv[2])
now = int(time.time())
for u in range(first, first + count):
    key = ("bench-" + str(u)).ljust(20, ".").encode()
    mac = hmac.new(key, struct.pack(">Q", now // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    code = (struct.unpack(">I", mac[o:o + 4])[0] & 0x7fffffff) % 1000000
    print("user%d\tx%06d" % (u, code))
PY
  chmod 0644 "$3"
}
send() {  # send SERVER_PORT PORT_OFFSET IN_FLIGHT FILE OUTPUT (bench/radius_load.cc: why not radclient)
  "$BUILD_DIR/bench/radius_load" "127.0.0.1:$(($1 + $2))" "$RADIUS_SECRET" "$3" "$4" > "$5" 2>&1 || true
}
accepted() { sed -n 's/.*Accepted *: *\([0-9]*\).*/\1/p' "$1" | head -1; }
run() {  # run ROUND MODE FIRST_USER
  local round=$1 mode=$2 first=$3 t0 t1 ok
  # Codes are for the current 30 s step: start early in a step.
  local left=$((30 - $(date +%s) % 30))
  [ "$left" -lt 10 ] && sleep "$left"
  if [ "$mode" = pool ]; then
    requests "$first" $((N / 2)) "$WORK/req.a"
    requests $((first + N / 2)) $((N - N / 2)) "$WORK/req.b"
    t0=$(date +%s.%N)
    send "$PORT_A" 6 $((IN_FLIGHT / 2)) "$WORK/req.a" "$WORK/out.a" &
    local pa=$!
    send "$PORT_B" 6 $((IN_FLIGHT - IN_FLIGHT / 2)) "$WORK/req.b" "$WORK/out.b" &
    wait $pa $!
    t1=$(date +%s.%N)
    ok=$(($(accepted "$WORK/out.a") + $(accepted "$WORK/out.b")))
  else
    local offset=4; [ "$mode" = pg ] && offset=6
    requests "$first" "$N" "$WORK/req.a"
    t0=$(date +%s.%N)
    send "$PORT_A" "$offset" "$IN_FLIGHT" "$WORK/req.a" "$WORK/out.a"
    t1=$(date +%s.%N)
    ok=$(accepted "$WORK/out.a")
  fi
  echo "$round $mode $N ${ok:-0} $(python3 -c "print($t1 - $t0)")" >> "$OUT"
}

MODES=(lmdb pg pool)
user=0
for round in $(seq 1 "$ROUNDS"); do
  for i in 0 1 2; do
    run "$round" "${MODES[$(((i + round) % 3))]}" "$user"
    user=$((user + N))
  done
done

python3 - "$OUT" "$IN_FLIGHT" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
rate = {(int(r[0]), r[1]): int(r[3]) / float(r[4]) for r in rows}
rounds = sorted({k[0] for k in rate})
def spread(xs, fmt):
    return f"{fmt(statistics.median(xs))} ({fmt(min(xs))}-{fmt(max(xs))})"
count = lambda x: f"{x:,.0f}"
ratio = lambda x: f"{x:.2f}x"
col = lambda m: [rate[(r, m)] for r in rounds]
print(f"| {sys.argv[2]} in flight | one radiusd, LMDB accepts/s | one radiusd, PostgreSQL accepts/s | two radiusd, one PostgreSQL accepts/s | PostgreSQL / LMDB | pool / one on PostgreSQL | every request accepted |")
print("|---|---|---|---|---|---|---|")
pg_lmdb = [rate[(r, "pg")] / rate[(r, "lmdb")] for r in rounds]
pool_pg = [rate[(r, "pool")] / rate[(r, "pg")] for r in rounds]
complete = all(int(r[3]) == int(r[2]) for r in rows)
print(f"| total | {spread(col('lmdb'), count)} | {spread(col('pg'), count)} | {spread(col('pool'), count)} "
      f"| **{spread(pg_lmdb, ratio)}** | {spread(pool_pg, ratio)} | {complete} |")
print()
print(f"median (min-max) over {len(rounds)} rounds; ratios are taken within each round.")
for r in rows:
    if int(r[3]) != int(r[2]):
        print(f"incomplete: round {r[0]}, {r[1]}: {r[3]} of {r[2]} accepted")
sys.exit(0 if complete else 1)
PY
