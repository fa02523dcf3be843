# Sourced by the RADIUS tests, benchmark and demo: a self-contained radiusd
# on 127.0.0.1 with the built rlm_otpgate.so, unprivileged when run as root.
#
#   radius_setup DIR MODULE_DIR SOURCE_DIR   writes DIR/raddb, DIR/store, DIR/master.key
#   radius_start                              starts /usr/sbin/freeradius -f, waits until ready
#   radius_stop                               stops it by PID
#   radiusd_command DIR                       sets RADIUSD=(how to run radiusd here)
#   radius_sanitizer_check DIR                exits 1 on a sanitizer report of radiusd's
#   as_owner CMD...                           runs CMD as the user radiusd runs as
#   rc_send PORT 'attrs'                      one radclient request; prints the reply
#   pg_private_start DIR                      a PostgreSQL of the test's own in DIR
#                                             (sets PG_STORE; exits 77 without one)
#   $RADIUS_LOG                               the server's log
#   $RADIUS_EXTRA_ARGS                        more radiusd flags (e.g. -xx for debug output)
# Ports: $RADIUS_PORT (two rounds, unenrolled allow), +1 (unenrolled deny),
# +2 (split, single step), +3 (rlm_totp, for the benchmark).
RADIUS_SECRET=testing123

as_owner() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; else "$@"; fi
}

free_port_base() {  # seven consecutive free UDP ports (tests use four, benchmarks seven)
  python3 - <<'PY'
import random, socket
while True:
    base = random.randint(20000, 60000)
    socks = []
    try:
        for p in range(base, base + 7):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", p)); socks.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in socks: s.close()
PY
}

radius_setup() {
  RADIUS_DIR=$1 RADIUS_MODULE_DIR=$2 RADIUS_SOURCE_DIR=$3
  RADIUS_PORT=${RADIUS_PORT:-$(free_port_base)}
  local d=$RADIUS_DIR
  RADIUS_LOG=$d/log/stdout.log  # -l stdout: everything, auth lines included, goes here
  mkdir -p "$d/raddb" "$d/log" "$d/run" "$d/lib"
  # radiusd runs as nobody: it gets copies of the module and the dictionary,
  # so the source and build trees need not be readable by nobody.
  cp "$RADIUS_MODULE_DIR/rlm_otpgate.so" "$d/lib/"
  cp "$RADIUS_SOURCE_DIR/config/freeradius/dictionary.otpgate" "$d/raddb/"
  [ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$d" && chmod 0711 "$d"
  cat > "$d/raddb/dictionary" <<EOT
\$INCLUDE /usr/share/freeradius/dictionary
\$INCLUDE $d/raddb/dictionary.otpgate
EOT
  cat > "$d/raddb/users" <<'EOT'
alice   Cleartext-Password := "alicepw"
bob     Cleartext-Password := "bobpw"
carol   Cleartext-Password := "carolpw"
dave    Cleartext-Password := "davepw"
EOT
  : > "$d/otpgate.conf"  # explicit: the host's /etc/otpgate is never read
  local common="config = $d/otpgate.conf
		store = $d/store
		master_key = $d/master.key"
  cat > "$d/raddb/radiusd.conf" <<EOT
prefix = /usr
raddbdir = $d/raddb
confdir = \${raddbdir}
logdir = $d/log
run_dir = $d/run
libdir = $d/lib:/usr/lib/freeradius
pidfile = $d/run/radiusd.pid
max_request_time = 30
max_requests = 1048576
hostname_lookups = no
proxy_requests = no
log {
	destination = files
	file = \${logdir}/radius.log
	auth = no
}
security {
	reject_delay = 0
	status_server = no
}
thread pool {
	start_servers = 32
	max_servers = 64
	min_spare_servers = 4
	max_spare_servers = 32
	max_requests_per_server = 0
	max_queue_size = 65536
}
client localhost {
	ipaddr = 127.0.0.1
	secret = $RADIUS_SECRET
}
modules {
	files {
		filename = $d/raddb/users
	}
	pap {
	}
	totp {
	}
	otpgate {
		$common
		prompt = "Enter one-time password"
	}
	otpgate otpgate_deny {
		$common
		unenrolled = deny
	}
	otpgate otpgate_split {
		$common
		split = yes
	}
}
server two_rounds {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $RADIUS_PORT
	}
	authorize {
		otpgate
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
			otpgate
		}
		Auth-Type otpgate {
			otpgate
		}
	}
}
server deny {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $((RADIUS_PORT + 1))
	}
	authorize {
		otpgate_deny
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
			otpgate_deny
		}
		Auth-Type otpgate_deny {
			otpgate_deny
		}
	}
}
server single_step {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $((RADIUS_PORT + 2))
	}
	authorize {
		otpgate_split
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
			otpgate_split
		}
	}
}
server peer_totp {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $((RADIUS_PORT + 3))
	}
	authorize {
		files
		update request {
			&TOTP-Password := &User-Password
		}
		update control {
			&Auth-Type := totp
		}
	}
	authenticate {
		Auth-Type totp {
			totp
		}
	}
}
EOT
  [ "$(id -u)" = 0 ] && chown -R nobody:nogroup "$d"
  return 0
}

# radius_code_only_server NAME INSTANCE PORT_OFFSET: appends a server that
# runs otpgate instance INSTANCE alone (no password module), for benchmarks.
radius_code_only_server() {
  cat >> "$RADIUS_DIR/raddb/radiusd.conf" <<EOT
server $1 {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = $((RADIUS_PORT + $3))
	}
	authorize {
		$2
		update control {
			&Auth-Type := $2
		}
	}
	authenticate {
		Auth-Type $2 {
			$2
		}
	}
}
EOT
}

# radiusd as this harness runs it: as nobody when run as root; in the
# sanitizer stage (OTPGATE_TEST_PRELOAD = the ASan runtime) with
# dlopen_without_deepbind.so ($OTPGATE_TEST_DEEPBIND_SHIM) preloaded ahead
# of the runtime, so that the instrumented module can be loaded (see that
# file), and with the sanitizers' reports written to DIR/sanitizer.PID,
# where radius_sanitizer_check looks for them. Sets the array RADIUSD. DIR
# must exist and be writable by radiusd's user.
radiusd_command() {  # radiusd_command DIR
  RADIUSD=()
  [ "$(id -u)" = 0 ] && RADIUSD=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
  if [ -n "${OTPGATE_TEST_PRELOAD:-}" ]; then
    if [ ! -r "${OTPGATE_TEST_DEEPBIND_SHIM:-}" ]; then
      echo "OTPGATE_TEST_PRELOAD is set but OTPGATE_TEST_DEEPBIND_SHIM names no file" >&2
      return 1
    fi
    cp "$OTPGATE_TEST_DEEPBIND_SHIM" "$1/dlopen_without_deepbind.so"
    RADIUSD+=(env "LD_PRELOAD=$1/dlopen_without_deepbind.so $OTPGATE_TEST_PRELOAD"
              "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0:log_path=$1/sanitizer"
              "UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$1/sanitizer")
  fi
  RADIUSD+=(/usr/sbin/freeradius)
}

# Any sanitizer report from a radiusd run by radiusd_command DIR fails the
# test here, whether radiusd died of it or only reported it on the way out.
radius_sanitizer_check() {  # radius_sanitizer_check DIR
  local report
  for report in "$1"/sanitizer.*; do
    [ -s "$report" ] || continue
    echo "FAIL: a sanitizer report from radiusd ($report):" >&2
    cat "$report" >&2
    exit 1
  done
}

radius_start() {
  local d=$RADIUS_DIR
  [ -f "$RADIUS_LOG" ] && cat "$RADIUS_LOG" >> "$d/log/previous.log"  # keep earlier runs
  : > "$RADIUS_LOG"; [ "$(id -u)" = 0 ] && chown nobody:nogroup "$RADIUS_LOG"
  radiusd_command "$d/log" || return 1
  # Started directly (not through a shell function) so that $! is radiusd
  # itself: setpriv and env exec it.
  "${RADIUSD[@]}" -d "$d/raddb" -f -l stdout ${RADIUS_EXTRA_ARGS:-} >> "$d/log/stdout.log" 2>&1 &
  RADIUS_PID=$!
  local i
  for i in $(seq 1 300); do
    if grep -q "Ready to process requests" "$RADIUS_LOG" 2>/dev/null; then
      # Instrumented runs prove that the instrumented module is what runs.
      if [ -n "${OTPGATE_TEST_PRELOAD:-}" ] &&
         ! { grep -q libasan "/proc/$RADIUS_PID/maps" && grep -q rlm_otpgate "/proc/$RADIUS_PID/maps" &&
             nm -D "$d/lib/rlm_otpgate.so" | grep -q __asan_report; }; then
        echo "radiusd runs without the sanitizer runtime or the instrumented module"
        radius_stop
        return 1
      fi
      return 0
    fi
    kill -0 "$RADIUS_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "radiusd did not start:"; tail -30 "$RADIUS_LOG"
  radius_sanitizer_check "$d/log"
  return 1
}

radius_stop() {
  [ -n "${RADIUS_PID:-}" ] || return 0
  kill "$RADIUS_PID" 2>/dev/null || true
  wait "$RADIUS_PID" 2>/dev/null || true
  RADIUS_PID=
  radius_sanitizer_check "$RADIUS_DIR/log"
}

rc_send() {  # rc_send PORT_OFFSET 'Attr = value, ...'   -> reply lines
  printf '%s\n' "$2" | radclient -d "$RADIUS_DIR/raddb" -x -t 3 -r 1 "127.0.0.1:$((RADIUS_PORT + $1))" auth "$RADIUS_SECRET" 2>&1 || true
}

# pg_private_start DIR: starts a PostgreSQL of this test's own in DIR
# (tests/postgres/server.sh; stop it with `server.sh stop DIR`) and sets
# PG_STORE to its location. Exits 77 (CTest's skip) when PostgreSQL's server
# binaries are absent, 1 when it does not start.
pg_private_start() {
  "$(dirname "${BASH_SOURCE[0]}")/../../postgres/server.sh" start "$1" >/dev/null
  local rc=$?
  [ $rc = 77 ] && { echo "SKIP: PostgreSQL server binaries are not installed"; exit 77; }
  [ $rc = 0 ] || { echo "the test PostgreSQL did not start"; exit 1; }
  PG_STORE="postgresql:///otpgate?host=$1&user=otpgate"
}
