#!/usr/bin/env bash
# Secrets never leak (issue 11 point 6): every flow at the most verbose
# level — PAM with `debug`, radiusd at debug level (-xx), the CLI with and
# without --json, its errors — with a known token secret, master key,
# password and codes; then everything otpgate wrote (outputs, its syslog
# audit lines, radiusd's log lines from our module, files other than the
# sealed store) is searched for each in raw, hex, base32 and base64 form.
# Commands whose job is to print a secret (show --uri, code, token new) are
# not run. FreeRADIUS's own attribute dump (-X/-xx prints User-Password) is
# the server's: only our module's lines are searched there (docs/security.md).
# Usage: leak_test.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=$1 SRC=$2
# A private mount namespace, so that a /dev/log of our own can capture
# syslog (root only; otherwise syslog lines are not searched, said below).
if [ "$(id -u)" = 0 ] && [ -z "${REL_IN_NS:-}${REL_NO_NS:-}" ] && unshare -m true 2>/dev/null; then
  exec env REL_IN_NS=1 unshare -m --propagation private "$0" "$@"
fi
source "$SRC/tests/reliability/lib.sh"
source "$SRC/tests/reliability/syslog_capture.sh"
REL_DIGITS=8
SECRET_TEXT="LeakCanary-Secret-01"
REL_SECRET_HEX=$(printf %s "$SECRET_TEXT" | od -An -tx1 | tr -d ' \n')
PASSWORD="Pw-Canary-7391"
rel_setup "$BUILD" "$SRC"
cleanup() {
  [ -n "${SYSLOG_PID:-}" ] && kill "$SYSLOG_PID" 2>/dev/null
  if [ -n "${REL_IN_NS:-}" ]; then
    mountpoint -q /dev && [ -S /dev/log ] && umount -l /dev
    findmnt -rn -o TARGET | grep "^$WORK/dev/" | sort -r | xargs -r -n1 umount -l
  fi
  rel_cleanup
}
trap cleanup EXIT
OUT=$WORK/out; mkdir -p "$OUT"; chmod 0777 "$OUT"
SYSLOG=$OUT/syslog
echo "leaky Cleartext-Password := \"$PASSWORD\"" >> "$D/raddb/users"
# radiusd (at debug level) starts before /dev is replaced: it does not start
# with the replacement, and it logs to its own file anyway.
RADIUS_EXTRA_ARGS=-xx radius_start || exit 1
if [ -n "${REL_IN_NS:-}" ]; then capture_syslog "$SYSLOG"; else echo "note: no private mount namespace: syslog lines not searched"; fi

n=0
run() {  # run NAME CMD...: output kept for the search
  n=$((n + 1)); "${@:2}" > "$OUT/$n.$1.out" 2>&1 || true
}
# Every code below is HOTP(secret, n) for n in 0..6 or 50 (wrong: beyond the
# look-ahead): all of them are searched for.
code() { hotp "$1"; }
USED_CODES=$(for i in $(seq 0 6) 50; do hotp "$i"; done | tr '\n' ' ')

# Input files (not searched: they are ours).
IN=$WORK/in; mkdir -p "$IN"
echo "LEAK00000001,$REL_SECRET_HEX,hex,hotp,,8,0" > "$IN/t.csv"
echo "LEAK00000002,$REL_SECRET_HEX,hex,hotp,,8,0" > "$IN/t2.csv"
head -c 32 /dev/urandom > "$IN/other.key"; chmod 0600 "$IN/other.key"
chmod 0644 "$IN/t.csv" "$IN/t2.csv"; [ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$IN"

for json in "" --json; do
  run import og $json token import "$IN/t.csv" --replace
  run show og $json show LEAK00000001
  run list og $json list
  run register-wrong og $json register leaky LEAK00000001 "$(code 50)"
  run register og $json register leaky LEAK00000001 "$(code 0)"
  run verify og $json verify leaky "$(code 1)"
  run replay og $json verify leaky "$(code 1)"
  run wrong og $json verify leaky "$(code 50)"
  run malformed og $json verify leaky "12x45678"
  run unknown-user og $json verify nobody-here "$(code 2)"
  run resync og $json resync LEAK00000001 "$(code 3)" "$(code 4)"
  run wrong-key as_owner "$WORK/otpgate" $json --config "$D/otpgate.conf" --store "$D/store" --master-key "$IN/other.key" verify leaky "$(code 5)"
  run missing-store as_owner "$WORK/otpgate" $json --config "$D/otpgate.conf" --store "$WORK/none" --master-key "$D/master.key" verify leaky "$(code 5)"
  run debug-option og $json -o debug=yes verify leaky "$(code 5)"
  run stop og $json stop leaky "$(code 6)"
  run unassign og $json token import "$IN/t.csv" --replace
done

# PAM, debug: register, login (accept, wrong, replay), stop.
run pam-register pam_login otp-register leaky LEAK00000001 "$(code 0)"
run pam-login pam_login otp-login leaky "$(code 1)"
run pam-replay pam_login otp-login leaky "$(code 1)"
run pam-wrong pam_login otp-login leaky "$(code 50)"
run pam-stop pam_login otp-stop leaky "$(code 2)"

# RADIUS at debug level: two rounds, split, register and stop by attribute.
# (radclient does not run with the replaced /dev: the real one is back, the
# RADIUS module logs to radiusd's own log, not syslog.)
[ -n "${REL_IN_NS:-}" ] && umount -l /dev
og token import "$IN/t2.csv" --replace >/dev/null
# radclient's own output echoes the request (the password): kept apart.
RC=$WORK/radclient; mkdir -p "$RC"
rs() { rc_send "$2" "$3" > "$RC/$1.out" 2>&1; }
rs register 0 "User-Name = \"leaky\", User-Password = \"$PASSWORD\", Otpgate-Action = Register, Otpgate-Credential-Id = \"LEAK00000002\", Otpgate-Code = \"$(code 0)\""
rs round1 0 "User-Name = \"leaky\", User-Password = \"$PASSWORD\""
STATE=$(sed -n 's/^[[:space:]]*State = \(0x[0-9a-f]*\).*/\1/p' "$RC/round1.out" | head -1)
rs round2 0 "User-Name = \"leaky\", User-Password = \"$(code 1)\", State = $STATE"
rs split 2 "User-Name = \"leaky\", User-Password = \"$PASSWORD$(code 2)\""
rs split-wrong 2 "User-Name = \"leaky\", User-Password = \"$PASSWORD$(code 50)\""
rs stop 0 "User-Name = \"leaky\", User-Password = \"$PASSWORD\", Otpgate-Action = Stop, Otpgate-Code = \"$(code 3)\""
radius_stop
grep -q 'Access-Accept' "$RC/split.out" || { echo "FAIL: the RADIUS flows did not run"; exit 1; }
# Our module's lines only: "(N) otpgate...: " from RDEBUG/REDEBUG, and the
# auth log lines naming otpgate.
grep -E '^\([0-9]+\) +(ERROR: )?otpgate[a-z_]*: |otpgate:' "$D/log/stdout.log" "$D/log/radius.log" 2>/dev/null \
  > "$OUT/radius-module-lines" || true
[ -s "$OUT/radius-module-lines" ] || { echo "FAIL: no otpgate lines in radiusd's log"; exit 1; }
[ -n "${REL_IN_NS:-}" ] && { [ -s "$SYSLOG" ] || { echo "FAIL: no syslog lines captured"; exit 1; }; }

# Everything otpgate wrote: our outputs, the syslog capture, radiusd lines
# from our module, and every file under the store directory except the
# sealed data.mdb (lock.mdb included).
SEARCH=("$OUT" "$D/store/lock.mdb")
python3 - "$REL_SECRET_HEX" "$D/master.key" "$PASSWORD" "$USED_CODES" "${SEARCH[@]}" <<'PY'
import base64, binascii, os, re, sys
secret = bytes.fromhex(sys.argv[1])
key = open(sys.argv[2], "rb").read()
password = sys.argv[3].encode()
codes = sorted(set(sys.argv[4].split()))
paths = sys.argv[5:]

def forms(name, raw):
    out = {f"{name} raw": raw, f"{name} hex": binascii.hexlify(raw),
           f"{name} HEX": binascii.hexlify(raw).upper(),
           f"{name} base32": base64.b32encode(raw).rstrip(b"="),
           f"{name} base64": base64.b64encode(raw).rstrip(b"=")}
    return out

needles = {}
needles.update(forms("secret", secret))
needles.update(forms("master key", key))
stripped = key.strip()
if stripped != key: needles.update(forms("master key text", stripped))
needles.update(forms("password", password))
files = []
for p in paths:
    if os.path.isdir(p):
        for root, _, names in os.walk(p):
            files += [os.path.join(root, n) for n in names]
    elif os.path.exists(p):
        files.append(p)
found = []
for f in files:
    data = open(f, "rb").read()
    for name, needle in needles.items():
        if len(needle) >= 6 and needle in data:
            found.append(f"{name} in {f}")
    for c in codes:  # 8-digit codes, as whole numbers
        if re.search(rb"(?<![0-9])" + c.encode() + rb"(?![0-9])", data):
            found.append(f"code {c} in {f}")
print(f"searched {len(files)} files for {len(needles)} secret forms and {len(codes)} codes")
for line in found: print("FAIL:", line)
sys.exit(1 if found else 0)
PY
