#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time on a fresh working corpus
# seeded from the checked-in one (which it never writes).
#   run_fuzzer.sh FUZZER SEED_DIR WORK_DIR SECONDS [extra libFuzzer flags]
# Exits non-zero on a crash, sanitizer report, leak, hang (-timeout) or
# failed invariant; the reproducer is left in WORK_DIR/artifacts/.
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 seconds=$4
shift 4
rm -rf "$work/corpus"
mkdir -p "$work/corpus" "$work/artifacts"
[ -d "$seeds" ] && cp -r "$seeds"/. "$work/corpus/"
# -rss_limit_mb: inputs are capped by -max_len; a parser that balloons is a bug.
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$@" "$work/corpus"
