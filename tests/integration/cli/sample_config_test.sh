#!/usr/bin/env bash
# The shipped sample config parses, and every option of the core's table
# appears in it with its default (so the sample cannot drift from the code).
# Usage: sample_config_test.sh OTPGATE_CLI SAMPLE_CONF
set -euo pipefail
CLI=$1 SAMPLE=$2
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
# Uncomment every "#name = value" line: the defaults as a real config.
sed -n 's/^#\([a-z_]* = .*\)$/\1/p' "$SAMPLE" | sed 's/  *#.*$//' > "$WORK/all.conf"
chmod 0644 "$WORK/all.conf"
"$CLI" --config "$WORK/all.conf" --json config > "$WORK/from_sample.json"
"$CLI" --config /dev/null/absent --json config >/dev/null 2>&1 && { echo "FAIL: missing explicit config accepted"; exit 1; }
printf '' > "$WORK/empty.conf"; chmod 0644 "$WORK/empty.conf"
"$CLI" --config "$WORK/empty.conf" --json config > "$WORK/defaults.json"
# The options only: config_files names the file each run read.
options() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d.pop('config_files'); print(json.dumps(d))" "$1"; }
options "$WORK/from_sample.json" > "$WORK/from_sample.options"
options "$WORK/defaults.json" > "$WORK/defaults.options"
grep -qF "\"config_files\":[\"$WORK/all.conf\"]" "$WORK/from_sample.json" || { echo "FAIL: config does not name its file"; exit 1; }
if ! cmp -s "$WORK/from_sample.options" "$WORK/defaults.options"; then
  echo "FAIL: the sample's values differ from the built-in defaults"; diff <(tr , '\n' < "$WORK/from_sample.json") <(tr , '\n' < "$WORK/defaults.json"); exit 1
fi
missing=$(python3 -c "import json,sys; print(' '.join(k for k in json.load(open(sys.argv[1])) if k not in open(sys.argv[2]).read()))" "$WORK/defaults.options" "$SAMPLE")
[ -z "$missing" ] || { echo "FAIL: options missing from the sample: $missing"; exit 1; }
echo "3 passed, 0 failed"
