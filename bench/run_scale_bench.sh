#!/usr/bin/env bash
# A million users: PAM login latency and store size as the store grows
# (1,000 / 10,000 / 100,000 / 1,000,000 tokens), with the time to provision
# them. Each size gets its own store; logins pick users spread over the whole
# store (user k % USERS, so every page of the B-tree is visited), fresh valid
# HOTP codes, one long-lived process (pam_bench run) and a process per login
# (pam_bench spawn); pam_permit in the same run as the baseline. Three rounds,
# medians; latency ratios against the 1,000-token store.
#   bench/run_scale_bench.sh [BUILD_DIR]        SIZES="1000 10000" to shorten
set -euo pipefail
BUILD_DIR=$(cd "${1:-build}" && pwd)
BENCH="$BUILD_DIR/bench/pam_bench"
MODULE="$BUILD_DIR/pam_module/pam_otpgate.so"
[ -x "$BENCH" ] && [ -f "$MODULE" ] || { echo "build first: cmake --build $BUILD_DIR"; exit 1; }
WORK=$(mktemp -d); chmod 0700 "$WORK"; trap 'rm -rf "$WORK"' EXIT
RESULTS="$WORK/results.jsonl"
ROUNDS=${ROUNDS:-3}
LOGINS=${LOGINS:-2000}
SPAWNS=${SPAWNS:-300}

for USERS in ${SIZES:-1000 10000 100000 1000000}; do
  D="$WORK/u$USERS"; mkdir -p "$D/pam.d"; chmod 0700 "$D"
  t0=$(date +%s.%N)
  "$BENCH" setup "$D" "$USERS"
  t1=$(date +%s.%N)
  bytes=$(stat -c %s "$D/store/data.mdb")
  used=$(mdb_stat -e "$D/store" | sed -n 's/.*Number of pages used: *\([0-9]*\).*/\1/p')
  echo "{\"service\":\"provision\",\"users\":$USERS,\"seconds\":$(python3 -c "print($t1-$t0)"),\"bytes\":$bytes,\"pages_used\":${used:-0}}" >> "$RESULTS"
  printf 'store = %s/store\nmaster_key = %s/master.key\n' "$D" "$D" > "$D/otpgate.conf"; chmod 0600 "$D/otpgate.conf"
  echo "auth required pam_deny.so" > "$D/pam.d/other"
  echo "auth required pam_permit.so" > "$D/pam.d/permit"
  echo "auth required $MODULE config=$D/otpgate.conf fail_delay_ms=0" > "$D/pam.d/otpgate"
  counter=0
  for round in $(seq 0 $((ROUNDS - 1))); do
    # HOTP counters: the in-process run uses ceil(LOGINS/USERS) per user from
    # $counter, the spawned logins the ones after (never a used one: a
    # replayed code would count as a failed login).
    spawn_first=$((counter + (LOGINS + USERS - 1) / USERS))
    for svc in permit otpgate; do
      env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$D/pam.d" \
        "$BENCH" run "$svc" "$USERS" "$LOGINS" "$counter" | sed "s/^{/{\"round\":$round,/" >> "$RESULTS"
      env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$D/pam.d" \
        "$BENCH" spawn "$svc" "$USERS" "$SPAWNS" "$spawn_first" | sed "s/^{/{\"round\":$round,/" >> "$RESULTS"
    done
    counter=$((spawn_first + (SPAWNS + USERS - 1) / USERS))
  done
  rm -rf "$D"
done

python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
sizes = sorted({r["users"] for r in rows})
def med(mode, service, users):
    return statistics.median(r["us_per_login"] for r in rows
                             if r.get("mode") == mode and r["service"] == service and r["users"] == users)
base = {m: med(m, "otpgate", sizes[0]) - med(m, "permit", sizes[0]) for m in ("process", "spawn")}
print("| tokens | provision s | bytes/token (file) | bytes/token (used pages) | login µs above pam_permit, one process | vs smallest | login µs above pam_permit, process per login | vs smallest |")
print("|---|---|---|---|---|---|---|---|")
for n in sizes:
    p = next(r for r in rows if r["service"] == "provision" and r["users"] == n)
    lat = {m: med(m, "otpgate", n) - med(m, "permit", n) for m in ("process", "spawn")}
    print(f"| {n:,} | {p['seconds']:.1f} | {p['bytes']/n:,.0f} | {p['pages_used']*4096/n:,.0f} | {lat['process']:,.0f} | **{lat['process']/base['process']:.2f}x** | {lat['spawn']:,.0f} | **{lat['spawn']/base['spawn']:.2f}x** |")
print()
print("target: login latency flat from 1,000 to 1,000,000 tokens (<= 1.3x)")
fails = sum(r.get("failures", 0) for r in rows)
print(f"failed logins: {fails} (must be 0)")
sys.exit(1 if fails else 0)
PY
