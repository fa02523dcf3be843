#!/usr/bin/env bash
# A throwaway PostgreSQL for tests (docs/recipes.md): Debian's server
# binaries, a cluster in DIR owned by `nobody` (when run as root), listening
# on a Unix socket in DIR only (no TCP port to collide with), trust
# authentication for the role `otpgate`, database `otpgate`.
#
#   server.sh start DIR     initdb (first time) and start; prints the conninfo
#   server.sh stop DIR      stop and remove DIR
#   server.sh kill DIR      SIGKILL the postmaster (a crash, for fault tests)
#   server.sh restart DIR   start again after kill/stop, keeping the data
# Exit 77 (CTest's skip) when the PostgreSQL server binaries are absent.
# fsync is off: these clusters hold test data only (PG_FSYNC=on for a
# durable one, as bench/run_store_bench.sh needs).
set -euo pipefail
cmd=${1:?usage: server.sh start|stop|kill|restart DIR}
D=${2:?usage: server.sh start|stop|kill|restart DIR}
PORT=5432  # names the socket file in DIR only

P=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$P" ] || [ ! -x "$P/initdb" ] || [ ! -x "$P/pg_ctl" ]; then
  echo "SKIP: PostgreSQL server binaries not found (apt-get install postgresql)"
  exit 77
fi
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
  else
    "$@"
  fi
}
pg_start() {
  # After a kill -9, old backends may hold the shared memory a few moments.
  for _ in $(seq 1 50); do
    if as_owner "$P/pg_ctl" -D "$D/pg" -l "$D/pg.log" -w -t 20 \
        -o "-k $D -p $PORT -c listen_addresses='' -c fsync=${PG_FSYNC:-off} -c max_connections=300" \
        start >/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  cat "$D/pg.log" >&2
  return 1
}

case "$cmd" in
  start)
    mkdir -p "$D"
    chmod 0755 "$D"
    if [ "$(id -u)" = 0 ]; then
      chown nobody:nogroup "$D"
      setpriv --reuid=nobody --regid=nogroup --clear-groups -- test -x "$D" || {
        echo "server.sh: nobody cannot reach $D (a parent directory is private)" >&2
        exit 1
      }
    fi
    if [ ! -d "$D/pg" ]; then
      as_owner "$P/initdb" -D "$D/pg" -U otpgate --auth=trust -N -E UTF8 >"$D/initdb.log"
    fi
    pg_start
    as_owner "$P/createdb" -h "$D" -p $PORT -U otpgate otpgate 2>/dev/null || true
    echo "host=$D port=$PORT user=otpgate dbname=otpgate"
    ;;
  restart)
    pg_start
    ;;
  kill)
    pid=$(head -n 1 "$D/pg/postmaster.pid")
    kill -9 "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    ;;
  stop)
    [ -d "$D/pg" ] && as_owner "$P/pg_ctl" -D "$D/pg" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$D"
    ;;
  *)
    echo "unknown command $cmd" >&2
    exit 2
    ;;
esac
