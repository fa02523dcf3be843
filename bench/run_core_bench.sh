#!/usr/bin/env bash
# Runs the core benchmarks and prints each figure as a ratio against its
# baseline from the same run (this machine is noisy; absolute times are not
# comparable between runs).
#   bench/run_core_bench.sh [BUILD_DIR]
set -euo pipefail
BUILD_DIR=${1:-build}
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
"$BUILD_DIR/bench/otp_bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_min_time=0.3 --benchmark_format=json > "$OUT"
python3 - "$OUT" <<'PY'
import json, sys
rows = {b["run_name"].split("/")[0]: b for b in json.load(open(sys.argv[1]))["benchmarks"] if b.get("aggregate_name") == "median"}
def ns(name):
    b = rows[name]; scale = {"ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]]
    return b["real_time"] * scale
for name in rows: print(f"{name:45s} {ns(name):12.1f} ns (median of 5)")
r1 = ns("BM_TotpVerifyWindow1") / ns("BM_RawHmacPrekeyedX3")
r2 = ns("BM_ServiceVerifyAcceptDurable") / ns("BM_LmdbDurableCommit")
print(f"\nTOTP verify (+-1) / 3 raw pre-keyed HMACs: {r1:.2f}x  (target <= 1.5x: {'met' if r1 <= 1.5 else 'NOT met'})")
print(f"Service Verify (accept, durable) / 1 durable LMDB commit: {r2:.2f}x")
print(f"One-shot HMAC() / pre-keyed HMAC: {ns('BM_RawHmacOneShot') / (ns('BM_RawHmacPrekeyedX3') / 3):.2f}x")
PY
