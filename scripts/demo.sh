#!/usr/bin/env bash
# The main job, end to end, on an embedded store in ./demo-data (no root
# paths): initialise, provision a soft token (its QR code is printed), then
# the bank's three flows with codes computed live by a software token.
#
# Time: instead of waiting 30 s between logins, the demo runs on a virtual
# clock (--time) that starts now and moves one 30 s step at a time; the
# store, the verifier and the software token all read the same clock.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
otpgate_install_deps >/dev/null

BUILD_DIR=${OTPGATE_BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target otpgate >/dev/null

DEMO=${OTPGATE_DEMO_DIR:-$PWD/demo-data}
rm -rf "$DEMO"
mkdir -p "$DEMO"
chmod 0700 "$DEMO"
BIN="$PWD/$BUILD_DIR/tools/otpgate"
NOW=$(( $(date +%s) / 30 * 30 ))
og() { "$BIN" --store "$DEMO/store" --master-key "$DEMO/master.key" --time "$NOW" "$@"; }
phone() { "$BIN" --time "$NOW" code -q --uri "$URI"; }   # the customer's authenticator app
tick() { NOW=$((NOW + 30)); }                             # the next 30-second step
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
say "Before registration: $USER_ID logs in with ID + password only"
show verify "$USER_ID" "$(phone)"
echo "    -> no token: the site lets the customer in on the password alone"

say "Flow 1, register: ID + password, then the token ID and the code it shows now"
CODE=$(phone)
echo "    the app shows $CODE for token $TOKEN"
show register "$USER_ID" "$TOKEN" "$CODE"

tick
say "Flow 2, login: ID + password, then the current code"
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
say "Done. The store is in $DEMO"
