#!/usr/bin/env bash
# The main job, end to end, on an embedded store in ./demo-data (no root
# paths): initialise, provision a soft token (its QR code is printed), then
# the bank's three flows with codes computed live by a software token.
#
# Time: every decision is taken on the real clock. Instead of waiting 30 s
# for the app's next code, the demo asks the software token for the code it
# will show a step later (`otpgate code --time`, which changes nothing); the
# verifier accepts it as it accepts a phone whose clock runs ahead (a window
# of one step either side of the drift it has learned for the token).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=$(realpath -m "${OTPGATE_BUILD_DIR:-build}")
# OTPGATE_DEMO_PREBUILT=1 (the suite's integration.demo): BUILD_DIR is built
# already; neither install packages nor configure or build it again.
if [ "${OTPGATE_DEMO_PREBUILT:-0}" != 1 ]; then
  source scripts/deps.sh
  otpgate_install_deps >/dev/null
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$BUILD_DIR" -j"$(nproc)" --target otpgate pam_otpgate rlm_otpgate >/dev/null
fi

DEMO=${OTPGATE_DEMO_DIR:-$PWD/demo-data}
rm -rf "$DEMO"
mkdir -p "$DEMO"
chmod 0700 "$DEMO"
BIN="$BUILD_DIR/tools/otpgate"
# The demo's own (empty) configuration: a host's /etc/otpgate (an installed
# package's, perhaps unreadable here) is never read.
: > "$DEMO/otpgate.conf"
START=$(date +%s) STEP=0
og() { "$BIN" --config "$DEMO/otpgate.conf" --store "$DEMO/store" --master-key "$DEMO/master.key" "$@"; }
phone() { "$BIN" --config "$DEMO/otpgate.conf" code -q --uri "$URI" --time $((START + 30 * STEP)); }  # the customer's app
tick() { STEP=$((STEP + 1)); }                                          # its next 30-second step
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ otpgate %s\n' "$*"; og "$@" || echo "(exit $?)"; }

say "Administrator: create the master key and the credential store"
show init
ls -la "$DEMO" "$DEMO/store" | sed 's/^/    /'

say "Administrator: provision a soft token (the customer scans the QR code)"
og token new --prefix VSST | tee "$DEMO/token.txt"
URI=$(sed -n 's/^uri: *//p' "$DEMO/token.txt")
TOKEN=$(sed -n 's/^credential_id: *//p' "$DEMO/token.txt")
rm -f "$DEMO/token.txt"

USER_ID=C0012345    # the customer's contract ID
START=$(date +%s)   # the app's step 0 from here on
say "Before registration: $USER_ID logs in with ID + password only"
show verify "$USER_ID" "$(phone)"
echo "    -> no token: the site lets the customer in on the password alone"

say "Flow 1, register: ID + password, then the token ID and the code it shows now"
CODE=$(phone)
echo "    the app shows $CODE for token $TOKEN"
show register "$USER_ID" "$TOKEN" "$CODE"

tick
say "Flow 2, login: ID + password, then the code the app shows (one step on)"
CODE=$(phone)
show verify "$USER_ID" "$CODE"
say "The same code again (replay) is refused"
show verify "$USER_ID" "$CODE"

tick
say "Wrong codes until the token locks (5 failures; the replay above was one)"
for wrong in 111111 222222 333333 444444; do show verify "$USER_ID" "$wrong"; done
say "Locked: even the right code is refused, and not consumed"
show verify "$USER_ID" "$(phone)"
say "Administrator unlocks the token; the customer logs in"
show unlock "$TOKEN"
show verify "$USER_ID" "$(phone)"

tick
say "Flow 3, stop: ID + password + current code"
show stop "$USER_ID" "$(phone)"
tick
say "After stop: login is back to ID + password"
show verify "$USER_ID" "$(phone)"
show list

# ---------------------------------------------------------------------------
# The same flows through PAM: pamtester (a stock PAM application) runs
# services that stack a password check and the built pam_otpgate.so, under
# pam_wrapper (no root paths, nothing in /etc/pam.d touched). The module
# reads the real clock; the phone shows the current step and the next ones.
say "Through PAM: pamtester + pam_otpgate.so (password 'demo-pass' first)"
MODULE="$BUILD_DIR/pam_module/pam_otpgate.so"
mkdir -p "$DEMO/pam.d"
echo "auth required pam_deny.so" > "$DEMO/pam.d/other"
FIRST="auth requisite pam_exec.so expose_authtok quiet $PWD/tests/integration/pam/check_password.sh demo-pass"
OPTS="config=$DEMO/otpgate.conf store=$DEMO/store master_key=$DEMO/master.key fail_delay_ms=0"
for action in login register stop; do
  printf '%s\nauth required %s %s action=%s\n' "$FIRST" "$MODULE" "$OPTS" "$action" > "$DEMO/pam.d/bank-$action"
done
sed 's/^/    /' "$DEMO/pam.d/bank-login"
pam() {  # pam SERVICE USER ANSWER... (one answer per prompt)
  local service=$1 user=$2; shift 2
  printf '$ pamtester bank-%s %s authenticate   # answers: %s\n' "$service" "$user" "$*"
  printf '%s\n' "$@" | env LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$DEMO/pam.d" \
    timeout 20 pamtester -v "bank-$service" "$user" authenticate 2>&1 | grep -v PWRAP | sed 's/^/    /' || true
}
REAL=$(date +%s)
app() { "$BIN" --config "$DEMO/otpgate.conf" code -q --uri "$URI2" --time $((REAL + 30 * $1)); }  # the app's code, $1 steps on
og token new --prefix VSST --no-qr > "$DEMO/token2.txt"
URI2=$(sed -n 's/^uri: *//p' "$DEMO/token2.txt"); TOKEN2=$(sed -n 's/^credential_id: *//p' "$DEMO/token2.txt")
rm -f "$DEMO/token2.txt"
USER2=C0067890
say "PAM login before registration: password only"
pam login "$USER2" demo-pass
say "PAM flow 1, register: password, token ID, code"
pam register "$USER2" demo-pass "$TOKEN2" "$(app 0)"
say "PAM flow 2, login with the next code; then the same code again"
CODE=$(app 1)
pam login "$USER2" demo-pass "$CODE"
pam login "$USER2" demo-pass "$CODE"
say "A wrong password never reaches the OTP module (no failure counted)"
pam login "$USER2" wrong-pass
say "PAM flow 3, stop; then login is password only again"
pam stop "$USER2" demo-pass "$(app 2)"
pam login "$USER2" demo-pass
og list

# ---------------------------------------------------------------------------
# The same flows over RADIUS: a real radiusd (Debian's freeradius 3.2) on
# 127.0.0.1 with the built rlm_otpgate.so, driven by radclient the way a
# bank's gateway would. Its store is its own (radiusd runs as nobody).
say "Over RADIUS: radiusd + rlm_otpgate.so, radclient as the bank's gateway (alice's password: alicepw)"
source tests/integration/radius/harness.sh
RD="$DEMO/radius"; mkdir -p "$RD"; chmod 0711 "$DEMO" "$RD"
radius_setup "$RD/r" "$BUILD_DIR/radius_module" "$PWD"
trap 'radius_stop' EXIT
rog() { as_owner "$BIN" --config "$RD/r/otpgate.conf" --store "$RD/r/store" --master-key "$RD/r/master.key" "$@"; }
rog init >/dev/null
rog token new --prefix VSST --no-qr > "$RD/token.txt"
URI3=$(sed -n 's/^uri: *//p' "$RD/token.txt"); TOKEN3=$(sed -n 's/^credential_id: *//p' "$RD/token.txt"); rm -f "$RD/token.txt"
radius_start
REAL=$(date +%s)
app3() { "$BIN" --config "$DEMO/otpgate.conf" code -q --uri "$URI3" --time $((REAL + 30 * $1)); }
gw() {  # gw 'attributes' : send one Access-Request, show what came back (kept in $LAST_REPLY)
  printf '$ radclient  %s\n' "$1"
  LAST_REPLY=$(rc_send 0 "$1")
  sed -n '/^Received/,$ { s/^Received \(Access-[A-Za-z]*\).*/    -> \1/p; s/^[[:space:]]*\(Reply-Message = .*\)/       \1/p; s/^[[:space:]]*\(State = .*\)/       \1/p; }' <<<"$LAST_REPLY"
}
state() { sed -n 's/^[[:space:]]*State = \(0x[0-9a-f]*\).*/\1/p' <<<"$LAST_REPLY" | head -1; }
say "RADIUS login before registration: password only -> Accept"
gw 'User-Name = "alice", User-Password = "alicepw"'
say "RADIUS flow 1, register: password + Otpgate-Credential-Id + Otpgate-Code"
gw "User-Name = \"alice\", User-Password = \"alicepw\", Otpgate-Action = Register, Otpgate-Credential-Id = \"$TOKEN3\", Otpgate-Code = \"$(app3 0)\""
say "RADIUS flow 2, login in two rounds: password -> Access-Challenge, then the code with the State"
gw 'User-Name = "alice", User-Password = "alicepw"'
CODE=$(app3 1)
gw "User-Name = \"alice\", User-Password = \"$CODE\", State = $(state)"
say "The same code again (after a new challenge) is refused"
gw 'User-Name = "alice", User-Password = "alicepw"'
gw "User-Name = \"alice\", User-Password = \"$CODE\", State = $(state)"
say "RADIUS flow 3, stop: password + Otpgate-Action = Stop + Otpgate-Code; then password only again"
gw "User-Name = \"alice\", User-Password = \"alicepw\", Otpgate-Action = Stop, Otpgate-Code = \"$(app3 2)\""
gw 'User-Name = "alice", User-Password = "alicepw"'
radius_stop
say "The server's audit lines"
grep -hE "rlm_otpgate \(otpgate\): action=|Login OK|Login incorrect" "$RADIUS_LOG" | sed 's/^[A-Za-z]* [A-Za-z]* [0-9]* [0-9:]* [0-9]* : //; s/^/    /'
say "Done. The store is in $DEMO"
