#!/usr/bin/env bash
# PAM as sshd calls it: a new process per login. Each login is a fresh
# process (posix_spawn) that loads libpam (under pam_wrapper), the module, and
# — for pam_otpgate — opens the store, reads the master key and the config.
# Side by side in one run, pam_permit (the cost of a process and libpam),
# pam_otpgate and pam_oath, at 1,000 and 100,000 users, fresh valid HOTP
# codes; and the same three in one long-lived process, so that the
# per-process cost each module adds can be separated from its per-login cost:
#   per-process overhead of M = (spawn_M - spawn_permit) - (inproc_M - inproc_permit)
# and again with children prepared as a login program is before it calls PAM
# (pam_bench spawn-host: an NSS user lookup, OpenSSL initialised with a digest
# fetched, as in sshd after its key exchange), which separates what the
# module costs from a host's first use of NSS and OpenSSL.
# With PostgreSQL's server binaries installed (PG=no skips it), pam_otpgate
# also runs on a PostgreSQL store (a private server on a Unix socket, fsync
# on, the same tokens copied by `otpgate store copy`): service otpgate_pg.
# Three rounds, medians.
#   bench/run_pam_process_bench.sh [BUILD_DIR]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$(cd "${1:-build}" && pwd)
BENCH="$BUILD_DIR/bench/pam_bench"
MODULE="$BUILD_DIR/pam_module/pam_otpgate.so"
[ -x "$BENCH" ] && [ -f "$MODULE" ] || { echo "build first: cmake --build $BUILD_DIR"; exit 1; }
WORK=$(mktemp -d); chmod 0711 "$WORK"   # PostgreSQL runs as nobody when we are root
PGD=""
trap '[ -z "$PGD" ] || "$SRC/tests/postgres/server.sh" stop "$PGD" >/dev/null 2>&1; rm -rf "$WORK"' EXIT
PG=${PG:-yes}
[ -x "$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | head -1)" ] || PG=no
source "$SRC/tests/integration/radius/harness.sh"  # pg_private_start
RESULTS="$WORK/results.jsonl"
ROUNDS=${ROUNDS:-3}
LOGINS=${LOGINS:-1000}

for USERS in ${USERS_LIST:-1000 100000}; do
  D="$WORK/u$USERS"; mkdir -p "$D/pam.d"; chmod 0700 "$D"
  "$BENCH" setup "$D" "$USERS"
  printf 'store = %s/store\nmaster_key = %s/master.key\n' "$D" "$D" > "$D/otpgate.conf"; chmod 0600 "$D/otpgate.conf"
  echo "auth required pam_deny.so" > "$D/pam.d/other"
  echo "auth required pam_permit.so" > "$D/pam.d/permit"
  echo "auth required $MODULE config=$D/otpgate.conf fail_delay_ms=0" > "$D/pam.d/otpgate"
  echo "auth required pam_oath.so usersfile=$D/oath.users window=20" > "$D/pam.d/oath"
  SERVICES="permit otpgate oath"
  if [ "$PG" = yes ]; then
    PGD="$D/pg"; chmod 0711 "$D"
    PG_FSYNC=on pg_private_start "$PGD"   # durable, like the LMDB store
    "$BUILD_DIR/tools/otpgate" --config "$D/otpgate.conf" -o store_timeout_ms=60000 \
      store copy "$D/store" "$PG_STORE" >/dev/null
    printf 'store = %s\nmaster_key = %s/master.key\n' "$PG_STORE" "$D" > "$D/otpgate-pg.conf"
    chmod 0600 "$D/otpgate-pg.conf"
    echo "auth required $MODULE config=$D/otpgate-pg.conf fail_delay_ms=0" > "$D/pam.d/otpgate_pg"
    SERVICES="permit otpgate otpgate_pg oath"
  fi
  OATH_LOGINS=$LOGINS; [ "$USERS" -gt 10000 ] && OATH_LOGINS=$((LOGINS / 10))
  per_round=$(( 3 * ((LOGINS + USERS - 1) / USERS) ))   # three modes per round use counters
  for round in $(seq 0 $((ROUNDS - 1))); do
    first=$((round * per_round))
    for mode in spawn spawn-host run; do
      for svc in $SERVICES; do
        n=$LOGINS; [ "$svc" = oath ] && n=$OATH_LOGINS
        env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$D/pam.d" \
          timeout 900 "$BENCH" "$mode" "$svc" "$USERS" "$n" "$first" | sed "s/^{/{\"round\":$round,/" >> "$RESULTS"
      done
      first=$((first + (LOGINS + USERS - 1) / USERS))
    done
  done
  if [ -n "$PGD" ]; then "$SRC/tests/postgres/server.sh" stop "$PGD" >/dev/null; PGD=""; fi
done

python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(mode, service, users):
    return statistics.median(r["us_per_login"] for r in rows
                             if r["mode"] == mode and r["service"] == service and r["users"] == users)
print("| users | process per login: pam_permit µs | pam_otpgate µs | pam_oath µs | otpgate / oath (logins/s) | otpgate per-process overhead µs | oath per-process overhead µs | the same two in a host-prepared process µs |")
print("|---|---|---|---|---|---|---|---|")
for users in sorted({r["users"] for r in rows}):
    sp, so, sa = (med("spawn", s, users) for s in ("permit", "otpgate", "oath"))
    hp, ho, ha = (med("spawn-host", s, users) for s in ("permit", "otpgate", "oath"))
    ip, io, ia = (med("process", s, users) for s in ("permit", "otpgate", "oath"))
    print(f"| {users:,} | {sp:,.0f} | {so:,.0f} | {sa:,.0f} | **{sa/so:.1f}x** | **{(so-sp)-(io-ip):,.0f}** | {(sa-sp)-(ia-ip):,.0f} "
          f"| {(ho-hp)-(io-ip):,.0f} / {(ha-hp)-(ia-ip):,.0f} |")
print()
print("host-prepared: each child first does what a login program has done before PAM runs")
print("(an NSS user lookup; OpenSSL initialised and a digest fetched, as sshd's key exchange has)")
print("targets: otpgate >= 2x pam_oath at 1,000 users; otpgate per-process overhead < 1,000 µs")
if any(r["service"] == "otpgate_pg" for r in rows):
    print()
    print("| users | LMDB, process per login µs | PostgreSQL, process per login µs | LMDB, in one process µs | PostgreSQL, in one process µs | PostgreSQL / LMDB (process per login) |")
    print("|---|---|---|---|---|---|")
    for users in sorted({r["users"] for r in rows}):
        so, sg = med("spawn", "otpgate", users), med("spawn", "otpgate_pg", users)
        io, ig = med("process", "otpgate", users), med("process", "otpgate_pg", users)
        print(f"| {users:,} | {so:,.0f} | {sg:,.0f} | {io:,.0f} | {ig:,.0f} | {sg/so:.2f}x |")
fails = sum(r.get("failures", 0) for r in rows)
print(f"failed logins: {fails} (must be 0)")
sys.exit(1 if fails else 0)
PY
