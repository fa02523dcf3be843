#!/usr/bin/env bash
# Soak (issue 9): LOGINS logins on a store of USERS users, mixing
# process-per-login PAM (pamtester, each login its own process, as sshd
# does) and RADIUS load on one long-lived radiusd sharing the store. Checks:
# 0 "unavailable" (every login gets accept or reject), and radiusd's heap
# (RssAnon) and open descriptors flat (growth < 5% from the first tenth to
# the last).
#   bench/soak.sh [BUILD_DIR]
#   USERS=100000 LOGINS=100000 PAM_PERCENT=20 bench/soak.sh build    # full
#   USERS=10000 LOGINS=5000 bench/soak.sh build                       # reduced
set -euo pipefail
BUILD_DIR=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
source "$SRC/tests/integration/radius/harness.sh"
USERS=${USERS:-100000} LOGINS=${LOGINS:-100000}
PAM_PERCENT=${PAM_PERCENT:-20}  # the rest over RADIUS (cheaper per login)
CHUNKS=${CHUNKS:-20}
WORK=$(mktemp -d); chmod 0711 "$WORK"
trap 'radius_stop; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
radius_setup "$WORK/r" "$BUILD_DIR/radius_module" "$SRC"
D=$WORK/r
as_owner "$BUILD_DIR/bench/pam_bench" setup "$D" "$USERS" totp >/dev/null
# A RADIUS server taking "x" + code (the split instance), no password module.
sed -i "s|^\totpgate otpgate_deny {|\totpgate otpgate_soak {\n\t\tconfig = $D/otpgate.conf\n\t\tstore = $D/store\n\t\tmaster_key = $D/master.key\n\t\tsplit = yes\n\t}\n\totpgate otpgate_deny {|" "$D/raddb/radiusd.conf"
radius_code_only_server soak otpgate_soak 4
# PAM as the store's owner (nobody when we are root), the module copied out.
cp "$BUILD_DIR/pam_module/pam_otpgate.so" "$WORK/pam_otpgate.so"
mkdir "$WORK/pam.d"
echo "auth required pam_deny.so" > "$WORK/pam.d/other"
echo "auth required $WORK/pam_otpgate.so config=$D/otpgate.conf store=$D/store master_key=$D/master.key fail_delay_ms=0" \
  > "$WORK/pam.d/login"
chmod -R a+rX "$WORK/pam.d" "$WORK/pam_otpgate.so"
radius_start
# RssAnon is the heap (a leak shows there); RssFile includes the pages of
# the store's memory map touched so far, which grow towards the file's size
# as more users log in: reported, not judged.
sample() {
  echo "$1 $(awk '/RssAnon/ {print $2}' "/proc/$RADIUS_PID/status") $(ls "/proc/$RADIUS_PID/fd" | wc -l)" \
    "$(awk '/RssFile/ {print $2}' "/proc/$RADIUS_PID/status")" >> "$WORK/samples"
}
codes() {  # codes FIRST COUNT WRONG_EVERY -> "user code" lines (current TOTP, some wrong)
  python3 - "$@" <<'PY'
import hmac, hashlib, struct, sys, time
first, count, wrong = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
now = int(time.time())
for i in range(first, first + count):
    key = ("bench-" + str(i)).ljust(20, ".").encode()
    mac = hmac.new(key, struct.pack(">Q", now // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    code = "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7fffffff) % 1000000)
    print("user%d %s" % (i, "000000" if i % wrong == 0 else code))
PY
}
pam_login() {  # pam_login USER CODE -> accept | reject | unavailable | other
  local got
  for _ in 1 2 3 4 5; do
    got=$(echo "$2" | as_owner env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 \
      PAM_WRAPPER_SERVICE_DIR="$WORK/pam.d" timeout 30 pamtester -v login "$1" authenticate 2>&1 || true)
    case "$got" in
      *"successfully authenticated"*) echo accept; return ;;
      *"Authentication failure"*) echo reject; return ;;
      *"cannot retrieve authentication info"*) echo unavailable; return ;;
      *PWRAP_ERROR*"Initialization failure"* | *"Failed to create pam_wrapper config dir"*) ;;
      *) echo other; return ;;
    esac
  done
  echo other
}
PER_CHUNK=$((LOGINS / CHUNKS))
PAM_PER_CHUNK=$((PER_CHUNK * PAM_PERCENT / 100))
RAD_PER_CHUNK=$((PER_CHUNK - PAM_PER_CHUNK))
user=0
START=$(date +%s)
sample 0
for chunk in $(seq 1 "$CHUNKS"); do
  [ $((user + PER_CHUNK)) -gt "$USERS" ] && user=0  # a user again: a later step, a fresh code
  codes "$user" "$RAD_PER_CHUNK" 10 | awk '{printf "User-Name = \"%s\", User-Password = \"x%s\"\n\n", $1, $2}' \
    > "$WORK/req" && chmod 0644 "$WORK/req"
  radclient -d "$D/raddb" -q -s -t 10 -r 1 -p 16 -f "$WORK/req" "127.0.0.1:$((RADIUS_PORT + 4))" auth \
    "$RADIUS_SECRET" > "$WORK/rc.out" 2>&1 || true
  sed -n 's/.*Accepted *: *\([0-9]*\).*/radius_accept \1/p; s/.*Rejected *: *\([0-9]*\).*/radius_reject \1/p; s/.*Lost *: *\([0-9]*\).*/radius_lost \1/p' \
    "$WORK/rc.out" >> "$WORK/outcomes"
  user=$((user + RAD_PER_CHUNK))
  codes "$user" "$PAM_PER_CHUNK" 10 > "$WORK/pam.req"
  # Two PAM streams, one per core.
  split -n l/2 "$WORK/pam.req" "$WORK/pam.part."
  STREAM_PIDS=()
  for part in "$WORK"/pam.part.a?; do
    while read -r u c; do echo "pam_$(pam_login "$u" "$c") 1"; done < "$part" > "$part.out" &
    STREAM_PIDS+=($!)
  done
  wait "${STREAM_PIDS[@]}"  # not radiusd
  cat "$WORK"/pam.part.*.out >> "$WORK/outcomes"; rm -f "$WORK"/pam.part.*
  user=$((user + PAM_PER_CHUNK))
  sample "$chunk"
done
ELAPSED=$(($(date +%s) - START))
radius_stop
FAILURES=$(grep -cE 'outcome=(unavailable|store-full|corrupt|internal|permission-denied|wrong-key)' "$RADIUS_LOG" || true)
python3 - "$WORK/outcomes" "$WORK/samples" "$LOGINS" "$USERS" "$ELAPSED" "$FAILURES" <<'PY'
import collections, sys
out, samples, logins, users, elapsed, failures = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
n = collections.Counter()
for line in open(out):
    k, v = line.split(); n[k] += int(v)
s = [tuple(map(int, l.split())) for l in open(samples)][1:]  # after each chunk
tenth = max(1, len(s) // 10)
def avg(rows, i): return sum(r[i] for r in rows) / len(rows)
rss0, rss1 = avg(s[:tenth], 1), avg(s[-tenth:], 1)
fd0, fd1 = avg(s[:tenth], 2), avg(s[-tenth:], 2)
total = sum(n.values())
print(f"users={users} logins={total} (asked {logins}) wall={elapsed}s")
print(f"pam: accept={n['pam_accept']} reject={n['pam_reject']} unavailable={n['pam_unavailable']} other={n['pam_other']}")
print(f"radius: accept={n['radius_accept']} reject={n['radius_reject']} lost={n['radius_lost']} failed-closed lines in radiusd's log={failures}")
mf0, mf1 = avg(s[:tenth], 3), avg(s[-tenth:], 3)
print(f"radiusd RssAnon first tenth {rss0:.0f} KiB, last tenth {rss1:.0f} KiB ({(rss1 / rss0 - 1) * 100:+.1f}%)")
print(f"radiusd RssFile (store map and libraries) first tenth {mf0:.0f} KiB, last tenth {mf1:.0f} KiB")
print(f"radiusd fds first tenth {fd0:.0f}, last tenth {fd1:.0f} ({(fd1 / fd0 - 1) * 100:+.1f}%)")
ok = (n['pam_unavailable'] == 0 and n['pam_other'] == 0 and n['radius_lost'] == 0 and failures == 0
      and rss1 <= rss0 * 1.05 and fd1 <= fd0 * 1.05)
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
