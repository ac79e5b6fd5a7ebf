#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster on a loopback port, then stops and deletes it.
#
#   scripts/with-test-postgres.sh swift test
#
# The server accepts TLS only (pg_hba.conf has `hostssl` lines and nothing else), with a certificate
# for localhost and 127.0.0.1 from a throwaway CA made here with openssl. The command sees
#
#   PHIGUARD_POSTGRES_URL=postgres://phiguard@127.0.0.1:PORT/phiguard?sslmode=verify-full&sslrootcert=CA
#   PHIGUARD_TEST_POSTGRES_CA=CA               the throwaway CA (PEM) that signed the server certificate
#   PHIGUARD_TEST_POSTGRES_WRONG_CA=OTHER      a second throwaway CA that signed nothing the server has
#   PHIGUARD_TEST_POSTGRES_DATA=DIR            the server's data directory (readable by the tests: the
#                                              attack suite scans its relation files and WAL at rest)
#
# (trust auth, loopback only). If PHIGUARD_POSTGRES_URL is already set, the command runs against that
# server and the other variables are passed through as they are.
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
    if ! id postgres >/dev/null 2>&1; then
        # A `postgres` group left without its user (the user was removed) makes a plain useradd fail.
        if getent group postgres >/dev/null; then
            useradd --system --no-create-home -g postgres postgres
        else
            useradd --system --no-create-home postgres
        fi
    fi
    chown postgres "$datadir"
    as_owner=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
    "${as_owner[@]}" "$bindir/pg_ctl" -D "$datadir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$datadir"
}
trap cleanup EXIT

# Throwaway CAs (P-256, valid 2 days): `ca` signs the server certificate, `wrong-ca` signs nothing.
tls="$datadir/tls"
mkdir "$tls"
make_ca() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=PHIGuard test $1" \
        -keyout "$tls/$1.key" -out "$tls/$1.pem" >/dev/null 2>&1
}
make_ca ca
make_ca wrong-ca
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
    -keyout "$tls/server.key" -out "$tls/server.csr" >/dev/null 2>&1
printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$tls/server.ext"
openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial -days 2 \
    -extfile "$tls/server.ext" -out "$tls/server.pem" >/dev/null 2>&1
rm -f "$tls/ca.key" "$tls/wrong-ca.key" "$tls/server.csr" "$tls/server.ext" "$tls/ca.srl"
chmod 600 "$tls/server.key"
[ ${#as_owner[@]} -gt 0 ] && chown -R postgres "$tls"

"${as_owner[@]}" "$bindir/initdb" -D "$datadir/data" -U phiguard --auth=trust -E UTF8 >"$datadir/initdb.log" 2>&1 \
    || { cat "$datadir/initdb.log" >&2; exit 1; }
# TLS only: no `local` or `host` lines, so a connection without TLS finds no entry and is refused.
printf '%s\n' "hostssl all all 127.0.0.1/32 trust" "hostssl all all ::1/128 trust" >"$datadir/data/pg_hba.conf"
options="-c listen_addresses=127.0.0.1 -p $port -k $datadir -c max_connections=200 -c fsync=off"
options+=" -c ssl=on -c ssl_cert_file=$tls/server.pem -c ssl_key_file=$tls/server.key"
"${as_owner[@]}" "$bindir/pg_ctl" -D "$datadir/data" -l "$datadir/server.log" -w -o "$options" start >/dev/null \
    || { cat "$datadir/server.log" >&2; exit 1; }
PGSSLMODE=verify-full PGSSLROOTCERT="$tls/ca.pem" \
    "$bindir/psql" -q -h 127.0.0.1 -p "$port" -U phiguard -d postgres -c "CREATE DATABASE phiguard" >/dev/null

export PHIGUARD_POSTGRES_URL="postgres://phiguard@127.0.0.1:$port/phiguard?sslmode=verify-full&sslrootcert=$tls/ca.pem"
export PHIGUARD_TEST_POSTGRES_CA="$tls/ca.pem"
export PHIGUARD_TEST_POSTGRES_WRONG_CA="$tls/wrong-ca.pem"
export PHIGUARD_TEST_POSTGRES_DATA="$datadir/data"
echo "PostgreSQL test server on 127.0.0.1:$port, TLS only (data and throwaway CA in $datadir)"
set +e
"$@"
status=$?
set -e
exit $status
