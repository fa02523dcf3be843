# Sourced: capture_syslog FILE — inside a private mount namespace (see
# leak_test.sh), puts a /dev/log that appends every syslog datagram to FILE,
# so that the audit lines of the CLI and of pam_otpgate (syslog through
# libpam) are searched too. /dev is replaced by a copy holding the usual
# device nodes (bind mounts) and the new socket.
capture_syslog() {
  local file=$1 dev=$WORK/dev f
  mkdir -p "$dev/pts" "$dev/shm"
  for f in null zero full random urandom tty; do
    [ -e "/dev/$f" ] || continue
    touch "$dev/$f" && mount --bind "/dev/$f" "$dev/$f"
  done
  mount --bind /dev/pts "$dev/pts"; mount --bind /dev/shm "$dev/shm"
  ln -s /proc/self/fd "$dev/fd"
  ln -s /proc/self/fd/0 "$dev/stdin"; ln -s /proc/self/fd/1 "$dev/stdout"; ln -s /proc/self/fd/2 "$dev/stderr"
  python3 - "$dev/log" "$file" <<'PY' &
import os, socket, sys
path, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
os.chmod(path, 0o666)
with open(out, "ab", buffering=0) as f:
    while True:
        f.write(s.recv(65536) + b"\n")
PY
  SYSLOG_PID=$!
  for f in $(seq 1 50); do [ -S "$dev/log" ] && break; sleep 0.1; done
  mount --bind "$dev" /dev
}
