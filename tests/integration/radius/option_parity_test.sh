#!/usr/bin/env bash
# One configuration, one behaviour: every front-end option, set in the shared
# config file, in the PAM module arguments or in the RADIUS module section,
# gives the same decision through PAM (the real pam_otpgate.so in libpam,
# driven by pam_driver) and RADIUS (the real
# rlm_otpgate.so in radiusd, driven by radclient); and every bad option is
# refused at start-up by both. Bound: one radiusd start, ~100 requests and
# a dozen `freeradius -XC` runs: about 30 s.
# Usage: option_parity_test.sh MODULE_DIR PAM_MODULE PAM_DRIVER OTPGATE_CLI SOURCE_DIR
set -u
MODULE_DIR=$1 PAM_MODULE=$2 PAM_DRIVER=$3 CLI=$4 SRC=$5
for tool in /usr/sbin/freeradius radclient oathtool python3; do
  command -v "$tool" >/dev/null || { echo "$tool is required"; exit 1; }
done
source "$SRC/tests/integration/radius/harness.sh"
WORK=$(mktemp -d); chmod 0711 "$WORK"
trap 'radius_stop; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
HEX=3132333435363738393031323334353637383930
PW=secretpw
# The cases: name, option, the user's state, and what both must decide.
CASES=(
  "deny       unenrolled=deny  unenrolled  password        reject"
  "allow      unenrolled=allow unenrolled  password        accept"
  "split      split=yes        enrolled    password+code   accept"
  "prompt     prompt=Code:     enrolled    ask             prompt:Code:"
  "window0    window=0         enrolled    previous-code   reject"
  "maxfail1   max_failures=1   enrolled    wrong-then-code locked"
  "stop       action=stop      enrolled    stop-code       accept"
  "debug      debug=yes        enrolled    code            accept+debug"
)
PLACES="file module"

# --- Two stores set up alike: PAM's (ours) and RADIUS's (radiusd runs as nobody). ---
radius_setup "$WORK/r" "$MODULE_DIR" "$SRC"
D=$WORK/r
cp "$CLI" "$WORK/otpgate"; chmod 0755 "$WORK/otpgate"
# Every instance names its config: the host's /etc/otpgate is never read.
mkdir -p "$WORK/conf"; chmod 0755 "$WORK/conf"
EMPTY="$WORK/conf/empty.conf"; : > "$EMPTY"; chmod 0644 "$EMPTY"
og_pam() { "$WORK/otpgate" -c "$EMPTY" --store "$WORK/pam-store" --master-key "$WORK/pam.key" "$@"; }
og_rad() { as_owner "$WORK/otpgate" -c "$EMPTY" --store "$D/store" --master-key "$D/master.key" "$@"; }
og_pam init >/dev/null; og_rad init >/dev/null
: > "$WORK/t.csv"; chmod 0644 "$WORK/t.csv"
n=0
for row in "${CASES[@]}"; do
  read -r name opt state how want <<<"$row"
  for place in $PLACES; do
    n=$((n + 1)); echo "PRTY$(printf '%08d' $n),$HEX,hex" >> "$WORK/t.csv"
    echo "$name $place PRTY$(printf '%08d' $n)" >> "$WORK/ids"
  done
done
og_pam token import "$WORK/t.csv" >/dev/null; og_rad token import "$WORK/t.csv" >/dev/null
user_of() { echo "u_$1_$2"; }
id_of() { awk -v n="$1" -v p="$2" '$1 == n && $2 == p {print $3}' "$WORK/ids"; }
for row in "${CASES[@]}"; do
  read -r name opt state how want <<<"$row"
  [ "$state" = enrolled ] || continue
  for place in $PLACES; do
    og_pam assign "$(id_of "$name" "$place")" "$(user_of "$name" "$place")" >/dev/null
    og_rad assign "$(id_of "$name" "$place")" "$(user_of "$name" "$place")" >/dev/null
  done
done

# --- The shared files: one per case, holding only the option under test. ---
conf_file() {  # conf_file NAME OPTION -> path (readable by nobody)
  local f="$WORK/conf/$1.conf"; mkdir -p "$WORK/conf"; chmod 0755 "$WORK/conf"
  echo "${2%%=*} = ${2#*=}" > "$f"; chmod 0644 "$f"; echo "$f"
}

# --- PAM: one service per case and place. ---
mkdir -p "$WORK/pam.d"
echo "auth required pam_deny.so" > "$WORK/pam.d/other"
PASSWORD_LINE="auth requisite pam_exec.so expose_authtok quiet $SRC/tests/integration/pam/check_password.sh $PW"
for row in "${CASES[@]}"; do
  read -r name opt state how want <<<"$row"
  for place in $PLACES; do
    common="store=$WORK/pam-store master_key=$WORK/pam.key fail_delay_ms=0"
    if [ "$place" = file ]; then args="$common config=$(conf_file "$name" "$opt")"; else args="$common config=$EMPTY $opt"; fi
    line="auth required $PAM_MODULE $args"
    if [ "$name" = split ]; then
      printf 'auth requisite %s %s\n%s\n%s\n' "$PAM_MODULE" "$args" "$PASSWORD_LINE" "$line"
    else
      printf '%s\n%s\n' "$PASSWORD_LINE" "$line"
    fi > "$WORK/pam.d/$name-$place"
  done
done
pam() {  # pam SERVICE USER ANSWER... -> driver output
  local service=$1 user=$2; shift 2
  local args=()
  for a in "$@"; do args+=(--answer "$a"); done
  # The sanitizer runtime, when there is one, must come first.
  env LD_PRELOAD="${OTPGATE_TEST_PRELOAD:+$OTPGATE_TEST_PRELOAD }$SYSLOG_CAPTURE" OTPGATE_TEST_SYSLOG="$WORK/pam-syslog" \
    "$PAM_DRIVER" --confdir "$WORK/pam.d" --service "$service" --user "$user" "${args[@]}" 2>&1
}
SYSLOG_CAPTURE=$(dirname "$PAM_DRIVER")/syslog_capture.so

# --- RADIUS: one instance and one port per case and place. ---
BASE=$(python3 - <<'PY'
import random, socket
while True:
    base = random.randint(20000, 60000); socks = []
    try:
        for p in range(base, base + 16):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError: pass
    finally:
        for s in socks: s.close()
PY
)
RADIUS_PORT=$BASE
for name in $(printf '%s\n' "${CASES[@]}" | awk '{print $1}'); do
  for place in $PLACES; do
    echo "u_${name}_$place Cleartext-Password := \"$PW\""
  done
done > "$D/raddb/users"
python3 - "$D/raddb/radiusd.conf" <<'PY'
import sys
p = sys.argv[1]; s = open(p).read()
s = s[:s.index("modules {")]  # keep the global part; modules and servers are ours
open(p, "w").write(s)
PY
{
  echo "modules {"
  printf '  files {\n    filename = %s\n  }\n  pap {\n  }\n' "$D/raddb/users"
  for row in "${CASES[@]}"; do
    read -r name opt state how want <<<"$row"
    for place in $PLACES; do
      echo "  otpgate otp_${name}_$place {"
      echo "    store = $D/store"
      echo "    master_key = $D/master.key"
      if [ "$place" = file ]; then echo "    config = $(conf_file "$name" "$opt")"; else echo "    config = $EMPTY"; echo "    ${opt%%=*} = \"${opt#*=}\""; fi
      echo "  }"
    done
  done
  echo "}"
  port=$BASE
  for row in "${CASES[@]}"; do
    read -r name opt state how want <<<"$row"
    for place in $PLACES; do
      i=otp_${name}_$place
      cat <<EOT
server s_$i {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = $port
  }
  authorize {
    $i
    files
    pap
  }
  authenticate {
    Auth-Type PAP {
      pap
      $i
    }
    Auth-Type $i {
      $i
    }
  }
}
EOT
      echo "$name $place $port" >> "$WORK/ports"
      port=$((port + 1))
    done
  done
} >> "$D/raddb/radiusd.conf"
[ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$D/raddb"
port_of() { awk -v n="$1" -v p="$2" '$1 == n && $2 == p {print $3}' "$WORK/ports"; }
rad() {  # rad PORT 'attrs'
  printf '%s\n' "$2" | radclient -d "$D/raddb" -x -t 3 -r 1 "127.0.0.1:$1" auth "$RADIUS_SECRET" 2>&1 || true
}

code_at() { oathtool --totp -N "@$(( $1 ))" "$HEX"; }
now() { date +%s; }

# --- Decisions, normalised: accept, reject, locked, prompt:TEXT; +debug. ---
pam_decision() {  # pam_decision OUTPUT
  local rc; rc=$(sed -n 's/^authenticate \([0-9]*\).*/\1/p' <<<"$1")
  case "$rc" in 0) echo accept ;; 7) echo reject ;; 11) echo locked ;; *) echo "rc$rc" ;; esac
}
rad_decision() {
  if grep -q "Received Access-Accept" <<<"$1"; then echo accept
  elif grep -q "Received Access-Challenge" <<<"$1"; then echo "prompt:$(sed -n 's/.*Reply-Message = "\(.*\)"/\1/p' <<<"$1" | head -1)"
  elif grep -q "is locked" <<<"$1"; then echo locked
  elif grep -q "Received Access-Reject" <<<"$1"; then echo reject
  else echo none; fi
}
state_of() { sed -n 's/^[[:space:]]*State = \(0x[0-9a-f]*\).*/\1/p' <<<"$1" | head -1; }

decide_pam() {  # decide_pam NAME PLACE HOW
  local s="$1-$2" u; u=$(user_of "$1" "$2")
  local code; code=$(code_at "$(now)")
  case "$3" in
    password) pam_decision "$(pam "$s" "$u" "$PW")" ;;
    password+code) pam_decision "$(pam "$s" "$u" "$PW$code")" ;;
    ask) local out; out=$(pam "$s" "$u" "$PW" "$code")
         echo "prompt:$(sed -n 's/^PROMPT_ECHO_OFF \(.*\)/\1/p' <<<"$out" | tail -1)" ;;
    previous-code) pam_decision "$(pam "$s" "$u" "$PW" "$(code_at $(( $(now) - 30 )))")" ;;
    wrong-then-code) pam "$s" "$u" "$PW" 000000 >/dev/null; pam_decision "$(pam "$s" "$u" "$PW" "$code")" ;;
    stop-code|code) pam_decision "$(pam "$s" "$u" "$PW" "$code")" ;;
  esac
}
decide_rad() {  # decide_rad NAME PLACE HOW
  local p; p=$(port_of "$1" "$2"); local u; u=$(user_of "$1" "$2")
  local code r; code=$(code_at "$(now)")
  round2() {  # round2 CODE -> decision after a challenge
    r=$(rad "$p" "User-Name = \"$u\", User-Password = \"$PW\"")
    [ -n "$(state_of "$r")" ] || { rad_decision "$r"; return; }
    rad_decision "$(rad "$p" "User-Name = \"$u\", User-Password = \"$1\", State = $(state_of "$r")")"
  }
  case "$3" in
    password) rad_decision "$(rad "$p" "User-Name = \"$u\", User-Password = \"$PW\"")" ;;
    password+code) rad_decision "$(rad "$p" "User-Name = \"$u\", User-Password = \"$PW$code\"")" ;;
    ask) rad_decision "$(rad "$p" "User-Name = \"$u\", User-Password = \"$PW\"")" ;;
    previous-code) round2 "$(code_at $(( $(now) - 30 )))" ;;
    wrong-then-code) round2 000000 >/dev/null; round2 "$code" ;;
    stop-code) rad_decision "$(rad "$p" "User-Name = \"$u\", User-Password = \"$PW\", Otpgate-Code = \"$code\"")" ;;
    code) round2 "$code" ;;
  esac
}

passed=0 failed=0
check() {  # check WHAT GOT WANT
  if [ "$2" = "$3" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $1: got '$2', want '$3'"; fi
}

radius_start || exit 1
# Stay clear of a step boundary: every case's codes come from one step.
[ $(( $(now) % 30 )) -gt 20 ] && sleep $(( 31 - $(now) % 30 ))
for row in "${CASES[@]}"; do
  read -r name opt state how want <<<"$row"
  base=${want%+debug}
  for place in $PLACES; do
    check "PAM $name ($opt in the $place)" "$(decide_pam "$name" "$place" "$how")" "$base"
    check "RADIUS $name ($opt in the $place)" "$(decide_rad "$name" "$place" "$how")" "$base"
  done
done
# stop unbound the token in both stores; debug traced the decision in both logs.
for place in $PLACES; do
  id=$(id_of stop "$place")
  check "PAM stop unbinds ($place)" "$(og_pam --json show "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" unassigned
  check "RADIUS stop unbinds ($place)" "$(og_rad --json show "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" unassigned
  traced() { [ "$(grep -c "$1" "$2")" -ge 2 ] && echo traced || echo silent; }
  check "PAM debug ($place)" "$(traced "pam_otpgate: user=u_debug_$place action=login" "$WORK/pam-syslog")" traced
  check "RADIUS debug ($place)" "$(traced "rlm_otpgate (otp_debug_$place): debug: user=u_debug_$place action=login" "$RADIUS_LOG")" traced
  check "no debug without the option ($place)" "$(traced "user=u_window0_$place action=login" "$WORK/pam-syslog")" silent
done
for f in "$WORK/pam-syslog" "$RADIUS_LOG"; do
  if grep -q "$HEX\|$PW" "$f"; then failed=$((failed + 1)); echo "FAIL: a secret or password in $f"; fi
done
radius_stop

# --- Bad options: refused at start-up by both, in the file and in the module. ---
BAD=("max_failure=3" "resync_window=5" "debug=maybe" "window=11" "unenrolled=maybe")
radius_check() {  # radius_check MODULE_BODY -> freeradius -XC output
  cat > "$D/raddb/radiusd.conf.bad" <<EOT
$(sed -n '1,/^modules {/p' "$D/raddb/radiusd.conf" | sed '$d')
modules {
  otpgate {
    store = $D/store
    master_key = $D/master.key
    $(case "$1" in config*) ;; *) echo "config = $EMPTY" ;; esac)
    $1
  }
}
server s {
  listen {
    type = auth
    ipaddr = 127.0.0.1
    port = $BASE
  }
  authorize {
    otpgate
  }
  authenticate {
    Auth-Type otpgate {
      otpgate
    }
  }
}
EOT
  cp "$D/raddb/radiusd.conf.bad" "$D/raddb/bad/radiusd.conf"
  [ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$D/raddb/bad"
  radiusd_command "$D/raddb/bad" || return 1
  "${RADIUSD[@]}" -XC -d "$D/raddb/bad" 2>&1
}
mkdir -p "$D/raddb/bad"; cp "$D/raddb/dictionary" "$D/raddb/dictionary.otpgate" "$D/raddb/bad/"
for bad in "${BAD[@]}" ; do
  name=${bad%%=*}
  f=$(conf_file "bad-$name" "$bad")
  for place in file module; do
    if [ "$place" = file ]; then args="config=$f"; body="config = $f"; else args="config=$EMPTY $bad"; body="$name = \"${bad#*=}\""; fi
    printf 'auth required %s store=%s master_key=%s fail_delay_ms=0 %s\n' "$PAM_MODULE" "$WORK/pam-store" "$WORK/pam.key" "$args" > "$WORK/pam.d/bad"
    check "PAM refuses $bad in the $place" "$(pam_decision "$(pam bad u_deny_file "$PW" 123456)")" rc3
    out=$(radius_check "$body")
    check "RADIUS refuses $bad in the $place" "$(grep -c "otpgate: .*$name" <<<"$out")/$(grep -c 'Configuration appears to be OK' <<<"$out")" 1/0
  done
done
# Options for the PAM module only, and unenrolled = register, are refused in
# a RADIUS module section (the shared file may carry the PAM-only ones).
for bad in "nonroot = ignore" "fail_delay_ms = 0" "use_first_pass = yes" "unenrolled = register"; do
  out=$(radius_check "$bad")
  check "RADIUS refuses '$bad'" "$(grep -c 'Configuration appears to be OK' <<<"$out")" 0
done
f=$(conf_file pam-only "fail_delay_ms=0")
out=$(radius_check "config = $f")
check "RADIUS accepts a PAM-only option in the shared file" "$(grep -c 'Configuration appears to be OK' <<<"$out")" 1
# The baseline: a good section passes the same check.
out=$(radius_check "window = 2")
check "RADIUS accepts a good section" "$(grep -c 'Configuration appears to be OK' <<<"$out")" 1
radius_sanitizer_check "$D/raddb/bad"  # the checks above ran in subshells

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
