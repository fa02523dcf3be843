#!/usr/bin/env bash
# Migration with files written and used by the real tools: google-authenticator
# (libpam-google-authenticator) writes ~/.google_authenticator files and its
# PAM module consumes a code; pam_oath consumes codes from a liboath users
# file; then `otpgate migrate` takes the tokens over, bound to their users:
# the next code logs in, the last code used before migration is a replay.
# Also privacyIDEA/LinOTP OATH CSV. Bound: ~10 s (a few pamtester runs).
# Usage: OTPGATE_AT=PATH/TO/otpgate_at migrate_cli_test.sh OTPGATE_CLI
set -u
CLI=$1
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
touch "$WORK/otpgate.conf"  # explicit: the host's /etc/otpgate is never read
og() { "${AT[@]:-$CLI}" --config "$WORK/otpgate.conf" --store "$WORK/store" --master-key "$WORK/master.key" "$@"; }
# shellcheck source=check_lib.sh
. "$(dirname "$0")/check_lib.sh"
pam_login() {  # pam_login SERVICE USER CODE
  echo "$3" | timeout 20 env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$WORK/svc" \
    pamtester "$1" "$2" authenticate
}
mkdir "$WORK/svc"
echo "auth required pam_deny.so" > "$WORK/svc/other"
echo "auth required pam_google_authenticator.so secret=$WORK/\${USER}.ga user=root" > "$WORK/svc/ga"
echo "auth required pam_oath.so usersfile=$WORK/users.oath window=20" > "$WORK/svc/oath"
og init >/dev/null

# --- google-authenticator: TOTP (reuse disallowed) and HOTP, written by the real program.
google-authenticator -t -d -f -r 3 -R 30 -w 3 -e 5 -q -C -Q NONE -s "$WORK/alice.ga" >/dev/null
google-authenticator -c -f -w 5 -e 2 -u -q -C -Q NONE -s "$WORK/bob.ga" >/dev/null
SA=$(head -1 "$WORK/alice.ga"); SB=$(head -1 "$WORK/bob.ga")
check "alice logs in with pam_google_authenticator" 0 pam_login ga alice "$(oathtool --totp -b "$SA")"
check "bob logs in (HOTP counter 1)" 0 pam_login ga bob "$(oathtool -c 1 -b "$SB")"
check "bob logs in again (counter 2)" 0 pam_login ga bob "$(oathtool -c 2 -b "$SB")"
STEP=$(sed -n 's/^" DISALLOW_REUSE \([0-9]*\).*/\1/p' "$WORK/alice.ga")
check "the module recorded the used step" 0 test -n "$STEP"
check "HOTP_COUNTER advanced to 3" 0 grep -q '^" HOTP_COUNTER 3' "$WORK/bob.ga"
check "--user names the user of one file only" 11 og migrate google-authenticator "$WORK/alice.ga" "$WORK/bob.ga" --user alice
cp "$WORK/alice.ga" "$WORK/alice.copy"; echo '" SOMETHING_NEW 1' >> "$WORK/alice.copy"
check "an option otpgate does not know rejects the file" 11 og migrate google-authenticator "$WORK/alice.copy" --user alice
has "names it" "option SOMETHING_NEW is not understood"
check "migrate alice" 0 og migrate google-authenticator "$WORK/alice.ga" --user alice
has "scratch codes reported" "5 scratch (emergency) codes not imported"
has "rate limit reported" "rate limit of 3 logins per 30 s"
check "migrate bob" 0 og --json migrate google-authenticator "$WORK/bob.ga" --user bob
check "alice's token is bound to her" 0 og --json list --user alice
has "owner" '"owner":"alice"'
T=$((STEP * 30))
check "alice: the code used before migration is a replay" 3 at "$T" og verify alice "$(oathtool --totp -b "$SA" -N @$T)"
check "alice: the next code logs in" 0 at $((T + 30)) og verify alice "$(oathtool --totp -b "$SA" -N @$((T + 30)))"
check "bob: the last used HOTP code is a replay" 3 og verify bob "$(oathtool -c 2 -b "$SB")"
check "bob: the next HOTP code logs in" 0 og verify bob "$(oathtool -c 3 -b "$SB")"

# --- pam_oath / liboath users file, after real logins.
K=3132333435363738393031323334353637383930
printf 'HOTP\tcarol\t-\t%s\nHOTP/T30/6\tdave\t-\t%s\nHOTP/E/8\terin\t-\t%s\n' $K $K $K > "$WORK/users.oath"
chmod 0600 "$WORK/users.oath"
check "carol logs in with pam_oath (counter 5)" 0 pam_login oath carol "$(oathtool -c 5 $K)"
check "dave logs in with pam_oath (TOTP)" 0 pam_login oath dave "$(oathtool --totp $K)"
check "pam_oath recorded the logins" 0 grep -q "carol.*[0-9]T[0-9]" "$WORK/users.oath"
printf 'HOTP\tfrank\t1234\t%s\n' $K > "$WORK/pin.oath"
check "a user with a PIN is refused" 11 og migrate pam-oath "$WORK/pin.oath"
has "says why" "has a PIN in the users file"
check "migrate the users file" 0 og migrate pam-oath "$WORK/users.oath"
has "a user without logins is noted" "user erin: no login recorded"
check "carol: the code used with pam_oath is a replay" 3 og verify carol "$(oathtool -c 5 $K)"
check "carol: the next code logs in" 0 og verify carol "$(oathtool -c 6 $K)"
DSTEP=$(og --json show OATHDAVE | sed -n 's/.*"last_accepted":\([0-9]*\).*/\1/p')
check "dave's used step was found" 0 test -n "$DSTEP"
check "dave: the code used with pam_oath is a replay" 3 at $((DSTEP * 30)) og verify dave "$(oathtool --totp $K -N @$((DSTEP * 30)))"
check "dave: the next code logs in" 0 at $((DSTEP * 30 + 30)) og verify dave "$(oathtool --totp $K -N @$((DSTEP * 30 + 30)))"
check "erin: 8-digit event token from counter 0" 0 og verify erin "$(oathtool -d 8 -c 0 $K)"

# --- privacyIDEA / LinOTP OATH CSV.
printf 'PI0001, %s, hotp, 6\nPI0002, %s, totp, 8, 60\nPI0003, %s, hotp, 6, , grace\n' $K $K $K > "$WORK/pi.csv"
check "OATH CSV" 0 og --json token import --format oath-csv "$WORK/pi.csv"
has "three" '"imported":3'
check "a user column binds the token" 0 og verify grace "$(oathtool -c 0 $K)"
check "TOTP 60 s, 8 digits" 0 og code --time 1111111109 -q --id PI0002
check "... the same as oathtool" 0 test "$LAST" = "$(oathtool --totp -d 8 -s 60 -N @1111111109 $K)"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
