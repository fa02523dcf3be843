#!/usr/bin/env bash
# The shipped CLI on a PostgreSQL store: init creates and upgrades the
# schema, decisions are journalled and `audit --verify` passes; an entry
# edited with SQL is found; `store copy` carries tokens, marks, locks and the
# journal PostgreSQL -> LMDB -> PostgreSQL with the same journal head, and
# decisions chain on in the copy; backup and restore refuse a PostgreSQL
# store and say what to use instead, leaving nothing behind.
# Needs the shared test PostgreSQL (OTPGATE_TEST_PG_DIR, fixture
# postgres.server.start). Bound: about 60 CLI runs, under 30 s.
# Usage: OTPGATE_AT=PATH/TO/otpgate_at postgres_cli_test.sh PATH/TO/otpgate
set -u
OTPGATE=${1:?usage: $0 PATH/TO/otpgate}
PG_DIR=${OTPGATE_TEST_PG_DIR:?the shared test PostgreSQL is not set up (OTPGATE_TEST_PG_DIR)}
for tool in oathtool python3 psql; do
  command -v "$tool" >/dev/null || { echo "$tool is required"; exit 1; }
done
source "$(dirname "$0")/check_lib.sh"
WORK=$(mktemp -d)
: > "$WORK/otpgate.conf"  # named everywhere: the host's /etc/otpgate is never read
BASE="host=$PG_DIR port=5432 user=otpgate dbname=otpgate"
SCHEMAS=()
trap 'for s in "${SCHEMAS[@]}"; do psql -q "$BASE" -c "DROP SCHEMA $s CASCADE" >/dev/null 2>&1; done; rm -rf "$WORK"' EXIT
# A fresh schema on the shared server: one store.
new_store() {
  local schema="cli_$$_$1"
  psql -q "$BASE" -c "CREATE SCHEMA $schema" >/dev/null || { echo "cannot create $schema"; exit 1; }
  SCHEMAS+=("$schema")
  echo "$BASE options='-c search_path=$schema'"
}
sql() { psql -qtA "$1" -c "$2"; }
HEX=3132333435363738393031323334353637383930
T=1800000000
code_at() { oathtool --totp -N "@$1" "$HEX"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
og() { local store=$1; shift; "${AT[@]:-$OTPGATE}" --config "$WORK/otpgate.conf" --store "$store" --master-key "$WORK/master.key" "$@"; }
same() {
  if [ "$2" = "$3" ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $1: got '$2', expected '$3'"; fi
}

# --- init creates the schema; decisions are journalled and verify. ---
PG=$(new_store a)
check "init on PostgreSQL" 0 og "$PG" init
has "init" "initialised"
same "schema tables" "$(sql "$PG" "select string_agg(tablename, ',' order by tablename) from pg_tables where schemaname = current_schema()")" \
  "otpgate_challenges,otpgate_journal,otpgate_meta,otpgate_tokens,otpgate_user_tokens"
for i in 1 2 3; do echo "VSST0000000$i,$HEX,hex"; done > "$WORK/t.csv"
check "import" 0 og "$PG" token import "$WORK/t.csv"
check "assign" 0 at $T og "$PG" assign VSST00000001 alice
check "accept" 0 at $T og "$PG" verify alice "$(code_at $T)"
check "replay" 3 at $T og "$PG" verify alice "$(code_at $T)"
check "assign bob" 0 at $T og "$PG" assign VSST00000002 bob
for w in 000001 000002 000003 000004 000005; do at $T og "$PG" verify bob $w >/dev/null; done
check "bob is locked" 4 at $T og "$PG" verify bob "$(code_at $((T + 30)))"
check "audit --verify on PostgreSQL" 0 og "$PG" --json audit --verify
HEAD=$(json 'd["head"]' <<<"$LAST")
ENTRIES=$(json 'd["entries"]' <<<"$LAST")
same "every decision journalled" "$ENTRIES" 13  # 3 imports, 2 assigns, 8 decisions
[[ $HEAD =~ ^13:[0-9a-f]{64}$ ]] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: head '$HEAD'"; }
check "audit read" 0 og "$PG" audit --user alice
has "accept journalled" "action=login user=alice token=VSST00000001 outcome=accept"
has "replay journalled" "outcome=replay"

# --- backup and restore refuse a PostgreSQL store, leaving nothing. ---
check "backup refuses PostgreSQL" 22 og "$PG" backup "$WORK/bk"
has "backup says what to use" "pg_dump"
[ ! -e "$WORK/bk" ] && passed=$((passed + 1)) || { failed=$((failed + 1)); echo "FAIL: backup made $WORK/bk"; }
mkdir "$WORK/lmdb-src"
check "restore refuses PostgreSQL" 22 og "$PG" restore "$WORK/lmdb-src"
has "restore says what to use" "otpgate store copy"

# --- store copy PostgreSQL -> LMDB -> PostgreSQL keeps the journal. ---
check "copy to LMDB" 0 og "$PG" --json store copy "$PG" "$WORK/copy"
same "entries copied" "$(json 'd["journal_entries"]' <<<"$LAST")" "$ENTRIES"
same "head of the copy" "$(json 'd["journal_head"]' <<<"$LAST")" "$HEAD"
check "audit --verify on the LMDB copy" 0 og "$WORK/copy" --json audit --verify --expect-head "$HEAD"
same "same head in LMDB" "$(json 'd["head"]' <<<"$LAST")" "$HEAD"
PG2=$(new_store b)
check "copy back to PostgreSQL" 0 og "$PG" --json store copy "$WORK/copy" "$PG2"
same "head back in PostgreSQL" "$(json 'd["journal_head"]' <<<"$LAST")" "$HEAD"
check "copy again refused" 13 og "$PG" store copy "$WORK/copy" "$PG2"
check "the mark came along" 3 at $T og "$PG2" verify alice "$(code_at $T)"
check "the lock came along" 4 at $T og "$PG2" verify bob "$(code_at $((T + 30)))"
check "decisions chain on in the copy" 0 at $((T + 60)) og "$PG2" verify alice "$(code_at $((T + 60)))"
check "audit --verify after" 0 og "$PG2" --json audit --verify --expect-head "$HEAD"
same "three more entries" "$(json 'd["entries"]' <<<"$LAST")" $((ENTRIES + 3))
"$OTPGATE" --config "$WORK/otpgate.conf" --store "$WORK/other" --master-key "$WORK/other.key" init >/dev/null 2>&1
check "the copy must open with the key" 19 "$OTPGATE" --config "$WORK/otpgate.conf" --store "$WORK/other" --master-key "$WORK/other.key" \
  store copy "$PG" "$WORK/copy2"
has "says which key" "does not open with $WORK/other.key"

# --- an entry edited with SQL is found where it was edited. ---
sql "$PG" "update otpgate_journal set entry = overlay(entry placing '\\x41'::bytea from 20 for 1) where sequence = 7" >/dev/null
check "edited entry found" 18 og "$PG" --json audit --verify
same "where" "$(json 'd["first_bad"]' <<<"$LAST")" 7

# --- an older schema (1: no journal) is refused until init upgrades it. ---
PG3=$(new_store c)
check "init c" 0 og "$PG3" init
check "import c" 0 og "$PG3" token import "$WORK/t.csv"
sql "$PG3" "drop table otpgate_journal; update otpgate_meta set value = '\\x01000000' where name = '\\x70672d736368656d61'" >/dev/null
check "old schema refused" 17 og "$PG3" list
has "says to run init" "otpgate init"
check "init upgrades" 0 og "$PG3" init
check "data kept" 0 og "$PG3" --json list
same "three tokens" "$(json 'len(d)' <<<"$LAST")" 3
check "journal works after the upgrade" 0 at $T og "$PG3" assign VSST00000003 carol
check "audit --verify after upgrade" 0 og "$PG3" audit --verify

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
