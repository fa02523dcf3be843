#!/usr/bin/env bash
# 100,000-key PSKC import: time and peak memory of `otpgate token import`
# into an empty store, plaintext and password-encrypted (PBKDF2 + AES-CBC +
# HMAC per key), against the same 100,000 tokens as CSV (the baseline: no
# XML, no decryption) in the same run.
#   bench/run_pskc_bench.sh [BUILD_DIR] [KEYS]
set -euo pipefail
BUILD_DIR=${1:-build}
KEYS=${2:-100000}
CLI="$BUILD_DIR/tools/otpgate"
WORK=$(mktemp -d); chmod 0700 "$WORK"; trap 'rm -rf "$WORK"' EXIT
printf 'bench-password\n' > "$WORK/pw"; chmod 0600 "$WORK/pw"
gen() { "$CLI" --store "$WORK/gen" --master-key "$WORK/gen.key" "$@"; }
gen init >/dev/null
gen token new --count "$KEYS" --prefix VSST --pskc "$WORK/plain.pskcxml" --uris "$WORK/keys.uris" >/dev/null
gen token new --count "$KEYS" --prefix VSMT --pskc "$WORK/encrypted.pskcxml" --password-file "$WORK/pw" >/dev/null
# The CSV baseline: the same tokens as the plaintext file.
sed -n 's|otpauth://totp/[^:]*:\([A-Z0-9]*\)?secret=\([A-Z2-7]*\).*|\1,\2|p' "$WORK/keys.uris" > "$WORK/keys.csv"
measure() {  # measure NAME FILE [ARGS...]
  local name=$1 file=$2; shift 2
  rm -rf "$WORK/s" "$WORK/s.key"
  "$CLI" --store "$WORK/s" --master-key "$WORK/s.key" init >/dev/null
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$CLI" --store "$WORK/s" --master-key "$WORK/s.key" --json \
    token import "$file" "$@" > "$WORK/out"
  grep -q "\"imported\":$KEYS" "$WORK/out" || { echo "$name: not all imported"; cat "$WORK/out"; exit 1; }
  read -r seconds kib < "$WORK/time"
  echo "$name $seconds $kib $(stat -c %s "$file")"
}
{
  measure csv "$WORK/keys.csv"
  measure pskc-plain "$WORK/plain.pskcxml"
  measure pskc-password "$WORK/encrypted.pskcxml" --password-file "$WORK/pw"
} > "$WORK/results"
python3 - "$WORK/results" "$KEYS" <<'PY'
import sys
rows = {r.split()[0]: r.split()[1:] for r in open(sys.argv[1])}
keys = int(sys.argv[2])
base = float(rows["csv"][0])
print(f"| file ({keys:,} keys) | size | seconds | keys/s | / CSV | peak RSS |")
print("|---|---|---|---|---|---|")
for name in ("csv", "pskc-plain", "pskc-password"):
    s, kib, size = float(rows[name][0]), int(rows[name][1]), int(rows[name][2])
    print(f"| {name} | {size/1e6:.1f} MB | {s:.2f} | {keys/s:,.0f} | {s/base:.2f}x | {kib/1024:.0f} MiB |")
print(f"\ntarget: 100,000 keys in under 10 s: {'met' if max(float(rows[n][0]) for n in rows) < 10 else 'NOT met'}")
PY
