#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster on a loopback port, then stops and deletes it.
#
#   scripts/with-test-postgres.sh swift test
#
# The command sees PHIGUARD_POSTGRES_URL=postgres://phiguard@127.0.0.1:PORT/phiguard (trust auth,
# loopback only). If PHIGUARD_POSTGRES_URL is already set, the command runs against that server.
# The cluster runs as a non-root user (the `postgres` account the Debian package creates) when
# this script runs as root, because PostgreSQL refuses to run as root.
set -euo pipefail

if [ -n "${PHIGUARD_POSTGRES_URL:-}" ]; then exec "$@"; fi

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "error: PostgreSQL server binaries not found (install the Debian package 'postgresql')" >&2
    exit 1
fi

as_owner=()
datadir=$(mktemp -d /tmp/phiguard-pg.XXXXXX)
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$datadir"
    as_owner=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
    "${as_owner[@]}" "$bindir/pg_ctl" -D "$datadir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$datadir"
}
trap cleanup EXIT

"${as_owner[@]}" "$bindir/initdb" -D "$datadir/data" -U phiguard --auth=trust -E UTF8 >"$datadir/initdb.log" 2>&1 \
    || { cat "$datadir/initdb.log" >&2; exit 1; }
"${as_owner[@]}" "$bindir/pg_ctl" -D "$datadir/data" -l "$datadir/server.log" -w -o \
    "-c listen_addresses=127.0.0.1 -p $port -k $datadir -c max_connections=200 -c fsync=off" start >/dev/null \
    || { cat "$datadir/server.log" >&2; exit 1; }
"$bindir/psql" -q -h 127.0.0.1 -p "$port" -U phiguard -d postgres -c "CREATE DATABASE phiguard" >/dev/null

export PHIGUARD_POSTGRES_URL="postgres://phiguard@127.0.0.1:$port/phiguard"
echo "PostgreSQL test server on 127.0.0.1:$port (data in $datadir)"
set +e
"$@"
status=$?
set -e
exit $status
