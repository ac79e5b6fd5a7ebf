#!/usr/bin/env bash
# Authenticated chart reads per second over HTTP on loopback (issue 17's figure):
#   guarded: GET /api/charts/c-alice on the quickstart, through PHIGuardHummingbird's whole stack
#            (security headers, client address, session resume from SQLite, problem responder, CSRF,
#            per-account rate limit) and GuardedRecords.read (decision, audit record committed to the
#            SQLite file — WAL, synchronous=FULL — before the fields are decrypted);
#   plain:   GET /plain/charts/c-alice on the same process, a bare Hummingbird handler that fetches the
#            same row from the same SQLite table and decrypts it (no session, no decision, no audit).
# Both with wrk (Debian's; installed if missing), 2 threads, 32 connections, in the same run.
#
#   Benchmarks/http/run.sh                      # release build, 20 s per route
#   CONFIG=debug DURATION=10s Benchmarks/http/run.sh
#   QUICKSTART_BIN=.build/release/HummingbirdQuickstart Benchmarks/http/run.sh   # a built binary, no build
#   SERVER_ARGS="--idle-refresh-seconds 0" Benchmarks/http/run.sh  # write the session's idle limit on every read
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${CONFIG:-release}
DURATION=${DURATION:-20s}
GUARDED_PORT=${GUARDED_PORT:-18080}
PLAIN_PORT=${PLAIN_PORT:-18081}
SWIFT=${SWIFT:-swift}

if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi

if [ -n "${QUICKSTART_BIN:-}" ]; then
    bin=$QUICKSTART_BIN
else
    "$SWIFT" build -c "$CONFIG" --product HummingbirdQuickstart >&2
    bin="$("$SWIFT" build -c "$CONFIG" --show-bin-path)/HummingbirdQuickstart"
fi

work=$(mktemp -d)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# The per-account limit is raised so that the limiter is checked on every request but never refuses.
"$bin" --port "$GUARDED_PORT" --plain-port "$PLAIN_PORT" --database "$work/portal.sqlite" \
    --per-account-limit 1000000 ${SERVER_ARGS:-} >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do
    grep -q "Plain baseline" "$work/server.log" 2>/dev/null && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.2
done
sleep 0.5

# Sign in as alice through HTTP: password, then the TOTP code from her printed authenticator.
cookie=$(python3 "$(dirname "$0")/sign-in.py" "$GUARDED_PORT" "$work/server.log" alice)
header="Cookie: __Host-phiguard-session=$cookie"
guarded_url="http://127.0.0.1:$GUARDED_PORT/api/charts/c-alice"
plain_url="http://127.0.0.1:$PLAIN_PORT/plain/charts/c-alice"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "$header" "$guarded_url")
[ "$status" = 200 ] || { echo "guarded route answered $status" >&2; exit 1; }
status=$(curl -s -o /dev/null -w '%{http_code}' "$plain_url")
[ "$status" = 200 ] || { echo "plain route answered $status" >&2; exit 1; }

run() { # name, url, extra wrk args...
    local name=$1 url=$2
    shift 2
    wrk -t2 -c32 -d3s "$@" "$url" >/dev/null # warm-up
    wrk -t2 -c32 -d"$DURATION" --latency "$@" "$url" >"$work/$name.txt"
    cat "$work/$name.txt" >&2
}
run guarded "$guarded_url" -H "$header"
run plain "$plain_url"

rps() { awk '/^Requests\/sec:/ {print $2}' "$work/$1.txt"; }
p99() { awk '$1 == "99%" {print $2}' "$work/$1.txt"; }
errors() { awk '/Non-2xx or 3xx responses:/ {n = $5} END {print n + 0}' "$work/$1.txt"; }
guarded=$(rps guarded)
plain=$(rps plain)
echo
echo "HTTP chart reads ($CONFIG build, wrk -t2 -c32 -d$DURATION, loopback${SERVER_ARGS:+, server $SERVER_ARGS})"
echo "  guarded (PHIGuardHummingbird + durable SQLite audit): $guarded req/s, p99 $(p99 guarded), non-2xx: $(errors guarded)"
echo "  plain   (bare Hummingbird handler, same row):         $plain req/s, p99 $(p99 plain), non-2xx: $(errors plain)"
awk -v g="$guarded" -v p="$plain" 'BEGIN { printf "  ratio guarded/plain: %.1f%% (goal: at least 50%%)\n", 100 * g / p }'
