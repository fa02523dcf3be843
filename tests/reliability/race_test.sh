#!/usr/bin/env bash
# Mixed races (issue 11 point 4): 16 concurrent front ends — PAM login
# processes (pam_driver, real libpam), RADIUS packets to a real radiusd
# (single-step), and CLI `verify` — race one valid code for one user, per
# round. Exactly one of them may accept, the replay mark moves to that code,
# and radiusd's audit lines agree with the Access-Accepts it sent.
# Usage: race_test.sh BUILD_DIR SOURCE_DIR [ROUNDS]   (CI: 20; bench: 1,000)
set -u
BUILD=$1 SRC=$2 ROUNDS=${3:-20}
source "$SRC/tests/reliability/lib.sh"
rel_setup "$BUILD" "$SRC"
trap rel_cleanup EXIT
echo "RACE00000001,$REL_SECRET_HEX,hex,hotp,,6,1" > "$WORK/t.csv"; chmod 0644 "$WORK/t.csv"
og token import "$WORK/t.csv" >/dev/null
og assign RACE00000001 alice >/dev/null
radius_start || exit 1
R=$WORK/race; mkdir -p "$R"; chmod 0777 "$R"

failed=0 accepts_radius=0
for round in $(seq 1 "$ROUNDS"); do
  code=$(hotp "$round")
  rm -f "$R"/*
  pids=()
  for i in $(seq 1 16); do
    case $((i % 3)) in
      0) pam_login otp-login alice "$code" > "$R/pam.$i" 2>&1 & ;;
      1) rc_send 2 "User-Name = \"alice\", User-Password = \"alicepw$code\"" > "$R/radius.$i" 2>&1 & ;;
      2) { og verify alice "$code" >/dev/null 2>&1; echo "exit $?"; } > "$R/cli.$i" & ;;
    esac
    pids+=($!)
  done
  wait "${pids[@]}"  # not radiusd
  pam=$(cat "$R"/pam.* | grep -c '^authenticate 0 ')
  radius=$(cat "$R"/radius.* | grep -c 'Received Access-Accept')
  cat "$R"/radius.* >> "$WORK/radius.all"
  cli=$(cat "$R"/cli.* | grep -c '^exit 0$')
  accepts_radius=$((accepts_radius + radius))
  last=$(token_json RACE00000001 last_accepted)
  if [ $((pam + radius + cli)) != 1 ] || [ "$last" != "$round" ]; then
    failed=$((failed + 1))
    echo "FAIL round $round: accepts pam=$pam radius=$radius cli=$cli, last_accepted=$last"
  fi
done
# radiusd's audit: one otpgate line per decision (the core's formatter).
audit=$(grep -cE 'action=login user=alice token=RACE00000001 .*outcome=accept' "$RADIUS_LOG")
refusals=$(grep -cE 'action=login user=alice token=RACE00000001 .*outcome=(replay|reject)' "$RADIUS_LOG")
sent_rejects=$(grep -c 'Received Access-Reject' "$WORK"/radius.all 2>/dev/null || echo 0)
if [ "$audit" != "$accepts_radius" ] || [ "$refusals" != "$sent_rejects" ]; then
  failed=$((failed + 1))
  echo "FAIL: radiusd audited $audit accepts and $refusals refusals, sent $accepts_radius and $sent_rejects"
fi
echo "$ROUNDS rounds of 16 front ends, $failed failures ($accepts_radius RADIUS accepts audited)"
[ "$failed" = 0 ]
