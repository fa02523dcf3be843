#!/usr/bin/env bash
# RADIUS throughput, one radiusd, one run: rlm_otpgate (durable replay
# protection) against FreeRADIUS's own rlm_totp (Debian 3.2.1: no replay
# protection at all), same server, same first factor (none: the code alone),
# many distinct valid requests (one user each, current TOTP code), with 1 and
# 32 requests in flight (radclient -p). Three rounds, medians; ratios.
#   bench/run_radius_bench.sh [BUILD_DIR]
set -euo pipefail
BUILD_DIR=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
source "$SRC/tests/integration/radius/harness.sh"
USERS=${USERS:-45000}   # no user twice in a run: a reused user would be a replay
N1=${N1:-2000}        # requests per round, 1 in flight
N32=${N32:-12000}     # requests per round, 32 in flight
ROUNDS=${ROUNDS:-3}
WORK=$(mktemp -d); chmod 0711 "$WORK"
trap 'radius_stop; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
radius_setup "$WORK/r" "$BUILD_DIR/radius_module" "$SRC"
D=$WORK/r
as_owner "$BUILD_DIR/bench/pam_bench" setup "$D" "$USERS" totp
# The bench server for rlm_otpgate: like peer_totp (rlm_totp, files for its
# secrets), the OTP module alone, no password module. Requests carry "x" +
# code; the split instance takes the code off and verifies it.
radius_code_only_server bench_otpgate otpgate_bench 4
python3 - "$D" "$USERS" "$N1" "$N32" "$ROUNDS" <<'PY'
import base64, hmac, hashlib, struct, sys, time
d, users, n1, n32, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def secret(u): return ("bench-" + str(u)).ljust(20, ".").encode()
def totp(key, t):
    mac = hmac.new(key, struct.pack(">Q", t // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7fffffff) % 1000000)
with open(d + "/raddb/users", "a") as f:
    for u in range(users):
        f.write('user%d TOTP-Secret := "%s"\n' % (u, base64.b32encode(secret(u)).decode()))
conf = open(d + "/raddb/radiusd.conf").read().replace(
    "\totpgate otpgate_deny {",
    "\totpgate otpgate_bench {\n\t\tconfig = %s/otpgate.conf\n\t\tstore = %s/store\n\t\tmaster_key = %s/master.key\n\t\tsplit = yes\n\t}\n\totpgate otpgate_deny {" % (d, d, d), 1)
open(d + "/raddb/radiusd.conf", "w").write(conf)
PY
radius_start
OUT="$WORK/results.txt"; : > "$OUT"
run() {  # run NAME PORT_OFFSET IN_FLIGHT COUNT FIRST_USER
  local name=$1 port=$2 par=$3 count=$4 first=$5 file="$WORK/req.$1.$3.$5"
  # rlm_totp accepts the current 30 s step only: start a run early in a step.
  local left=$(( 30 - $(date +%s) % 30 ))
  [ "$left" -lt 12 ] && sleep "$left"
  local prefix=""; [ "$name" = otpgate ] && prefix=x   # the split instance takes the code off "x<code>"
  python3 - "$first" "$count" "$prefix" > "$file" <<'PY'
import hmac, hashlib, struct, sys, time
first, count, prefix = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
now = int(time.time())
def totp(key, t):
    mac = hmac.new(key, struct.pack(">Q", t // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7fffffff) % 1000000)
for u in range(first, first + count):
    key = ("bench-" + str(u)).ljust(20, ".").encode()
    print('User-Name = "user%d", User-Password = "%s%s"\n' % (u, prefix, totp(key, now)))
PY
  chmod 0644 "$file"
  local t0 t1 accepted
  t0=$(date +%s.%N)
  radclient -d "$D/raddb" -q -s -t 10 -r 1 -p "$par" -f "$file" "127.0.0.1:$((RADIUS_PORT + port))" auth "$RADIUS_SECRET" > "$WORK/rc.out" 2>&1 || true
  t1=$(date +%s.%N)
  accepted=$(sed -n 's/.*Accepted *: *\([0-9]*\).*/\1/p' "$WORK/rc.out" | head -1)
  echo "$name $par $count ${accepted:-0} $(python3 -c "print($t1 - $t0)")" >> "$OUT"
}
user=0
for round in $(seq 1 "$ROUNDS"); do
  for par in 1 32; do
    n=$N1; [ "$par" = 32 ] && n=$N32
    [ $((user + n)) -gt "$USERS" ] && { echo "USERS too small for ROUNDS"; exit 1; }
    run totp 3 "$par" "$n" "$user"
    run otpgate 4 "$par" "$n" "$user"   # same users: each code is fresh for otpgate
    user=$((user + n))
  done
done
radius_stop
python3 - "$OUT" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def rate(name, par):
    rs = [int(r[3]) / float(r[4]) for r in rows if r[0] == name and r[1] == str(par)]  # accepted/s
    acc = [int(r[3]) == int(r[2]) for r in rows if r[0] == name and r[1] == str(par)]
    return statistics.median(rs), all(acc)
print("| in flight | rlm_totp accepts/s | rlm_otpgate accepts/s | otpgate / totp | every request accepted |")
print("|---|---|---|---|---|")
for par in (1, 32):
    t, ta = rate("totp", par); o, oa = rate("otpgate", par)
    print(f"| {par} | {t:,.0f} | {o:,.0f} | **{o/t:.2f}x** | totp {ta}, otpgate {oa} |")
PY
