#!/usr/bin/env bash
# The admin CLI end to end: the three bank flows, lockout, bad input and
# file-mode refusals, with codes from oathtool (an independent generator).
# Usage: OTPGATE_AT=PATH/TO/otpgate_at cli_flows_test.sh PATH/TO/otpgate
set -u
OTPGATE=${1:?usage: $0 PATH/TO/otpgate}
command -v oathtool >/dev/null || { echo "oathtool is required"; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SECRET_HEX=3132333435363738393031323334353637383930
T=1800000000                                  # a fixed time, a multiple of 30
touch "$WORK/otpgate.conf"  # explicit: the host's /etc/otpgate is never read
og() { "${AT[@]:-$OTPGATE}" --config "$WORK/otpgate.conf" --store "$WORK/store" --master-key "$WORK/master.key" "$@"; }
code_at() { oathtool --totp -N "@$1" "$SECRET_HEX"; }

source "$(dirname "$0")/check_lib.sh"  # check, has

check "missing store fails closed" 17 og list
check "init" 0 og init
check "init is idempotent" 0 og init
check "modes" 0 test "$(stat -c %a "$WORK/store")/$(stat -c %a "$WORK/store/data.mdb")/$(stat -c %a "$WORK/master.key")" = 700/600/600

printf 'credential_id,secret,encoding\nVSST12345678,%s,hex\nVSST00000002,%s,hex\nbad line\n' \
  "$SECRET_HEX" "$SECRET_HEX" > "$WORK/tokens.csv"
check "a bad line: nothing imported" 11 og --json token import "$WORK/tokens.csv"
has "import rejected" '"rejected":1'
has "none imported" '"imported":0'
check "--skip-bad imports the good lines" 0 og --json token import "$WORK/tokens.csv" --skip-bad
has "import summary" '"imported":2'
has "import rejected" '"rejected":1'
check "re-import skips duplicates" 0 og --json token import "$WORK/tokens.csv" --skip-bad
has "skipped" '"skipped":2'

C0=$(code_at $T)
FULLWIDTH=$(python3 -c "import sys; print(''.join(chr(0xff10 + int(c)) for c in sys.argv[1]))" "$C0")
check "no token yet" 5 at $T og verify alice "$C0"
check "register (full-width code and ID)" 0 at $T og register alice "ｖｓｓｔ－１２３４５６７８" "$FULLWIDTH"
has "registration message" "registration complete"
check "registration code is consumed" 3 at $T og verify alice "$C0"
# Taken and unknown IDs give the same answer as a wrong code (exit 1, reject):
# the register answer does not tell which IDs exist or are free.
check "bob cannot take alice's token" 1 at $T og register bob VSST12345678 "$C0"
check "unknown token" 1 at $T og register bob VSST99999999 "$C0"
check "malformed code" 11 at $T og verify alice 12x456
check "huge input" 11 at $T og verify alice "$(head -c 100000 /dev/zero | tr '\0' 1)"

T1=$((T + 30))
check "login" 0 at $T1 og verify alice "$(code_at $T1)"
check "replay" 3 at $T1 og verify alice "$(code_at $T1)"

T2=$((T + 60))
# The replay above counted as failure 1; three more wrong codes, then the
# fifth failure locks.
for wrong in 000001 000002 000003; do
  check "wrong $wrong" 1 at $T2 og verify alice $wrong
done
check "same wrong code counts once" 1 at $T2 og --json verify alice 000003
has "still four failures" '"failures":4'
check "fifth failure locks" 1 at $T2 og --json verify alice 000005
has "locked until" '"locked_until"'
check "locked refuses the right code" 4 at $T2 og verify alice "$(code_at $T2)"
check "unlock" 0 og unlock VSST12345678
check "login after unlock" 0 at $T2 og verify alice "$(code_at $T2)"

check "show never prints the secret" 0 og --json show VSST12345678
has "show state" '"state":"active"'
if grep -qi 'secret' <<<"$LAST"; then failed=$((failed + 1)); echo "FAIL: show leaked a secret"; else passed=$((passed + 1)); fi

# 8 processes race one valid code: exactly one is accepted.
T3=$((T + 90)); C3=$(code_at $T3)
for i in 1 2 3 4 5 6 7 8; do (at $T3 og verify alice "$C3" >/dev/null 2>&1; echo $? > "$WORK/race.$i") & done
wait
accepted=$(cat "$WORK"/race.* | grep -c '^0$'); replays=$(cat "$WORK"/race.* | grep -c '^3$')
check "race: exactly one accept, seven replays" 0 test "$accepted/$replays" = 1/7

T4=$((T + 120))
check "stop" 0 at $T4 og stop alice "$(code_at $T4)"
has "stop message" "stopped"
check "after stop: no token" 5 at $((T4 + 30)) og verify alice "$(code_at $((T4 + 30)))"

check "token new" 0 og --json token new --prefix VSMT --no-qr
NEW_URI=$(sed -n 's/.*"uri":"\([^"]*\)".*/\1/p' <<<"$LAST")
NEW_ID=$(sed -n 's/.*"credential_id":"\([^"]*\)".*/\1/p' <<<"$LAST")
check "new ID has prefix + 8 digits" 0 grep -Eq '^VSMT[0-9]{8}$' <<<"$NEW_ID"
NEW_CODE=$("$OTPGATE" --config "$WORK/otpgate.conf" code -q --uri "$NEW_URI")
NEW_SECRET=$(sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p' <<<"$NEW_URI")
check "otpgate code agrees with oathtool" 0 test "$NEW_CODE" = "$(oathtool --totp -b "$NEW_SECRET")"
check "register the new token" 0 og register carol "$NEW_ID" "$NEW_CODE"

# Unsafe files are refused with a reason; nothing is changed.
chmod 0644 "$WORK/master.key"
check "key readable by others is refused" 16 og list
has "says why" "group and others must have no access"
chmod 0600 "$WORK/master.key"
mv "$WORK/master.key" "$WORK/real.key"; "$OTPGATE" --config "$WORK/otpgate.conf" init --store "$WORK/other" --master-key "$WORK/master.key" >/dev/null
check "wrong master key" 19 og list
mv "$WORK/real.key" "$WORK/master.key"
check "usage error" 2 og verify
check "help" 0 og --help

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
