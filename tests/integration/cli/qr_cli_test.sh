#!/usr/bin/env bash
# QR codes of key URIs, decoded by zbarimg (zbar-tools) to exactly the URI:
# PNG (libpng), SVG (rasterised by qr_raster.py), and the terminal code as a
# light-background and a dark-background terminal would show it. Also key
# URIs with ':' in issuer and account round-trip through import.
# Bound: ~3 s. Usage: qr_cli_test.sh OTPGATE_CLI
set -u
CLI=$1 HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
touch "$WORK/otpgate.conf"  # explicit: the host's /etc/otpgate is never read
og() { "$CLI" --config "$WORK/otpgate.conf" --store "$WORK/store" --master-key "$WORK/master.key" "$@"; }
# shellcheck source=check_lib.sh
. "$(dirname "$0")/check_lib.sh"
decodes() {  # decodes NAME IMAGE: zbarimg reads exactly $URI
  local got; got=$(zbarimg --raw -q "$2" 2>/dev/null)
  if [ "$got" = "$URI" ]; then passed=$((passed + 1)); else
    failed=$((failed + 1)); echo "FAIL: $1: decoded '$got'"; fi
}
og init >/dev/null
check "new token with images" 0 og -o "issuer=Bank: Retail" --json token new --id VSST00000001 \
  --qr-png "$WORK/new.png" --qr-svg "$WORK/new.svg"
URI=$(sed -n 's/.*"uri":"\([^"]*\)".*/\1/p' <<<"$LAST")
check "the issuer's ':' is percent-encoded" 0 grep -q 'Bank%3A%20Retail:VSST00000001' <<<"$URI"
check "images are private" 0 test "$(stat -c %a "$WORK/new.png")$(stat -c %a "$WORK/new.svg")" = 600600
decodes "PNG of token new" "$WORK/new.png"
python3 "$HERE/qr_raster.py" svg "$WORK/new.svg" "$WORK/svg.pgm"
decodes "SVG of token new" "$WORK/svg.pgm"
check "show --uri with images" 0 og show VSST00000001 --uri --qr-png "$WORK/show.png" --qr-svg "$WORK/show.svg"
decodes "PNG of show --uri" "$WORK/show.png"
check "an existing image is never replaced" 17 og show VSST00000001 --uri --qr-png "$WORK/show.png"

# Terminal: the default (ANSI black on white) reads on both backgrounds; the
# uncoloured styles only on the background they are made for.
for style in ansi dark light; do
  og show VSST00000001 --uri --qr --qr-terminal "$style" > "$WORK/term_$style.txt"
  for bg in light dark; do
    python3 "$HERE/qr_raster.py" terminal "$WORK/term_$style.txt" "$bg" "$WORK/term.pgm"
    got=$(zbarimg --raw -q "$WORK/term.pgm" 2>/dev/null)
    want=yes; [ "$style" = dark ] && [ "$bg" = light ] && want=no; [ "$style" = light ] && [ "$bg" = dark ] && want=no
    if { [ "$want" = yes ] && [ "$got" = "$URI" ]; } || { [ "$want" = no ] && [ -z "$got" ]; }; then
      passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: terminal $style on $bg: decoded '$got'"; fi
  done
done

# URIs with ':' in issuer and account round-trip through `token new --uris` and import.
check "URIs written" 0 og -o "issuer=A:B" token new --count 3 --prefix VSMT --uris "$WORK/u.txt"
check "URIs imported elsewhere" 0 "$CLI" --config "$WORK/otpgate.conf" --store "$WORK/store2" --master-key "$WORK/m2.key" init
check "... all three" 0 "$CLI" --config "$WORK/otpgate.conf" --store "$WORK/store2" --master-key "$WORK/m2.key" --json token import "$WORK/u.txt"
check "... issuer kept" 0 grep -q '"imported":3' <<<"$LAST"
id=$(sed -n '1s|otpauth://totp/A%3AB:\([A-Z0-9]*\)?.*|\1|p' "$WORK/u.txt")
check "... issuer A:B" 0 sh -c "'$CLI' --config '$WORK/otpgate.conf' --store '$WORK/store2' --master-key '$WORK/m2.key' show $id | grep -q 'issuer: *A:B'"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
