#!/usr/bin/env bash
# Accepts/s of the LMDB and the PostgreSQL store backends in one run, 1 and
# 32 threads in flight, OtpService::Verify directly (no RADIUS/PAM around
# it), both durable: LMDB fsyncs each (group) commit; the PostgreSQL server
# here runs with fsync on and synchronous_commit on, on a Unix socket.
# Target (issue 14): PostgreSQL >= 0.7x LMDB at 32 in flight.
#   bench/run_store_bench.sh [BUILD_DIR]     USERS=20000 by default
# Run it on a quiet machine: it measures commits, which contend for the disk.
set -euo pipefail
BUILD_DIR=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
USERS=${USERS:-20000}
WORK=$(mktemp -d /tmp/otpgate-store-bench-XXXXXX); chmod 0755 "$WORK"
trap '"$SRC/tests/postgres/server.sh" stop "$WORK/pg" || true; rm -rf "$WORK"' EXIT
PG_FSYNC=on "$SRC/tests/postgres/server.sh" start "$WORK/pg" >/dev/null
echo "LMDB:"
"$BUILD_DIR/bench/store_bench" "$WORK/lmdb" "$WORK/lmdb.key" "$USERS" | tee "$WORK/lmdb.out"
echo "PostgreSQL:"
"$BUILD_DIR/bench/store_bench" "host=$WORK/pg port=5432 user=otpgate dbname=otpgate" \
  "$WORK/pg.key" "$USERS" | tee "$WORK/pg.out"
python3 - "$WORK/lmdb.out" "$WORK/pg.out" <<'PY'
import re, sys
def rates(path):
    return {int(m[0]): float(m[1]) for m in re.findall(r"threads=(\d+) .*rate=(\d+)", open(path).read())}
l, p = rates(sys.argv[1]), rates(sys.argv[2])
for t in sorted(l):
    print(f"threads={t}: PostgreSQL/LMDB = {p[t] / l[t]:.2f}")
PY
