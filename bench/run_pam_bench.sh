#!/usr/bin/env bash
# PAM login throughput, side by side in one run: pam_permit (libpam's own
# cost), pam_otpgate (durable replay protection in LMDB) and pam_oath
# (libpam-oath, a usersfile rewritten per login), at 1,000 and 100,000
# users, HOTP codes (each login a fresh valid code), a new PAM handle per
# login, under pam_wrapper. Three rounds, medians; figures as ratios.
#   bench/run_pam_bench.sh [BUILD_DIR]
set -euo pipefail
BUILD_DIR=$(cd "${1:-build}" && pwd)
BENCH="$BUILD_DIR/bench/pam_bench"
MODULE="$BUILD_DIR/pam_module/pam_otpgate.so"
[ -x "$BENCH" ] && [ -f "$MODULE" ] || { echo "build first: cmake --build $BUILD_DIR"; exit 1; }
[ -f /usr/lib/x86_64-linux-gnu/security/pam_oath.so ] || [ -f /lib/x86_64-linux-gnu/security/pam_oath.so ] ||
  { echo "pam_oath is missing: apt-get install libpam-oath"; exit 1; }
WORK=$(mktemp -d); chmod 0700 "$WORK"; trap 'rm -rf "$WORK"' EXIT
RESULTS="$WORK/results.jsonl"
ROUNDS=${ROUNDS:-3}
LOGINS=${LOGINS:-3000}

for USERS in 1000 100000; do
  D="$WORK/u$USERS"; mkdir -p "$D/pam.d"; chmod 0700 "$D"
  "$BENCH" setup "$D" "$USERS"
  echo "auth required pam_deny.so" > "$D/pam.d/other"
  echo "auth required pam_permit.so" > "$D/pam.d/permit"
  # Its own config, named: the host's /etc/otpgate is never read.
  printf 'store = %s/store\nmaster_key = %s/master.key\n' "$D" "$D" > "$D/otpgate.conf"; chmod 0600 "$D/otpgate.conf"
  echo "auth required $MODULE config=$D/otpgate.conf fail_delay_ms=0" > "$D/pam.d/otpgate"
  echo "auth required pam_oath.so usersfile=$D/oath.users window=20" > "$D/pam.d/oath"
  # pam_oath rewrites its whole file per login: fewer logins where it is large.
  OATH_LOGINS=$LOGINS; [ "$USERS" -gt 10000 ] && OATH_LOGINS=$((LOGINS / 10))
  per_round=$(( (LOGINS + USERS - 1) / USERS ))
  for round in $(seq 0 $((ROUNDS - 1))); do
    first=$((round * per_round))
    for svc in permit otpgate oath; do
      n=$LOGINS; [ "$svc" = oath ] && n=$OATH_LOGINS
      env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$D/pam.d" \
        timeout 600 "$BENCH" run "$svc" "$USERS" "$n" "$first" | sed "s/^{/{\"round\":$round,/" >> "$RESULTS"
    done
    mkdir -p "$D/commit"; "$BENCH" commit "$D/commit" 1000 | sed "s/^{/{\"round\":$round,\"users\":$USERS,/" >> "$RESULTS"
  done
done

python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(service, users, key):
    return statistics.median(r[key] for r in rows if r["service"] == service and r["users"] == users)
print("| users | pam_permit logins/s | pam_otpgate logins/s | pam_oath logins/s | otpgate / oath | otpgate µs/login | of which above permit | durable commit µs | module's own cost µs |")
print("|---|---|---|---|---|---|---|---|---|")
lat = {}
for users in (1000, 100000):
    p, o, a = (med(s, users, "per_second") for s in ("permit", "otpgate", "oath"))
    ou, pu, cu = med("otpgate", users, "us_per_login"), med("permit", users, "us_per_login"), med("lmdb-durable-commit", users, "us_per_login")
    lat[users] = (ou, med("oath", users, "us_per_login"))
    print(f"| {users:,} | {p:,.0f} | {o:,.0f} | {a:,.0f} | **{o/a:.1f}x** | {ou:.0f} | {ou-pu:.0f} | {cu:.0f} | {ou-pu-cu:.0f} |")
print()
print(f"pam_otpgate latency 100,000 / 1,000 users: {lat[100000][0]/lat[1000][0]:.2f}x (target <= 1.3x)")
print(f"pam_oath    latency 100,000 / 1,000 users: {lat[100000][1]/lat[1000][1]:.2f}x")
fails = sum(r.get("failures", 0) for r in rows)
print(f"failed logins: {fails} (must be 0)")
sys.exit(1 if fails else 0)
PY
