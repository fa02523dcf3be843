#!/usr/bin/env bash
# A large import killed midway (issues 11 and 12): `otpgate token import` of
# KEYS keys is staged in steps of 10,000 (Store::WriteStaged); each trial
# waits until the store holds staged records, then kills the importer with
# SIGKILL at a random point. After each trial:
#  - the trial's tokens are all there (it finished first) or none is, while
#    LMDB holds its staged records;
#  - the journal still verifies;
# and at the end:
#  - the next import removes what the killed ones left (LMDB's own count of
#    records, mdb_stat, equals the visible tokens) and closes each killed
#    import's journal entries: every label of "staged:LABEL" entries has
#    exactly one "published:LABEL:..." or "abandoned:LABEL" entry (a killed
#    one "unavailable": its process is gone);
#  - a killed import's file imports whole when run again (its IDs are free).
# Bound: TRIALS (CI: 4) imports of 100,000 keys, under a minute on 2 cores.
# Usage: import_kill_test.sh PATH/TO/otpgate [TRIALS]
set -u
OTPGATE=${1:?usage: $0 PATH/TO/otpgate [TRIALS]}
TRIALS=${2:-4}
KEYS=100000
for tool in python3 mdb_stat; do
  command -v "$tool" >/dev/null || { echo "$tool is required"; exit 1; }
done
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
: > "$WORK/otpgate.conf"  # named everywhere: the host's /etc/otpgate is never read
og() { "$OTPGATE" --config "$WORK/otpgate.conf" --store "$WORK/store" --master-key "$WORK/master.key" "$@"; }
# As og, but the background job's process is otpgate itself (what kill hits).
og_exec() { exec "$OTPGATE" --config "$WORK/otpgate.conf" --store "$WORK/store" --master-key "$WORK/master.key" "$@"; }
source "$(dirname "$0")/../integration/cli/check_lib.sh"  # check, has
same() {  # same NAME ACTUAL EXPECTED
  if [ "$2" = "$3" ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $1: got '$2', expected '$3'"; fi
}
# Visible tokens whose ID starts with $1 (all if empty), and every record
# LMDB holds (visible or staged).
visible() { og --json list | python3 -c "import json,sys; print(sum(t['credential_id'].startswith('$1') for t in json.load(sys.stdin)))"; }
records() { mdb_stat -s tokens "$WORK/store" | sed -n 's/^ *Entries: //p'; }
keys_file() {  # keys_file PREFIX FILE
  python3 - "$1" "$2" "$KEYS" <<'PY'
import base64, os, sys
prefix, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(path, "w") as f:
    for i in range(n):
        f.write(f"{prefix}{i:07d},{base64.b32encode(os.urandom(20)).decode()}\n")
PY
}

check "init" 0 og init
echo "LIVE0000001,3132333435363738393031323334353637383930,hex" > "$WORK/live.csv"
check "a live token" 0 og token import "$WORK/live.csv"
expected=1 killed=0 killed_prefix=
for trial in $(seq 1 "$TRIALS"); do
  keys_file "KILL$trial" "$WORK/t$trial.csv"
  before=$(records)
  og_exec token import --quiet "$WORK/t$trial.csv" > "$WORK/out" 2>&1 & pid=$!
  # Until a step has been committed as staged (or the import is over).
  for _ in $(seq 1 500); do
    [ "$(records)" -gt "$before" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
  done
  sleep "0.$(printf '%03d' $((RANDOM % 300)))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null; rc=$?
  n=$(visible "KILL$trial")
  if [ "$rc" = 0 ]; then
    same "trial $trial finished before the kill: all there" "$n" "$KEYS"
    expected=$((expected + KEYS))
  else
    same "trial $trial killed (exit $rc): none there" "$n" 0
    killed=$((killed + 1)) killed_prefix=KILL$trial
    [ "$(records)" -gt "$expected" ] && passed=$((passed + 1)) ||
      { failed=$((failed + 1)); echo "FAIL: trial $trial: killed before a step was staged"; }
  fi
  check "trial $trial: the journal verifies" 0 og audit --verify
done
same "visible tokens" "$(visible '')" "$expected"
[ "$killed" -gt 0 ] || { failed=$((failed + 1)); echo "FAIL: no trial was killed midway (imports too fast?)"; }
if [ "$killed" -gt 0 ]; then
  n=${killed_prefix#KILL}
  check "the killed import again" 0 og --json token import --quiet "$WORK/t$n.csv"
  has "all of it" "\"imported\":$KEYS"
  expected=$((expected + KEYS))
  same "visible after it" "$(visible '')" "$expected"
  same "no staged record left behind" "$(records)" "$expected"
fi
check "the journal verifies at the end" 0 og audit --verify
# Streamed (the text form, one line per entry): ~100,000 entries per import.
closing=$(og audit | python3 -c '
import collections, sys
staged, ends = set(), collections.defaultdict(list)
for line in sys.stdin:
    fields = dict(f.split("=", 1) for f in line.split()[2:] if "=" in f)
    reason = fields.get("reason", "")
    if reason.startswith("staged:"):
        staged.add(reason[7:])
    elif reason.startswith("published:"):
        ends[reason[10:].rsplit(":", 1)[0]].append("published")
    elif reason.startswith("abandoned:"):
        ends[reason[10:]].append("abandoned-" + fields.get("outcome", ""))
unclosed = sum(len(ends[l]) != 1 for l in staged)
gone = sum(ends[l] == ["abandoned-unavailable"] for l in staged)
other = sum(e.startswith("abandoned") and e != "abandoned-unavailable" for l in staged for e in ends[l])
print(len(staged), unclosed, gone, other)
')
read -r labels unclosed gone other <<< "$closing"
same "every staged import closed once in the journal (of $labels)" "$unclosed" 0
same "no import failed of itself" "$other" 0
# A trial killed while it still removed the one before wrote nothing staged.
[ "$killed" = 0 ] || [ "${gone:-0}" -ge 1 ] && passed=$((passed + 1)) ||
  { failed=$((failed + 1)); echo "FAIL: no killed import closed as gone ($killed killed)"; }
echo "$passed passed, $failed failed ($killed of $TRIALS imports killed midway)"
[ "$failed" = 0 ]
