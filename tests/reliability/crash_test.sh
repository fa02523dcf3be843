#!/usr/bin/env bash
# Crash consistency (issue 11 point 3): in every trial, CLI verify, a PAM
# login process, a RADIUS packet (single step) and a registration or stop by
# the CLI run at once on one store; after a random 0-250 ms one of them, or
# radiusd itself, is killed with SIGKILL. After each trial:
#  - the store opens and every record decodes (`otpgate --json list`);
#  - no replay mark goes backwards;
#  - every acknowledged accept (exit 0, Access-Accept, PAM_SUCCESS) is
#    covered by the replay mark, and its code is refused when sent again;
#  - an acknowledged registration or stop is present (owner / unassigned).
# Usage: crash_test.sh BUILD_DIR SOURCE_DIR [TRIALS]   (CI: 100; bench: 1,000)
set -u
BUILD=$1 SRC=$2 TRIALS=${3:-100}
source "$SRC/tests/reliability/lib.sh"
rel_setup "$BUILD" "$SRC"
trap rel_cleanup EXIT
{ echo "CRASH0000001,$REL_SECRET_HEX,hex,hotp,,6,1"; echo "CRASH0000002,$REL_SECRET_HEX,hex,hotp,,6,1"; } > "$WORK/t.csv"
chmod 0644 "$WORK/t.csv"
og token import "$WORK/t.csv" >/dev/null
og assign CRASH0000001 alice >/dev/null
radius_start || exit 1
T=$WORK/trial; mkdir -p "$T"; chmod 0777 "$T"

failed=0 kills_cli=0 kills_pam=0 kills_radius=0 kills_admin=0 acked=0
fail() { failed=$((failed + 1)); echo "FAIL trial $trial: $*"; }
mark_of() { og --json show "$1" | python3 -c 'import json,sys; t=json.load(sys.stdin); print(t["last_accepted"], t["state"], t["owner"] or "-")'; }
# Each front end in its own session, so that SIGKILL reaches it and its
# children (setpriv execs the command).
launch() { local name=$1; shift; setsid "$@" > "$T/$name" 2>&1 & PIDS[$name]=$!; }

read -r mark _ _ < <(mark_of CRASH0000001)
for trial in $(seq 1 "$TRIALS"); do
  rm -f "$T"/*
  declare -A PIDS=()
  read -r bob_mark bob_state _ < <(mark_of CRASH0000002)
  admin=stop; [ "$bob_state" = unassigned ] && admin=register
  c=$((mark + 1)) b=$((bob_mark + 1))
  launch cli bash -c "source '$SRC/tests/reliability/lib.sh'; D='$D' WORK='$WORK'; source '$SRC/tests/integration/radius/harness.sh'; og verify alice $(hotp $c) >/dev/null; echo exit \$?"
  launch pam bash -c "source '$SRC/tests/reliability/lib.sh'; D='$D' WORK='$WORK'; source '$SRC/tests/integration/radius/harness.sh'; pam_login otp-login alice $(hotp $((c + 1)))"
  launch radius radclient -d "$D/raddb" -x -t 2 -r 1 "127.0.0.1:$((RADIUS_PORT + 2))" auth "$RADIUS_SECRET" \
    <<<"User-Name = \"alice\", User-Password = \"alicepw$(hotp $((c + 2)))\""
  if [ $admin = register ]; then
    launch admin bash -c "source '$SRC/tests/reliability/lib.sh'; D='$D' WORK='$WORK'; source '$SRC/tests/integration/radius/harness.sh'; og register bob CRASH0000002 $(hotp $b) >/dev/null; echo exit \$?"
  else
    launch admin bash -c "source '$SRC/tests/reliability/lib.sh'; D='$D' WORK='$WORK'; source '$SRC/tests/integration/radius/harness.sh'; og stop bob $(hotp $b) >/dev/null; echo exit \$?"
  fi
  sleep "$(printf '0.%03d' $((RANDOM % 250)))"
  victim=$(( RANDOM % 4 ))
  case $victim in
    0) kill -9 -- -"${PIDS[cli]}" 2>/dev/null; kills_cli=$((kills_cli + 1)) ;;
    1) kill -9 -- -"${PIDS[pam]}" 2>/dev/null; kills_pam=$((kills_pam + 1)) ;;
    2) kill -9 "$RADIUS_PID" 2>/dev/null; kills_radius=$((kills_radius + 1)) ;;
    3) kill -9 -- -"${PIDS[admin]}" 2>/dev/null; kills_admin=$((kills_admin + 1)) ;;
  esac
  wait "${PIDS[@]}" 2>/dev/null
  if [ $victim = 2 ]; then wait "$RADIUS_PID" 2>/dev/null; RADIUS_PID=; radius_start >/dev/null || { fail "radiusd does not restart"; break; }; fi

  # Acknowledged answers (a killed front end acknowledged nothing).
  top=0
  [ $victim != 0 ] && grep -q '^exit 0$' "$T/cli" && top=$c
  [ $victim != 1 ] && grep -q '^authenticate 0 ' "$T/pam" && top=$((c + 1))
  grep -q 'Received Access-Accept' "$T/radius" && top=$((c + 2))
  admin_acked=0
  [ $victim != 3 ] && grep -q '^exit 0$' "$T/admin" && admin_acked=1
  [ $top -gt 0 ] && acked=$((acked + 1))

  if ! og --json list > "$T/list" 2>&1; then fail "the store does not list: $(head -3 "$T/list")"; continue; fi
  read -r new_mark _ _ < <(mark_of CRASH0000001)
  [ "$new_mark" -ge "$mark" ] || fail "replay mark went backwards: $mark -> $new_mark"
  [ "$new_mark" -ge "$top" ] || fail "acknowledged accept of counter $top not stored (mark $new_mark)"
  if [ $top -gt 0 ] && og verify alice "$(hotp $top)" >/dev/null 2>&1; then fail "code of counter $top accepted again"; fi
  read -r _ bob_after owner_after < <(mark_of CRASH0000002)
  if [ $admin_acked = 1 ]; then
    if [ $admin = register ] && [ "$owner_after" != bob ]; then fail "acknowledged registration missing"; fi
    if [ $admin = stop ] && [ "$bob_after" != unassigned ]; then fail "acknowledged stop missing"; fi
  fi
  mark=$new_mark
  og unlock CRASH0000001 >/dev/null 2>&1  # replays of raced codes count as failures
done
echo "$TRIALS trials (killed: cli $kills_cli, pam $kills_pam, radiusd $kills_radius, register/stop $kills_admin; $acked with an acknowledged accept), $failed failures"
[ "$failed" = 0 ]
