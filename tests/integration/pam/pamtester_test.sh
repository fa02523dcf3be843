#!/usr/bin/env bash
# pamtester (a stock PAM application) drives the login flow end to end
# through pam_otpgate.so: codes from oathtool.
# Usage: pamtester_test.sh PAM_MODULE OTPGATE_CLI
set -euo pipefail
MODULE=$1 CLI=$2
command -v pamtester >/dev/null || { echo "pamtester is required"; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
touch "$WORK/otpgate.conf"  # explicit: the host's /etc/otpgate is never read
og() { "$CLI" --config "$WORK/otpgate.conf" --store "$WORK/store" --master-key "$WORK/master.key" "$@" >/dev/null; }
og init
printf 'VSST12345678,3132333435363738393031323334353637383930,hex\n' > "$WORK/t.csv"
og token import "$WORK/t.csv"
mkdir "$WORK/pam.d"
echo "auth required pam_deny.so" > "$WORK/pam.d/other"
cat > "$WORK/pam.d/otpgate-login" <<EOT
auth required $MODULE config=$WORK/otpgate.conf store=$WORK/store master_key=$WORK/master.key fail_delay_ms=0 unenrolled=deny
EOT
# OTPGATE_TEST_PRELOAD: the sanitizer runtime, first, in instrumented runs.
pt() { env LD_PRELOAD="${OTPGATE_TEST_PRELOAD:+$OTPGATE_TEST_PRELOAD }libpam_wrapper.so" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$WORK/pam.d" \
  timeout 20 pamtester -v otpgate-login "$@"; }
NOW=$(date +%s)
og register alice VSST12345678 "$(oathtool --totp -N "@$NOW" 3132333435363738393031323334353637383930)"
NEXT=$(oathtool --totp -N "@$((NOW + 30))" 3132333435363738393031323334353637383930)
echo "$NEXT" | pt alice authenticate
if echo "$NEXT" | pt alice authenticate; then echo "FAIL: replay accepted"; exit 1; fi
if echo 123456 | pt bob authenticate; then echo "FAIL: unenrolled=deny let bob in"; exit 1; fi
echo "3 passed, 0 failed"
