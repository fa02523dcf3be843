#!/usr/bin/env bash
# Damage done to data.mdb while its file system was not mounted (issue 11):
# no write(2) reaches the file, so its inode change time and transaction id
# stay as the record of checked states (data.mdb.verified) last saw them.
# The store must still be walked at the next open and the damage reported as
# `corrupt` (exit 18), not trusted and followed into SIGBUS.
#
# A real ext4 file system in a loop-mounted image: the store is created and
# written through the CLI, the file system unmounted, the main tree's root
# page number and last page of the newest meta page overwritten in the
# image, the file system mounted again. The root then lies past the end of
# the file but inside LMDB's map: trusted, it is a SIGBUS (exit 135; the
# build before this test died so). Then the original bytes are put back: the
# store opens and lists its tokens (the damage, not the remount, was refused).
# Needs root and loop devices; exit 77 (skipped) without them, except in CI.
# Usage: offline_damage_test.sh PATH/TO/otpgate
set -u
OTPGATE=${1:?usage: $0 PATH/TO/otpgate}
skip() {
  echo "skipped: $*"
  [ "${CI:-}" = true ] && { echo "FAIL: CI must be able to run this test"; exit 1; }
  exit 77
}
[ "$(id -u)" = 0 ] || skip "mounting a file system needs root"
command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null || skip "e2fsprogs is missing"

WORK=$(mktemp -d)
MNT=$WORK/mnt
cleanup() {
  mountpoint -q "$MNT" && umount "$MNT"
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir "$MNT"
truncate -s 64M "$WORK/fs.img"
mkfs.ext4 -q -F -b 4096 "$WORK/fs.img" || skip "mkfs.ext4 failed"
mount -o loop "$WORK/fs.img" "$MNT" 2>/dev/null || skip "no loop device"

touch "$WORK/otpgate.conf"  # explicit: the host's /etc/otpgate is never read
og() { "$OTPGATE" --config "$WORK/otpgate.conf" --store "$MNT/store" --master-key "$WORK/master.key" "$@"; }

source "$(dirname "$0")/../integration/cli/check_lib.sh"  # check, has

check "init" 0 og init
for i in $(seq 1 20); do printf 'OFFLINE%05d,3132333435363738393031323334353637383930,hex\n' "$i"; done > "$WORK/t.csv"
check "import" 0 og token import "$WORK/t.csv"
check "list before" 0 og list
check "a record of checked states exists" 0 test -s "$MNT/store/data.mdb.verified"

# The newest meta page (LMDB keeps two, pages 0 and 1; the one with the
# larger transaction id is current) and, 128 bytes into it, the root page
# number of the main tree and the last page in use (page header 16 +
# MDB_meta's mm_dbs[MAIN].md_root at 112, mm_last_pg at 120), both set to a
# page past the end of the file and inside the map (mm_mapsize at 16).
read -r page txnid damage < <(python3 - "$MNT/store/data.mdb" <<'EOF'
import os, struct, sys
path = sys.argv[1]
with open(path, "rb") as f:
    data = f.read(8192)
ids = [struct.unpack_from("<Q", data, p * 4096 + 16 + 128)[0] for p in (0, 1)]
page = 0 if ids[0] > ids[1] else 1
mapsize = struct.unpack_from("<Q", data, page * 4096 + 16 + 16)[0]
past_end = os.path.getsize(path) // 4096 + 4
assert (past_end + 1) * 4096 <= mapsize, (past_end, mapsize)
print(page, ids[page], struct.pack("<QQ", past_end, past_end).hex())
EOF
)
umount "$MNT"
block=$(debugfs -R "bmap /store/data.mdb $page" "$WORK/fs.img" 2>/dev/null)
case $block in '' | *[!0-9]*) echo "FAIL: no block for page $page of data.mdb ($block)"; exit 1 ;; esac
offset=$((block * 4096 + 128))
original=$(dd if="$WORK/fs.img" bs=1 skip="$offset" count=16 2>/dev/null | od -An -tx1 | tr -d ' \n')
printf "$(sed 's/../\\x&/g' <<<"$damage")" | dd of="$WORK/fs.img" bs=1 seek="$offset" conv=notrunc 2>/dev/null

mount -o loop "$WORK/fs.img" "$MNT"
check "damaged offline: refused as corrupt, not a crash" 18 og list
has "names the damage" "data.mdb"
check "again: still corrupt" 18 og list

umount "$MNT"
printf "$(sed 's/../\\x&/g' <<<"$original")" | dd of="$WORK/fs.img" bs=1 seek="$offset" conv=notrunc 2>/dev/null
mount -o loop "$WORK/fs.img" "$MNT"
check "the original bytes put back: the store opens" 0 og --json list
has "every token is there" '"OFFLINE00020"'
echo "offline damage (meta page $page, transaction $txnid): $passed passed, $failed failed"
[ "$failed" = 0 ]
