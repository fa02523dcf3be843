# Sourced by the reliability tests (and their bench/ versions): one store
# shared by a real radiusd (tests/integration/radius/harness.sh), PAM login
# processes (pam_driver: real libpam, services read with pam_start_confdir)
# and the CLI, all running as the store's owner (nobody when we are root).
#
#   rel_setup BUILD_DIR SOURCE_DIR   creates $WORK, the store, radiusd's config
#   og ARGS...                       the CLI on the shared store, as the owner
#   pam_login SERVICE USER ANSWER... one PAM authentication in its own process
#   hotp CODE_COUNTER                the HOTP code of the shared test secret
#   token_json ID FIELD              a field of `otpgate --json show ID`
# PAM services written to $WORK/pam.d: otp-login (debug), otp-register,
# otp-stop.
set -u
REL_SECRET_HEX=${REL_SECRET_HEX:-3132333435363738393031323334353637383930}

rel_setup() {
  REL_BUILD=$1 REL_SOURCE=$2
  for tool in /usr/sbin/freeradius radclient oathtool python3; do
    command -v "$tool" >/dev/null || { echo "$tool is required"; exit 1; }
  done
  source "$REL_SOURCE/tests/integration/radius/harness.sh"
  WORK=$(mktemp -d)
  chmod 0711 "$WORK"
  radius_setup "$WORK/r" "$REL_BUILD/radius_module" "$REL_SOURCE"
  D=$WORK/r
  # Copies that nobody may run (the build tree may be private).
  cp "$REL_BUILD/tools/otpgate" "$REL_BUILD/pam_module/pam_otpgate.so" \
     "$REL_BUILD/tests/integration/pam_driver" "$WORK/"
  chmod 0755 "$WORK/otpgate" "$WORK/pam_otpgate.so" "$WORK/pam_driver"
  mkdir -p "$WORK/pam.d"
  # radius_setup's (empty) config: the host's /etc/otpgate is never read.
  local common="config=$D/otpgate.conf store=$D/store master_key=$D/master.key fail_delay_ms=0"
  echo "auth required pam_deny.so" > "$WORK/pam.d/other"
  echo "auth required $WORK/pam_otpgate.so $common debug" > "$WORK/pam.d/otp-login"
  echo "auth required $WORK/pam_otpgate.so $common action=register debug" > "$WORK/pam.d/otp-register"
  echo "auth required $WORK/pam_otpgate.so $common action=stop debug" > "$WORK/pam.d/otp-stop"
  chmod -R a+rX "$WORK/pam.d"
  [ "$(id -u)" = 0 ] && chown nobody:nogroup "$WORK"
  og init >/dev/null
}

og() { as_owner "$WORK/otpgate" --config "$D/otpgate.conf" --store "$D/store" --master-key "$D/master.key" "$@"; }

# OTPGATE_TEST_PRELOAD (the sanitizer runtime in instrumented runs) first.
pam_login() {
  local service=$1 user=$2; shift 2
  local args=() a
  for a in "$@"; do args+=(--answer "$a"); done
  as_owner env ${OTPGATE_TEST_PRELOAD:+LD_PRELOAD="$OTPGATE_TEST_PRELOAD"} \
    timeout 20 "$WORK/pam_driver" --confdir "$WORK/pam.d" --service "$service" --user "$user" "${args[@]}"
}

hotp() { oathtool --hotp -d "${REL_DIGITS:-6}" -c "$1" "$REL_SECRET_HEX"; }

token_json() {
  og --json show "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

rel_cleanup() {
  radius_stop
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
