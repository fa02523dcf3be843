#!/usr/bin/env bash
# Bounded-memory import: KEYS (default 1,000,000) tokens as CSV and as a
# plaintext PSKC file, in serial-number order as vendors deliver them, each
# imported into an empty store with `otpgate token import` (all or nothing:
# checked in a first pass, stored in a second, staged 10,000 per
# transaction); time and peak RSS from /usr/bin/time -v, and the peak of
# private memory (RssAnon, sampled every 0.1 s): RSS also counts the pages
# of the store file the process has mapped (page cache, shared, dropped by
# the kernel when memory is short). Then the same CSV in random order (every
# step would land all over the tree, were the entries not sorted first),
# a PSKC file of one 20 MB KeyPackage (refused while read: a package over
# 1 MiB), and the CSV with one bad last line: nothing may be imported.
#   bench/run_import_bench.sh [BUILD_DIR] [KEYS]
set -euo pipefail
BUILD_DIR=${1:-build}
KEYS=${2:-1000000}
CLI="$BUILD_DIR/tools/otpgate"
WORK=$(mktemp -d); chmod 0700 "$WORK"; trap 'rm -rf "$WORK"' EXIT
: > "$WORK/otpgate.conf"  # never the host's /etc/otpgate
/usr/bin/python3 - "$WORK" "$KEYS" <<'PY'
import base64, os, sys
work, keys = sys.argv[1], int(sys.argv[2])
with open(f"{work}/keys.csv", "w") as csv, open(f"{work}/keys.pskcxml", "w") as x:
    x.write('<?xml version="1.0" encoding="UTF-8"?>\n<KeyContainer Version="1.0" '
            'xmlns="urn:ietf:params:xml:ns:keyprov:pskc">\n')
    for i in range(keys):
        secret = os.urandom(20)
        csv.write(f"VSST{i:08d},{base64.b32encode(secret).decode()}\n")
        x.write(f'<KeyPackage><DeviceInfo><SerialNo>VSST{i:08d}</SerialNo></DeviceInfo>'
                f'<Key Id="{i}" Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp"><Data><Secret>'
                f'<PlainValue>{base64.b64encode(secret).decode()}</PlainValue></Secret>'
                f'<TimeInterval><PlainValue>30</PlainValue></TimeInterval></Data></Key></KeyPackage>\n')
    x.write("</KeyContainer>\n")
PY
/usr/bin/python3 - "$WORK" <<'PY'
import sys  # one KeyPackage of 20 MB (5,000,000 empty elements): refused while read
with open(f"{sys.argv[1]}/huge-package.pskcxml", "w") as x:
    x.write('<?xml version="1.0" encoding="UTF-8"?>\n<KeyContainer Version="1.0" '
            'xmlns="urn:ietf:params:xml:ns:keyprov:pskc">\n<KeyPackage><DeviceInfo><SerialNo>'
            'VSST00000001</SerialNo></DeviceInfo><Key Id="1" '
            'Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp"><Data><Secret><PlainValue>'
            'MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret></Data><UserId>')
    x.write("<a/>" * 5000000)
    x.write("</UserId></Key></KeyPackage></KeyContainer>\n")
PY
/usr/bin/python3 - "$WORK" <<'PY'
import random, sys
lines = open(f"{sys.argv[1]}/keys.csv").readlines()
random.seed(1)
random.shuffle(lines)
open(f"{sys.argv[1]}/random.csv", "w").writelines(lines)
PY
measure() {  # measure NAME FILE EXPECTED_EXIT
  local name=$1 file=$2 expected=$3 rc=0
  rm -rf "$WORK/s" "$WORK/s.key"
  "$CLI" --config "$WORK/otpgate.conf" --store "$WORK/s" --master-key "$WORK/s.key" init >/dev/null
  /usr/bin/time -v -o "$WORK/time" "$CLI" --config "$WORK/otpgate.conf" --store "$WORK/s" --master-key "$WORK/s.key" --json \
    token import --quiet "$file" > "$WORK/out" 2>/dev/null &
  local pid=$! anon=0 now
  while kill -0 "$pid" 2>/dev/null; do
    for child in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do
      now=$(awk '/^RssAnon/ {print $2}' "/proc/$child/status" 2>/dev/null || true)
      [ -n "$now" ] && [ "$now" -gt "$anon" ] && anon=$now
    done
    sleep 0.1
  done
  wait "$pid" || rc=$?
  [ "$rc" = "$expected" ] || { echo "$name: exit $rc, expected $expected"; cat "$WORK/out"; exit 1; }
  local stored; stored=$("$CLI" --config "$WORK/otpgate.conf" --store "$WORK/s" --master-key "$WORK/s.key" --json list | grep -o credential_id | wc -l || true)
  local seconds kib
  seconds=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WORK/time" | awk -F: '{print ($1 * 60) + $2}')
  kib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time")
  cpu=$(sed -n 's/.*\(User\|System\) time (seconds): //p' "$WORK/time" | awk '{s += $1} END {print s}')
  printf '| %s | %.1f MB | %s | %s | %s | %d MiB | %d MiB |\n' "$name" "$(echo "$(stat -c %s "$file") / 1000000" | bc -l)" \
    "$seconds" "$cpu" "$stored" $((kib / 1024)) $((anon / 1024))
}
echo "| file ($KEYS keys) | size | wall s | CPU s | stored | peak RSS | peak private |"
echo "|---|---|---|---|---|---|---|"
measure csv "$WORK/keys.csv" 0
measure pskc-plain "$WORK/keys.pskcxml" 0
measure "csv, random order" "$WORK/random.csv" 0
measure "pskc, one 20 MB KeyPackage" "$WORK/huge-package.pskcxml" 11
echo "BAD,not-base32" >> "$WORK/keys.csv"
measure "csv, last line bad" "$WORK/keys.csv" 11
