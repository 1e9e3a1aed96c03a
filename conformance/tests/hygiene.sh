#!/usr/bin/env bash
# ctest hygiene (label conformance): nothing a case started survives it.
# 1. A daemonizing --server (a shell that starts the server in the
#    background and exits 0; a `sleep ... &` beside the server) passes the
#    time case, and afterwards no process it started is left.
# 2. SIGTERM to `wirecheck run --jobs 2` while two cases run (each server
#    daemonizing, each client hanging): exit 143, the summary of what ran,
#    JUnit and both captures written, and again nothing left.
# "Nothing left": no process carrying this test's token in its environment
# (every descendant of wirecheck inherits it) or its marker on its command
# line, no process or descriptor holding the network or PID namespace the
# server recorded from inside, no new `ip netns` name, no temporary file
# (TMPDIR is private to the test and must stay empty; the output directory
# holds only the captures and the JUnit file).
# Needs root (or user namespaces); exits 77 (skipped) without them.
set -u
BIN=${1:?usage: hygiene.sh BUILD_BIN_DIR [SOURCE_DIR]}
SRC=${2:-$(cd "$(dirname "$0")/../.." && pwd)}
W=$BIN/wirecheck
export WIRECHECK_CASES_DIR=$SRC/conformance/cases
OUT=$(mktemp -d /tmp/wirecheck-hygiene.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
mkdir "$OUT/tmp"
export TMPDIR=$OUT/tmp
TOKEN=wc-hygiene-$$-$RANDOM   # in the environment of wirecheck and all it starts
MARK=$((900 + RANDOM % 90)).$$   # `sleep $MARK`: a command line no one else has
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
NETNS_BEFORE=$(ip netns list 2>/dev/null | sort)

# Processes (pid and command line) with the token in their environment or
# the marker as an argument; none expected outside a run. Only wirecheck
# gets the token (not this script); the marker as a regex ("9xx[.]PID")
# does not match the grep that looks for it.
MARK_RE="${MARK%.*}[.]${MARK#*.}"
ours() {
  { grep -lzx "WC_HYGIENE_TOKEN=$TOKEN" /proc/[0-9]*/environ
    grep -lzx "$MARK_RE" /proc/[0-9]*/cmdline; } 2>/dev/null |
    sed 's|^/proc/\([0-9]*\)/.*|\1|' | sort -un | while read -r pid; do
      echo "$pid $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
    done
}

# Every process or descriptor that holds namespace $1 ("net:[4026...]").
holders() {
  [ -n "$1" ] || return 0
  local pattern=${1//[/\\[}
  pattern=${pattern//]/\\]}
  find /proc/[0-9]*/ns /proc/[0-9]*/fd -maxdepth 1 -lname "$pattern" 2>/dev/null
}

# Waits until every pid given has exited, at most 2 s (pidfds, no polling).
wait_exit() {
  python3 - "$@" <<'PY'
import os, select, sys, time
fds = []
for pid in sys.argv[1:]:
    try:
        fds.append(os.pidfd_open(int(pid)))
    except OSError:
        pass  # already gone
end = time.monotonic() + 2
while fds and time.monotonic() < end:
    ready, _, _ = select.select(fds, [], [], end - time.monotonic())
    fds = [fd for fd in fds if fd not in ready]
PY
}

# Nothing of what the runs started is left: processes, namespaces, files.
check_clean() {
  local what=$1 left ns f
  left=$(ours)
  [ -z "$left" ] || fail "$what: processes left behind:"$'\n'"$left"
  for f in "$OUT"/*.netns "$OUT"/*.pidns; do
    [ -e "$f" ] || continue
    ns=$(cat "$f")
    # A process killed because its parent died (PR_SET_PDEATHSIG) may still
    # be on its way out as wirecheck exits: wait (at most 2 s, on a pidfd per
    # holder) for the holders to exit; a leak never does.
    left=$(holders "$ns")
    if [ -n "$left" ]; then
      wait_exit $(sed 's|^/proc/\([0-9]*\)/.*|\1|' <<<"$left" | sort -u)
      left=$(holders "$ns")
    fi
    [ -z "$left" ] || fail "$what: namespace $ns of $(basename "$f") still held:"$'\n'"$left"
  done
  [ "$(ip netns list 2>/dev/null | sort)" = "$NETNS_BEFORE" ] ||
    fail "$what: ip netns list changed: $(ip netns list 2>&1)"
  left=$(ls -A "$TMPDIR")
  [ -z "$left" ] || fail "$what: temporary files left in TMPDIR: $left"
  left=$(find "$OUT" -path "$TMPDIR" -prune -o -type f ! -name '*.pcapng' ! -name '*.xml' \
         ! -name '*.netns' ! -name '*.pidns' ! -name '*.log' -print)
  [ -z "$left" ] || fail "$what: stray files in the output directory: $left"
}

# The server records its namespaces from inside, then daemonizes.
record() { echo "readlink /proc/self/ns/net > $OUT/$1-{family}.netns; readlink /proc/self/ns/pid > $OUT/$1-{family}.pidns"; }
DAEMON="sh -c \"$(record daemon); tcp-time-server --bind {host} --port {port} & sleep $MARK & exit 0\""
BACKGROUND="$(record background); sleep $MARK & exec tcp-time-server --bind {host} --port {port}"

# ---- 1. daemonizing servers pass and leave nothing --------------------------
for server in "$DAEMON" "$BACKGROUND"; do
  got=0
  WC_HYGIENE_TOKEN=$TOKEN "$W" run time-ipv4 --out "$OUT/runs" --server "$server" >"$OUT/run.log" 2>&1 || got=$?
  if [ "$got" = 2 ] && grep -q "cannot create a private network namespace" "$OUT/run.log"; then
    echo "hygiene: no namespaces here"; exit 77
  fi
  if [ "$got" != 0 ] || ! grep -q "1 passed, 0 failed" "$OUT/run.log"; then
    fail "wirecheck run --server '$server' exited $got:"; sed 's/^/    /' "$OUT/run.log"
  else
    echo "ok: daemonizing server passes: --server '$server'"
  fi
  ls "$OUT"/*.netns >/dev/null 2>&1 || fail "the server recorded no namespace (did it run?)"
  for f in "$OUT"/*.pidns; do
    [ "$(cat "$f")" != "$(readlink /proc/self/ns/pid)" ] ||
      fail "$(basename "$f"): the server ran in the host's PID namespace, not its own"
  done
  check_clean "after --server '$server'"
done

# ---- 2. SIGTERM to the runner while two cases run ---------------------------
rm -f "$OUT"/*.netns "$OUT"/*.pidns
WC_HYGIENE_TOKEN=$TOKEN "$W" run time-ipv4 time-ipv6 --jobs 2 --out "$OUT/term" --junit "$OUT/term/junit.xml" \
  --server "$DAEMON" --client "sleep $MARK" >"$OUT/term.log" 2>&1 &
runner=$!
# Both cases under way: two daemons and two hanging clients (4 sleeps).
for _ in $(seq 500); do
  [ "$(ours | grep -c "sleep $MARK")" -ge 4 ] && break
  sleep 0.01
done
before=$(ours | grep -c "sleep $MARK")
[ "$before" -ge 4 ] || fail "the two cases never had their 4 sleeps running (saw $before)"
kill -TERM "$runner"
got=0
wait "$runner" || got=$?
if [ "$got" != 143 ]; then
  fail "SIGTERM: wirecheck run exited $got, wanted 143"; sed 's/^/    /' "$OUT/term.log"
else
  echo "ok: SIGTERM -> exit 143 with $before processes of the cases running before"
fi
grep -q "^2 cases: 0 passed, 0 failed" "$OUT/term.log" || fail "no summary of what ran"
grep -q "interrupted by SIGTERM" "$OUT/term.log" || fail "the cases do not say they were interrupted"
grep -q 'tests="2" failures="0" errors="2"' "$OUT/term/junit.xml" 2>/dev/null ||
  fail "JUnit not written with the two interrupted cases"
for f in time-ipv4 time-ipv6; do
  [ -s "$OUT/term/$f.pcapng" ] || fail "no capture $f.pcapng of what ran"
done
[ "$(ls "$OUT"/*.netns 2>/dev/null | wc -l)" = 2 ] || fail "the servers recorded no namespaces"
check_clean "after SIGTERM"
[ "$failures" = 0 ] || { sed 's/^/    /' "$OUT/term.log"; echo "hygiene: $failures failures"; exit 1; }
echo "hygiene: all ok"
