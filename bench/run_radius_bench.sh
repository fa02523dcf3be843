#!/usr/bin/env bash
# RADIUS throughput in one radiusd, one run, three virtual servers side by side:
#   bare     accepts every request without any module (the ceiling of radiusd
#            and the load generator on this machine),
#   totp     FreeRADIUS's own rlm_totp (Debian 3.2.1: no replay protection),
#   otpgate  rlm_otpgate (durable replay mark: no Accept before its commit),
#   pg       rlm_otpgate on a PostgreSQL store (a private server on a Unix
#            socket, started here; a copy of the same tokens), when
#            PostgreSQL's server binaries are installed (PG=no skips it).
# No password module anywhere: the code alone. Each request is a different
# user with its current TOTP code, sent with 1 and 32 in flight.
# The whole run is made twice: with the server's per-request auth log off
# (Debian's default) and on. Each round runs the three servers in a rotated
# order; ratios are taken within a round, then the median and the spread
# (min-max) over the rounds are reported. A durable LMDB commit on the same
# file system is timed before and after each mode, so the added latency at
# 1 in flight can be compared with one commit.
#   bench/run_radius_bench.sh [BUILD_DIR]
#   ROUNDS=3 N1=1000 N32=24000 (requests per round at 1 and 32 in flight)
#   PROFILE=/tmp/radiusd.perf (perf record of radiusd, LMDB and PostgreSQL, see run())
set -euo pipefail
BUILD_DIR=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
source "$SRC/tests/integration/radius/harness.sh"
ROUNDS=${ROUNDS:-3}
N1=${N1:-1000}
N32=${N32:-24000}
# The requests are sent by bench/radius_load (bench/radius_load.cc says why);
# CLIENT=radclient sends them with FreeRADIUS's radclient as runs before
# 2026-12-06 did.
CLIENT=${CLIENT:-radius_load}
# A user is used once per mode; the second mode reuses them minutes later, in
# a later 30 s step, so its codes are fresh for otpgate's replay marks.
USERS=$((ROUNDS * (N1 + N32)))
WORK=$(mktemp -d); chmod 0711 "$WORK"
trap 'radius_stop; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
radius_setup "$WORK/r" "$BUILD_DIR/radius_module" "$SRC"
D=$WORK/r
as_owner "$BUILD_DIR/bench/pam_bench" setup "$D" "$USERS" totp
radius_code_only_server bench_otpgate otpgate_bench 4
SERVERS=("bare 5" "totp 3" "otpgate 4")
if [ "${PG:-yes}" = yes ] && [ -x "$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | head -1)" ]; then
  PGD=$WORK/pg
  trap 'radius_stop; "$SRC/tests/postgres/server.sh" stop "$PGD" >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
  PG_FSYNC=on pg_private_start "$PGD"   # durable, like the LMDB store
  # The same tokens, copied (and verified) into PostgreSQL: separate stores,
  # so each user's code is fresh for both.
  cp "$BUILD_DIR/tools/otpgate" "$WORK/otpgate" && chmod 0755 "$WORK/otpgate"
  as_owner "$WORK/otpgate" --config "$D/otpgate.conf" --master-key "$D/master.key" \
    -o store_timeout_ms=60000 store copy "$D/store" "$PG_STORE" >/dev/null
  # PG_POOL=N: connections per radiusd process (store_pool_size; default 32).
  [ -n "${PG_POOL:-}" ] && echo "store_pool_size = $PG_POOL" >> "$D/otpgate.conf"
  radius_code_only_server bench_pg otpgate_pg 6
  SERVERS+=("pg 6")
fi
cat >> "$D/raddb/radiusd.conf" <<EOT
server bench_bare {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $((RADIUS_PORT + 5))
	}
	authorize {
		update control {
			&Auth-Type := Accept
		}
	}
}
EOT
python3 - "$D" "$USERS" "${PG_STORE:-}" <<'PY'
import base64, sys
d, users, pg = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def secret(u): return ("bench-" + str(u)).ljust(20, ".").encode()
with open(d + "/raddb/users", "a") as f:
    for u in range(users):
        f.write('user%d TOTP-Secret := "%s"\n' % (u, base64.b32encode(secret(u)).decode()))
conf = open(d + "/raddb/radiusd.conf").read().replace(
    "\totpgate otpgate_deny {",
    "\totpgate otpgate_bench {\n\t\tconfig = %s/otpgate.conf\n\t\tstore = %s/store\n\t\tmaster_key = %s/master.key\n\t\tsplit = yes\n\t}\n" % (d, d, d)
    + ("\totpgate otpgate_pg {\n\t\tconfig = %s/otpgate.conf\n\t\tstore = \"%s\"\n\t\tmaster_key = %s/master.key\n\t\tsplit = yes\n\t}\n" % (d, pg, d) if pg else "")
    + "\totpgate otpgate_deny {", 1)
open(d + "/raddb/radiusd.conf", "w").write(conf)
PY
OUT="$WORK/results.txt"; : > "$OUT"
COMMITS="$WORK/commits.txt"; : > "$COMMITS"
commit_latency() {  # one durable LMDB commit, on the store's file system
  mkdir -p "$D/commit-probe"; chown nobody:nogroup "$D/commit-probe" 2>/dev/null || true
  as_owner "$BUILD_DIR/bench/pam_bench" commit "$D/commit-probe" 2000 |
    sed -n 's/.*"us_per_login":\([0-9.]*\).*/\1/p' >> "$COMMITS"
}
run() {  # run MODE ROUND NAME PORT_OFFSET IN_FLIGHT COUNT FIRST_USER
  local mode=$1 round=$2 name=$3 port=$4 par=$5 count=$6 first=$7 file="$WORK/req"
  # rlm_totp accepts the current 30 s step only: start its run early in a step.
  if [ "$name" = totp ]; then
    local left=$(( 30 - $(date +%s) % 30 ))
    [ "$left" -lt 12 ] && sleep "$left"
  fi
  local prefix=""; [ "$name" = otpgate ] || [ "$name" = pg ] && prefix=x   # the split instance takes the code off "x<code>"
  python3 - "$first" "$count" "$prefix" "$CLIENT" > "$file" <<'PY'
import hmac, hashlib, struct, sys, time
first, count, prefix, radclient = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] == "radclient"
now = int(time.time())
def totp(key, t):
    mac = hmac.new(key, struct.pack(">Q", t // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7fffffff) % 1000000)
for u in range(first, first + count):
    key = ("bench-" + str(u)).ljust(20, ".").encode()
    if radclient:
        print('User-Name = "user%d", User-Password = "%s%s"\n' % (u, prefix, totp(key, now)))
    else:
        print("user%d\t%s%s" % (u, prefix, totp(key, now)))
PY
  chmod 0644 "$file"
  local t0 t1 accepted rejected lost perf_pid=
  # PROFILE=FILE: perf samples radiusd during otpgate's runs at 32 in flight
  # (auth log off), on LMDB into FILE.ROUND, on PostgreSQL into
  # FILE.pg.ROUND; read with `perf report -i FILE.ROUND --no-children`.
  if [ -n "${PROFILE:-}" ] && [ "$par/$mode" = 32/no ] && { [ "$name" = otpgate ] || [ "$name" = pg ]; }; then
    local perf_file="$PROFILE.$round"; [ "$name" = pg ] && perf_file="$PROFILE.pg.$round"
    perf record -q -F 1999 -g -p "$RADIUS_PID" -o "$perf_file" 2>/dev/null & perf_pid=$!
    sleep 0.5
  fi
  t0=$(date +%s.%N)
  if [ "$CLIENT" = radclient ]; then
    radclient -d "$D/raddb" -q -s -t 10 -r 1 -p "$par" -f "$file" "127.0.0.1:$((RADIUS_PORT + port))" auth "$RADIUS_SECRET" > "$WORK/rc.out" 2>&1 || true
  else
    "$BUILD_DIR/bench/radius_load" "127.0.0.1:$((RADIUS_PORT + port))" "$RADIUS_SECRET" "$par" "$file" > "$WORK/rc.out" 2>&1 || true
  fi
  t1=$(date +%s.%N)
  [ -n "$perf_pid" ] && { kill -INT "$perf_pid"; wait "$perf_pid" || true; }
  accepted=$(sed -n 's/.*Accepted *: *\([0-9]*\).*/\1/p' "$WORK/rc.out" | head -1)
  rejected=$(sed -n 's/.*Rejected *: *\([0-9]*\).*/\1/p' "$WORK/rc.out" | head -1)
  lost=$(sed -n 's/.*Lost *: *\([0-9]*\).*/\1/p' "$WORK/rc.out" | head -1)
  echo "$mode $round $name $par $count ${accepted:-0} $(python3 -c "print($t1 - $t0)") ${rejected:-0} ${lost:-0}" >> "$OUT"
}
for mode in ${MODES:-no yes}; do   # MODES="no" skips the auth-log run
  sed -i "s/^\tauth = .*/\tauth = $mode/" "$D/raddb/radiusd.conf"
  # The second mode reuses the users: start it in a later 30 s step than the
  # first mode's last request, so no code is a replay for otpgate.
  [ "$mode" != "${MODES:-no yes}" ] && [ "$mode" = yes ] && sleep $(( 30 - $(date +%s) % 30 + 1 ))
  commit_latency
  radius_start
  user=0
  for round in $(seq 1 "$ROUNDS"); do
    for par in 1 32; do
      n=$N1; [ "$par" = 32 ] && n=$N32
      for i in "${!SERVERS[@]}"; do   # rotated order: no server always runs first
        set -- ${SERVERS[$(( (i + round) % ${#SERVERS[@]} ))]}
        run "$mode" "$round" "$1" "$2" "$par" "$n" "$user"
      done
      user=$((user + n))
    done
  done
  radius_stop
  commit_latency
done
python3 - "$OUT" "$COMMITS" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
commits = [float(l) for l in open(sys.argv[2]) if l.strip()]
def rates(mode, name, par):
    rs = {int(r[1]): int(r[5]) / float(r[6]) for r in rows if r[0] == mode and r[2] == name and r[3] == str(par)}
    complete = all(int(r[5]) == int(r[4]) for r in rows if r[0] == mode and r[2] == name and r[3] == str(par))
    return rs, complete
def spread(xs, fmt):
    return f"{fmt(statistics.median(xs))} ({fmt(min(xs))}-{fmt(max(xs))})"
count = lambda x: f"{x:,.0f}"
ratio = lambda x: f"{x:.2f}x"
print(f"durable LMDB commit: median {statistics.median(commits):.0f} us "
      f"({min(commits):.0f}-{max(commits):.0f}) over {len(commits)} probes of 2,000 commits")
print()
has_pg = any(r[2] == "pg" for r in rows)
print("| auth log | in flight | bare accepts/s | rlm_totp accepts/s | rlm_otpgate accepts/s | totp / bare | otpgate / bare |"
      + (" otpgate on PostgreSQL accepts/s | PostgreSQL / LMDB |" if has_pg else "") + " every request accepted |")
print("|---|---|---|---|---|---|---|" + ("---|---|" if has_pg else "") + "---|")
added = {}
for mode in [m for m in ("no", "yes") if any(r[0] == m for r in rows)]:
    for par in (1, 32):
        b, bc = rates(mode, "bare", par); t, tc = rates(mode, "totp", par); o, oc = rates(mode, "otpgate", par)
        rounds = sorted(set(b) & set(t) & set(o))
        tb = [t[r] / b[r] for r in rounds]; ob = [o[r] / b[r] for r in rounds]
        if par == 1:
            added[mode] = [1e6 / o[r] - 1e6 / b[r] for r in rounds]
        pg_cells, pg_done = "", ""
        if has_pg:
            p, pc = rates(mode, "pg", par)
            po = [p[r] / o[r] for r in sorted(set(p) & set(o))]
            pg_cells = f" {spread(list(p.values()), count)} | **{spread(po, ratio)}** |"
            pg_done = f", pg {pc}"
        print(f"| {mode} | {par} | {spread(list(b.values()), count)} | {spread(list(t.values()), count)} | "
              f"{spread(list(o.values()), count)} | {spread(tb, ratio)} | **{spread(ob, ratio)}** |{pg_cells} "
              f"bare {bc}, totp {tc}, otpgate {oc}{pg_done} |")
print()
print("median (min-max) over rounds; ratios are taken within each round.")
for r in rows:
    if int(r[5]) != int(r[4]):
        print(f"incomplete: auth log {r[0]}, round {r[1]}, {r[2]} at {r[3]} in flight: "
              f"{r[5]} accepted, {r[7]} rejected, {r[8]} lost of {r[4]}")
for mode, xs in added.items():
    print(f"auth log {mode}: otpgate's added latency at 1 in flight {spread(xs, lambda x: f'{x:.0f} us')}, "
          f"i.e. one commit + {statistics.median(xs) - statistics.median(commits):.0f} us")
PY
