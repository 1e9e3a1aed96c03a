#!/usr/bin/env bash
# ctest -L peers: programs nobody here wrote, unmodified, in the matrix.
# Each passes where the program is correct and fails with the right
# expectation where it is not. The commands are CASES.md's examples
# ("Your own program"). Needs root (or user namespaces), socat, OpenBSD nc
# and python3; exits 77 (skipped) without them.
set -u
W=${1:?usage: peers.sh BUILD_BIN_DIR [SOURCE_DIR]}/wirecheck
SRC=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
export WIRECHECK_CASES_DIR=$SRC/conformance/cases
for p in socat nc python3; do
  command -v "$p" >/dev/null || { echo "peers: $p not installed (ci/install-deps)"; exit 77; }
done
nc -h 2>&1 | grep -q -- '-N' || { echo "peers: nc is not OpenBSD nc"; exit 77; }
OUT=$(mktemp -d /tmp/wirecheck-peers.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
failures=0

# run WANT_EXIT "WORDS THE OUTPUT MUST HAVE" wirecheck-run-args...
run() {
  local want=$1 words=$2; shift 2
  local got=0
  "$W" run --out "$OUT" "$@" >"$OUT/log" 2>&1 || got=$?
  if [ "$got" = 2 ] && grep -q "cannot create a private network namespace" "$OUT/log"; then
    echo "peers: no namespaces here"; exit 77
  fi
  if [ "$got" != "$want" ] || ! grep -qF -- "$words" "$OUT/log"; then
    echo "FAIL: wirecheck run $* exited $got (wanted $want, output with: $words):"
    sed 's/^/    /' "$OUT/log"
    failures=$((failures + 1))
  else
    echo "ok: wirecheck run $*  -> $got, \"$words\""
  fi
}

# Debian's python3 where there is one: a pyenv shim first on PATH can take
# seconds to start, longer than a server may take to be ready.
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

# Python peers written here: bind 0.0.0.0 or :: on the case port, print nothing.
PY_TIME='import socket, datetime
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 3434)); s.listen(16)
while True:
    c, _ = s.accept()
    c.sendall(datetime.datetime.now().strftime("Current time is %Y-%m-%d %H:%M:%S.%f").encode())
    c.close()'
PY_UDP_RECEIVER='import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 3434))
while True:
    s.recvfrom(65536)'
printf '%s\n' "$PY_TIME" >"$OUT/time_server.py"
printf '%s\n' "$PY_UDP_RECEIVER" >"$OUT/udp_receiver.py"

# socat: TCP echo, a time server, UDP echo.
run 0 "0 failed, 2 skipped" --serves echo --server 'socat TCP{family}-LISTEN:{port},reuseaddr,fork EXEC:cat'
read -r SOCAT_TIME <<'CMD'
socat TCP{family}-LISTEN:{port},reuseaddr,fork "SYSTEM:'date \"+Current time is %F %T.%6N\" | tr -d \"\\n\"'"
CMD
run 0 "0 failed, 4 skipped" --serves time --server "$SOCAT_TIME"
run 0 "2 passed, 0 failed" --serves udp-echo --server 'socat UDP{family}-RECVFROM:{port},fork EXEC:cat'
# socat's echo is no time server: the server's bytes do not match.
run 1 "expected server-sends" time-ipv4 --server 'socat TCP-LISTEN:{port},bind={host},reuseaddr,fork EXEC:cat'
# The same echo server: everything it sends is what it got, byte for byte.
run 0 "1 passed, 0 failed" echo-half-close-ipv4 --server 'socat TCP-LISTEN:{port},bind={host},reuseaddr,fork EXEC:cat'

# OpenBSD nc: server (IPv4 and IPv6) and client.
run 0 "0 failed" --serves udp-receive --server 'nc -lu -s {host} -p {port}'
run 1 "expected server-sends" time-ipv6 --server 'nc -lvn -s {host} -p {port}' --ready line
run 0 "2 passed, 0 failed" time --client 'nc {host} {port}'
run 0 "0 failed" --serves echo --client 'sh -c "printf hello | nc -N {host} {port}"'
# A UDP client that sends and never reads the echo: the echo meets a closed port.
run 1 "the echo was never read" udp-echo-ipv4 --server 'socat UDP{family}-RECVFROM:{port},fork EXEC:cat' --client 'sh -c "printf hi | socat -u - UDP{family}:{host}:{port}"'

# Python: silent servers, ready from the namespace's socket table.
run 0 "0 failed, 4 skipped" --serves time --server "$PY $OUT/time_server.py"
run 0 "0 failed" --serves udp-receive --ipv4 --server "$PY $OUT/udp_receiver.py"

# inetutils-inetd's built-in services on their own ports (a case file sets
# the port), and Python's http.server in a case that fits it.
if [ -x /usr/sbin/inetutils-inetd ]; then
  printf 'echo stream tcp nowait root internal\n' >"$OUT/inetd-echo.conf"
  printf 'daytime stream tcp nowait root internal\n' >"$OUT/inetd-daytime.conf"
  cat >"$OUT/inetd-echo.case" <<CASE
description inetutils-inetd's built-in echo on its own port (7)
family ipv4
port 7
serves echo
server inetutils-inetd -d $OUT/inetd-echo.conf
client tcp-client --host {host} --port {port} --send hello --shutdown-write --expect echo --timeout 2
expect client-exit 0
expect server-echoes
expect tcp.no_rst pass
expect tcp.teardown.fin_acked pass
CASE
  cat >"$OUT/inetd-daytime.case" <<'CASE'
description inetutils-inetd's built-in daytime (RFC 867: ctime format) on its own port (13)
family ipv4
port 13
serves time
client nc {host} {port}
expect server-sends "^[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}[[:space:]]*$"
expect tcp.no_rst pass
expect tcp.teardown.first_fin info "server"
CASE
  echo "server inetutils-inetd -d $OUT/inetd-daytime.conf" >>"$OUT/inetd-daytime.case"
  # The same daytime judged as wirecheck's time service: not its format.
  sed 's/^expect server-sends .*/expect server-sends "^Current time is "/' \
    "$OUT/inetd-daytime.case" >"$OUT/inetd-daytime-as-time.case"
  run 0 "1 passed, 0 failed" "$OUT/inetd-echo.case"
  run 0 "1 passed, 0 failed" "$OUT/inetd-daytime.case"
  run 1 "expected server-sends \"^Current time is \"" "$OUT/inetd-daytime-as-time.case"
else
  echo "peers: inetutils-inetd not installed: its cases skipped"
fi
mkdir -p "$OUT/www" && echo hello >"$OUT/www/index.html"
cat >"$OUT/http-server.case" <<CASE
description Python's http.server answers one HTTP/1.0 request and closes
family both
serves none
server $PY -m http.server {port} --bind {host} --directory $OUT/www
client sh -c 'printf "GET /index.html HTTP/1.0\\r\\n\\r\\n" | nc -N {host} {port}'
expect server-sends "^HTTP/1\\.[01] 200 "
expect client-sends "^GET /index.html HTTP/1\\.0"
expect tcp.no_rst pass
expect tcp.data.all_acked pass
expect tcp.teardown.fin_acked pass
CASE
run 0 "2 passed, 0 failed" "$OUT/http-server.case"
# http.server is no echo server: what it sends back is an HTTP error page.
run 1 "expected server-echoes" echo-half-close-ipv4 --server "$PY -m http.server {port} --bind {host}"

# Mistakes are named: a placeholder, a command that is not there, a server
# that never listens (its own words shown).
run 2 "unknown placeholder '{hots}'" time --server 'nc -l -s {hots} -p {port}'
run 2 "the client command exited 127" time-ipv4 --client 'no-such-client {host} {port}'
run 1 "port specification not allowed" udp-echo-ipv6 --server 'socat UDP6-RECVFROM:{port},bind={host} EXEC:cat'

if [ "$failures" != 0 ]; then
  echo "peers: $failures failed"
  exit 1
fi
echo "peers: all passed"
