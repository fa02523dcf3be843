#!/usr/bin/env bash
# PSKC through the CLI: the RFC 6030 figures, encrypted with a key and a
# password, wrong secrets and tampering (nothing imported), the credential-ID
# allowlist, and export -> import round trips checked with oathtool.
# Usage: pskc_cli_test.sh OTPGATE_CLI DATA_DIR
set -u
CLI=$1 DATA=$2
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
touch "$WORK/otpgate.conf"  # explicit: the host's /etc/otpgate is never read
og() { "$CLI" --config "$WORK/otpgate.conf" --store "$WORK/store" --master-key "$WORK/master.key" "$@"; }
og2() { "$CLI" --config "$WORK/otpgate.conf" --store "$WORK/store2" --master-key "$WORK/master2.key" "$@"; }
# shellcheck source=check_lib.sh
. "$(dirname "$0")/check_lib.sh"
count_tokens() { og --json list | grep -o '"credential_id"' | wc -l; }

og init >/dev/null; og2 init >/dev/null
printf '12345678901234567890123456789012\n' > "$WORK/psk"; chmod 0600 "$WORK/psk"
printf 'qwerty\n' > "$WORK/pw"; chmod 0600 "$WORK/pw"
printf 'qwertz\n' > "$WORK/badpw"; chmod 0600 "$WORK/badpw"
printf '00000000000000000000000000000000\n' > "$WORK/badpsk"; chmod 0600 "$WORK/badpsk"

check "figure 6, wrong key" 19 og token import "$DATA/figure6.pskcxml" --key-file "$WORK/badpsk"
check "key file of the wrong form" 11 og token import "$DATA/figure6.pskcxml" --key-file "$WORK/badpw"
check "figure 7, wrong password" 19 og token import "$DATA/figure7.pskcxml" --password-file "$WORK/badpw"
has "says why" "wrong key or password"
check "figure 7, no password" 11 og token import "$DATA/figure7.pskcxml"
check "nothing imported so far" 0 test "$(count_tokens)" = 0
sed 's/Su+NvtQfmvfJzF6bmQiJqoLRExc=/Su+MvtQfmvfJzF6bmQiJqoLRExc=/' "$DATA/figure6.pskcxml" > "$WORK/tampered.pskcxml"
check "tampered MAC" 19 og token import "$WORK/tampered.pskcxml" --key-file "$WORK/psk"
chmod 0644 "$WORK/psk"
check "key file readable by others" 16 og token import "$DATA/figure6.pskcxml" --key-file "$WORK/psk"
chmod 0600 "$WORK/psk"

# Figure 6 encrypts the secret but leaves <Counter> as a PlainValue in a file
# with a MACMethod: unauthenticated, so the key (and the file) is refused.
check "figure 6: plain counter in a MAC'd file" 11 og --json token import "$DATA/figure6.pskcxml" --key-file "$WORK/psk" --dry-run
has "names the field" 'Counter is a PlainValue in a file with a MACMethod'
check "dry run stored nothing" 0 test "$(count_tokens)" = 0

# Files written by python3-pskc (another PSKC library): encrypted, MACed
# counters, T0 and periods.
PY=$DATA/python-pskc
for how in psk password; do
  args=(--key-file "$WORK/psk"); [ "$how" = password ] && args=(--password-file "$WORK/pw")
  check "python-pskc $how" 0 og2 --json token import "$PY/encrypted_$how.pskcxml" "${args[@]}" --replace
  has "three keys" '"imported":3'
  check "encrypted HOTP counter 10^16+7 kept" 0 test "$(og2 code -q --id PYHOTP1)" = "$(oathtool -d 6 -c 10000000000000007 3132333435363738393031323334353637383930)"
  check "encrypted period 60, 8 digits" 0 test "$(og2 code --time 1111111109 -q --id PYTOTP1)" = "$(oathtool --totp -d 8 -s 60 -N @1111111109 3132333435363738393031323334353637383930)"
  check "encrypted T0 1000" 0 test "$(og2 code --time 1111111109 -q --id PYTOTP2)" = "$(oathtool --totp -S @1000 -N @1111111109 3132333435363738393031323334353637383930)"
done
check "HOTP accepts the next code after 10^16+7" 0 og2 assign PYHOTP1 carol
check "login with counter 10^16+7" 0 og2 verify carol "$(oathtool -d 6 -c 10000000000000007 3132333435363738393031323334353637383930)"
check "an old low-counter code is refused" 1 og2 verify carol "$(oathtool -d 6 -c 1 3132333435363738393031323334353637383930)"
check "show --uri refuses a T0" 22 og2 show PYTOTP2 --uri
has "says why" "T0 is 1000"
check "python-pskc plain counter in a MAC'd file" 11 og --json token import "$PY/plain_counter_in_mac_file.pskcxml" --key-file "$WORK/psk"
has "reason" 'Counter is a PlainValue'
check "figure 6 with the key (dry run)" 0 og --json token import "$PY/encrypted_psk.pskcxml" --key-file "$WORK/psk" --dry-run
has "dry run counts" '"imported":3'
check "dry run stored nothing" 0 test "$(count_tokens)" = 0
check "python-pskc with the key" 0 og --json token import "$PY/encrypted_psk.pskcxml" --key-file "$WORK/psk"
has "format detected" '"format":"pskc"'
check "figure 3 (RFC secret, counter 0)" 0 og --json token import "$DATA/figure3.pskcxml"
# RFC 4226, 8 digits, counter 0 -> 84755224.
check "register with the RFC code" 0 og register alice 987654321 84755224
check "figure 7 by Key@Id" 0 og --json token import "$DATA/figure7.pskcxml" --password-file "$WORK/pw" --id-from key-id
check "figure 5: the PIN key is rejected, nothing imported" 11 og --json token import "$DATA/figure5.pskcxml" --replace
has "one rejected" '"rejected":1'
has "none imported" '"imported":0'
check "figure 5 with --skip-bad" 0 og --json token import "$DATA/figure5.pskcxml" --replace --skip-bad
has "one OTP key" '"imported":1'
check "figure 10, shared device by serial" 11 og --json token import "$DATA/figure10.pskcxml" --replace
check "figure 10 with --skip-bad" 0 og --json token import "$DATA/figure10.pskcxml" --replace --skip-bad
has "three of four" '"imported":3'
check "figure 10 tokens expired (a plain reject at registration)" 1 og register bob 654321 84755224

check "allowlist rejects the vendor IDs" 11 og -o "credential_prefixes=VSST VSMT" -o credential_length=12 --json token import "$DATA/figure3.pskcxml" --replace
has "nothing allowed" '"imported":0'
has "friendly" "must look like VSST12345678"

# Export -> import round trips; the codes agree with oathtool.
for how in plain key password; do
  args=(); [ "$how" = key ] && args=(--key-file "$WORK/psk16"); [ "$how" = password ] && args=(--password-file "$WORK/pw")
  printf '00112233445566778899aabbccddeeff\n' > "$WORK/psk16"; chmod 0600 "$WORK/psk16"
  check "export $how" 0 og --json token new --count 5 --prefix VSMT --pskc "$WORK/$how.pskcxml" --uris "$WORK/$how.uris" "${args[@]}"
  check "export file is private" 0 test "$(stat -c %a "$WORK/$how.pskcxml")" = 600
  check "import $how" 0 og2 --json token import "$WORK/$how.pskcxml" "${args[@]}"
  has "five imported" '"imported":5'
  while read -r uri; do
    id=$(sed -n 's|otpauth://totp/[^:]*:\([A-Z0-9]*\)?.*|\1|p' <<<"$uri")
    secret=$(sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p' <<<"$uri")
    check "$how $id: stored code = oathtool" 0 test "$(og2 code -q --id "$id")" = "$(oathtool --totp -b "$secret")"
  done < "$WORK/$how.uris"
done
if grep -q "<Secret><PlainValue>" "$WORK/password.pskcxml"; then failed=$((failed + 1)); echo "FAIL: secrets in clear"; else passed=$((passed + 1)); fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
