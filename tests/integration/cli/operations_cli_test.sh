#!/usr/bin/env bash
# The operator's commands end to end with the shipped CLI: the daily
# questions (list filters, unlock --user, typed JSON, config, init), short
# messages for bad input, the journal (audit, --verify after the store is
# edited with LMDB's own mdb_dump/mdb_load, --prune-before), and backup and
# restore while other CLI processes keep deciding.
# Bound: about 150 CLI runs, under 60 s on 2 busy cores.
# Usage: OTPGATE_AT=PATH/TO/otpgate_at operations_cli_test.sh PATH/TO/otpgate
set -u
OTPGATE=${1:?usage: $0 PATH/TO/otpgate}
for tool in oathtool python3 mdb_dump mdb_load; do
  command -v "$tool" >/dev/null || { echo "$tool is required"; exit 1; }
done
WORK=$(mktemp -d)
trap 'kill $LOAD_PIDS 2>/dev/null; rm -rf "$WORK"' EXIT
LOAD_PIDS=
: > "$WORK/otpgate.conf"  # named everywhere: the host's /etc/otpgate is never read
HEX=3132333435363738393031323334353637383930
T=1800000000
og() { "${AT[@]:-$OTPGATE}" --config "$WORK/otpgate.conf" --store "$WORK/store" --master-key "$WORK/master.key" "$@"; }
code_at() { oathtool --totp -N "@$1" "$HEX"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

source "$(dirname "$0")/check_lib.sh"  # check, has
same() {  # same NAME ACTUAL EXPECTED
  if [ "$2" = "$3" ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $1: got '$2', expected '$3'"; fi
}

# --- Setup and the daily questions. ---
check "init" 0 og init
has "init" "initialised"
check "init again" 0 og init
has "init again says nothing changed" "already initialised: nothing changed"
for i in 1 2 3 4 5 6; do echo "VSST0000000$i,$HEX,hex"; done > "$WORK/t.csv"
check "import" 0 og token import "$WORK/t.csv"
for i in 1 2 3 4 5; do check "assign $i" 0 at $T og assign "VSST0000000$i" "user$i"; done
for i in 1 2 3 4 5; do check "login $i" 0 at $T og verify "user$i" "$(code_at $T)"; done
for w in 000001 000002 000003 000004 000005; do at $T og verify user2 $w >/dev/null; done
check "user2 is locked" 4 at $T og verify user2 "$(code_at $((T + 30)))"
check "list --locked" 0 og list --time $T --locked
has "locked token listed" "VSST00000002"
same "only the locked one" "$(og --json list --time $T --locked | json 'len(d)')" 1
same "--state unassigned" "$(og --json list --time $T --state unassigned | json '[t["credential_id"] for t in d]')" "['VSST00000006']"
same "--user" "$(og --json list --time $T --user user3 | json 'd[0]["credential_id"]')" VSST00000003
same "JSON numbers and null" \
  "$(og --json show --time $T VSST00000006 | json '(d["digits"], d["failures"], d["owner"], d["last_used"], d["locked"])')" \
  "(6, 0, None, None, False)"
same "last use" "$(og --json show --time $T VSST00000001 | json 'd["last_used"]')" 2027-01-15T08:00:00Z
check "list shows last use" 0 og list --time $T
has "last use column" "2027-01-15T08:00:00Z"
check "unlock --user" 0 at $T og unlock --user user2
has "unlocked token named" "VSST00000002"
check "unlocked" 0 at $((T + 30)) og verify user2 "$(code_at $((T + 30)))"
check "unlock --user without tokens" 15 og unlock --user nobody-here
check "unlock needs one target" 11 og unlock VSST00000001 --user user1
same "config JSON types" "$(og --json config | json '(d["window"], d["debug"], d["config_files"])')" "(1, False, ['$WORK/otpgate.conf'])"
printf 'window = 2\n' > "$WORK/otpgate.conf"; chmod 0600 "$WORK/otpgate.conf"
check "config names its file" 0 og config
has "file named" "config_files:        $WORK/otpgate.conf"
: > "$WORK/otpgate.conf"  # back to the defaults for the rest

# --- Short, exact messages for bad input. ---
check "unknown command" 2 og frobnicate
same "unknown command message" "$LAST" "otpgate: unknown command 'frobnicate' (see otpgate --help)"
check "negative --time" 2 og list --time -5
has "--time message" "--time: must be a Unix time from 0 to 253402300799"
check "huge --time" 2 og list --time 99999999999999999999
has "--time message" "must be a Unix time"
# --time only shows (code, show, list): a command that writes has none, and
# a refused option changes nothing (user1's next code still logs in below).
check "no --time on verify" 2 og verify --time 1 user1 000000
has "verify --time message" "--time"
check "no global --time" 2 og --time 1 verify user1 000000
check "no --time on unlock" 2 og unlock --time 1 VSST00000001
same "user1's failures untouched" "$(og --json show VSST00000001 | json 'd["failures"]')" 0
check "bad --since" 11 og audit --since yesterday
has "--since message" "is not a time"

# --- The journal. ---
check "audit" 0 og audit --user user2
has "a reject" "action=login user=user2 token=VSST00000002 outcome=reject"
has "the lock" "outcome=locked"
has "the unlock" "action=unlock user=user2 token=VSST00000002 outcome=ok"
same "audit JSON" "$(og --json audit --token VSST00000001 | json '[(e["action"], e["outcome"], type(e["sequence"]).__name__) for e in d]')" \
  "[('import', 'ok', 'int'), ('assign', 'ok', 'int'), ('login', 'accept', 'int')]"
check "verify" 0 og audit --verify
HEAD=$(og --json audit --verify | json 'd["head"]')
ENTRIES=$(og --json audit --verify | json 'd["entries"]')

# Edit, delete and reorder entries of copies of the store with mdb_dump and
# mdb_load (keys are 8-byte big-endian sequence numbers, shown in hex).
tamper() {  # tamper PYTHON-EDIT-OF-PAIRS -> $WORK/copy: the store rebuilt with an edited journal
  rm -rf "$WORK/copy"; mkdir -m 0700 "$WORK/copy"
  local db
  for db in tokens users meta journal; do
    mdb_dump -s $db "$WORK/store" > "$WORK/$db.dump" || return 1
  done
  python3 - "$WORK/journal.dump" "$1" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
end = lines.index("HEADER=END")
body = [l for l in lines[end + 1:] if l.startswith(" ")]
pairs = [[body[i], body[i + 1]] for i in range(0, len(body), 2)]
exec(sys.argv[2])
out = lines[:end + 1] + [x for p in pairs for x in p] + ["DATA=END", ""]
open(sys.argv[1], "w").write("\n".join(out))
PY
  for db in tokens users meta journal; do
    (umask 077; mdb_load -s $db "$WORK/copy" < "$WORK/$db.dump" 2>/dev/null) || return 1
  done
}
broken_at() {  # broken_at NAME SEQUENCE WORD
  local out
  out=$("$OTPGATE" --config "$WORK/otpgate.conf" --store "$WORK/copy" --master-key "$WORK/master.key" --json audit --verify)
  same "$1: --verify fails at $2" "$(json '(d["ok"], d["first_bad"])' <<<"$out")" "(False, $2)"
  if grep -q "$3" <<<"$out"; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $1: '$3' not in $out"; fi
}
# An edit: entry 5's outcome byte pattern changed (ok -> no).
tamper 'k, v = pairs[4]; pairs[4] = [k, v.replace("026f6b", "026e6f", 1)]' &&
  broken_at "edited entry" 5 "altered"
tamper 'del pairs[6]' && broken_at "removed entry" 7 "missing"
tamper 'pairs[2][1], pairs[3][1] = pairs[3][1], pairs[2][1]' && broken_at "reordered entries" 3 "reordered"
check "original untouched" 0 og audit --verify
check "expected head holds" 0 og audit --verify --expect-head "$HEAD"
# The chain alone cannot see the newest entry removed; a recorded head can.
tamper 'del pairs[-1]'
check "truncated copy: chain still valid" 0 "$OTPGATE" --config "$WORK/otpgate.conf" --store "$WORK/copy" --master-key "$WORK/master.key" audit --verify
check "truncated copy: recorded head catches it" 18 "$OTPGATE" --config "$WORK/otpgate.conf" --store "$WORK/copy" --master-key "$WORK/master.key" audit --verify --expect-head "$HEAD"
has "says what happened" "newest entries removed or store rolled back"
OLD=$(og --json audit | json 'len([e for e in d if e["time"] < "2027-01-15T08:00:01Z"])')
check "prune" 0 og --json audit --prune-before $((T + 1))
same "pruned count" "$(json 'd["removed"]' <<<"$LAST")" "$OLD"
check "verifies after pruning" 0 og --json audit --verify
same "checkpoint recorded" "$(json '(d["ok"], d["checkpoint"])' <<<"$LAST")" "(True, $OLD)"

# --- Backup while other processes keep deciding, then restore. ---
load() {  # wrong codes for user4 and replays for user5, as fast as the CLI goes
  while :; do
    at $T og verify user4 000000 >/dev/null 2>&1
    at $T og verify user5 "$(code_at $T)" >/dev/null 2>&1
  done
}
load & LOAD_PIDS="$LOAD_PIDS $!"
load & LOAD_PIDS="$LOAD_PIDS $!"
sleep 1
check "backup under load" 0 og backup "$WORK/backup"
sleep 1
kill $LOAD_PIDS; wait $LOAD_PIDS 2>/dev/null; LOAD_PIDS=
same "backup modes" "$(stat -c %a "$WORK/backup" "$WORK/backup/data.mdb" "$WORK/backup/master.key" "$WORK/backup/MANIFEST" | tr '\n' ' ')" "700 600 600 600 "
check "checksums in the manifest" 0 grep -c '^sha256 [0-9a-f]\{64\} data.mdb$' "$WORK/backup/MANIFEST"
check "backup refuses a used directory" 13 og backup "$WORK/backup"
check "restore refuses a live store" 13 og restore "$WORK/backup"
has "says why" "does not overwrite a live store"
r() { "${AT[@]:-$OTPGATE}" --config "$WORK/otpgate.conf" --store "$WORK/restored/store" --master-key "$WORK/restored/master.key" "$@"; }
mkdir -m 0700 "$WORK/restored"
check "restore into a new directory" 0 r restore "$WORK/backup"
same "restored modes" "$(stat -c %a "$WORK/restored/store" "$WORK/restored/store/data.mdb" "$WORK/restored/master.key" | tr '\n' ' ')" "700 600 600 "
check "restored journal verifies" 0 r audit --verify
check "replay mark kept (user1)" 3 at $T r verify user1 "$(code_at $T)"
check "user4's failures kept" 0 test "$(r --json show VSST00000004 | json 'd["failures"]')" -ge 1
for i in 1 2 3 5; do
  check "token $i verifies its next code" 0 at $((T + 60)) r verify "user$i" "$(code_at $((T + 60)))"
done
check "restored tokens" 0 test "$(r --json list | json 'len(d)')" = 6
# A corrupted backup and a backup without its key.
# (dd without the sanitizer runtime that stage 2 preloads: the runtime refuses
# dd's aligned_alloc of 1 byte, dd exits 1 and the "damaged" copy stays intact.)
cp -a "$WORK/backup" "$WORK/bad"
printf 'x' | env -u LD_PRELOAD dd of="$WORK/bad/data.mdb" bs=1 seek=5000 conv=notrunc 2>/dev/null
check "the copy is damaged" 1 cmp -s "$WORK/backup/data.mdb" "$WORK/bad/data.mdb"
mkdir -m 0700 "$WORK/r2"
check "checksum mismatch refused" 18 "$OTPGATE" --config "$WORK/otpgate.conf" --store "$WORK/r2/store" --master-key "$WORK/r2/master.key" restore "$WORK/bad"
has "names the file" "data.mdb does not match its checksum"
check "backup --no-key" 0 og backup --no-key "$WORK/nokey"
has "warns" "warning: the master key is not in"
check "no key in it" 1 test -e "$WORK/nokey/master.key"
head -c 32 /dev/urandom > "$WORK/r2/other.key"; chmod 0600 "$WORK/r2/other.key"
check "wrong key refused" 19 "$OTPGATE" --config "$WORK/otpgate.conf" --store "$WORK/r2/store" --master-key "$WORK/r2/other.key" restore "$WORK/nokey"
check "nothing left behind" 1 test -e "$WORK/r2/store"

echo "operations_cli_test: $passed passed, $failed failed"
[ "$failed" = 0 ]
