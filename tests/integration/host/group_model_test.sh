#!/usr/bin/env bash
# Issue 10, point 1: the access model shared by root and FreeRADIUS. With
# the config, key and store owned by root and the `otpgate` group (group
# read for the key and config, read+write for the store, nothing for
# others), root and a member of the group (FreeRADIUS runs as freerad in
# it) both use one store; files LMDB creates get the group's modes; anything
# looser is refused with the exact fix. Needs root and groupadd (77 =
# skipped). Creates the system group `otpgate` if the host lacks it and
# removes it afterwards (a host with the package keeps its group).
# Usage: group_model_test.sh OTPGATE_CLI      Bound: ~5 s.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "needs root; skipped"; exit 77; }
command -v groupadd >/dev/null || { echo "needs groupadd; skipped"; exit 77; }
WORK=$(mktemp -d)
CREATED_GROUP=no
cleanup() {
  rm -rf "$WORK"
  [ $CREATED_GROUP = yes ] && groupdel otpgate
  return 0
}
trap cleanup EXIT
if ! getent group otpgate >/dev/null; then
  groupadd --system otpgate
  CREATED_GROUP=yes
fi
chmod 0755 "$WORK"
cp "$1" "$WORK/otpgate" && chmod 0755 "$WORK/otpgate"
CLI=$WORK/otpgate
D=$WORK/etc S=$WORK/store
install -d -m 0750 -o root -g otpgate "$D"
install -d -m 2770 -o root -g otpgate "$S"
printf 'store = %s\nmaster_key = %s\n' "$S" "$D/master.key" > "$D/otpgate.conf"
chown root:otpgate "$D/otpgate.conf" && chmod 0640 "$D/otpgate.conf"
og() { "$CLI" --config "$D/otpgate.conf" "$@"; }
member() {  # a user in group otpgate only, as freerad is
  setpriv --reuid=nobody --regid=nogroup --groups="$(getent group otpgate | cut -d: -f3)" -- \
    "$CLI" --config "$D/otpgate.conf" "$@"
}
fail=0
check() {  # check NAME CMD...  (CMD's output is kept out of the way)
  local name=$1; shift
  if "$@" > "$WORK/check.out" 2>&1; then echo "ok: $name"; else echo "FAIL: $name"; cat "$WORK/check.out"; fail=1; fi
}
modes() { stat -c '%a %U:%G' "$@" | tr '\n' ' '; }

og init >/dev/null
chown root:otpgate "$D/master.key" && chmod 0640 "$D/master.key"
check "store files get the group's modes" \
  test "$(modes "$S/data.mdb" "$S/lock.mdb" "$S/data.mdb.verified")" = \
  "660 root:otpgate 660 root:otpgate 660 root:otpgate "
KEY=3132333435363738393031323334353637383930
echo "GROUP0000001,$KEY,hex,hotp" > "$WORK/t.csv" && chmod 0644 "$WORK/t.csv"
check "root imports" og token import "$WORK/t.csv"
mapfile -t CODES < <(oathtool --hotp -c 0 -w 5 "$KEY")
record_before=$(sha256sum < "$S/data.mdb.verified")
check "a group member registers (reads the key, writes the store)" \
  member register alice GROUP0000001 "${CODES[0]}"
check "the member's commit went into the shared record of checked states" \
  test "$(sha256sum < "$S/data.mdb.verified")" != "$record_before"
check "root verifies the next code" og verify alice "${CODES[1]}"
check "the group member sees the replay" test "$(member --json verify alice "${CODES[1]}" 2>&1 | grep -c replay)" -ge 1
rm -f "$S/lock.mdb"
check "a group member recreates lock.mdb with the group's modes" member list
check "lock.mdb made by the member is 0660 in group otpgate" \
  test "$(stat -c '%a %U:%G' "$S/lock.mdb")" = "660 nobody:otpgate"
check "root still works after that" og list

refused() {  # refused WHAT FIX_TEXT -> the CLI refuses and names the fix
  local out
  out=$(og list 2>&1) && { echo "   accepted: $1"; return 1; }
  grep -qF -- "$2" <<< "$out" || { echo "   message lacks '$2': $out"; return 1; }
}
chmod 0644 "$D/master.key"
check "a world-readable key is refused with the fix" \
  refused key "chown root:otpgate $D/master.key && chmod 0640 $D/master.key"
chmod 0660 "$D/master.key"
check "a group-writable key is refused" refused key "chmod 0640 $D/master.key"
chmod 0640 "$D/master.key"
chmod 2775 "$S"
check "a store directory others can read is refused with the fix" \
  refused store "chown root:otpgate $S && chmod 2770 $S"
chmod 2770 "$S"
chmod 0664 "$S/data.mdb"
check "a store file others can read is refused" refused data "chmod 0660 $S/data.mdb"
chmod 0660 "$S/data.mdb"
chgrp nogroup "$S/data.mdb"
check "a store file shared with another group is refused" \
  refused data "chown root:otpgate $S/data.mdb && chmod 0660 $S/data.mdb"
chgrp otpgate "$S/data.mdb"
chmod 0602 "$D/otpgate.conf"
check "a config others can write is refused" refused config "$D/otpgate.conf"
chmod 0640 "$D/otpgate.conf"
check "the model as documented works again" og list

# A restore keeps the group model: the restored data.mdb and key take the
# group and modes of the files they replace, so the member still works.
check "root backs up" og backup "$WORK/bk"
check "root restores over the live store (--force)" og restore --force "$WORK/bk"
check "restored data.mdb and key keep the group's modes" \
  test "$(modes "$S/data.mdb" "$D/master.key")" = "660 root:otpgate 640 root:otpgate "
check "the group member uses the restored store" member list
[ $fail = 0 ] && echo PASS
exit $fail
