#!/usr/bin/env bash
# `make demo`: a scripted walk through the patient portal (Examples/PatientPortal) on a real SQLite
# file in a temporary directory, ending with `phiguard audit verify`, a FHIR export of its audit log,
# `phiguard doctor` on the deployment and `phiguard audit report` (text, and an HTML page).
set -euo pipefail

SWIFT=${SWIFT:-swift}
cd "$(dirname "$0")/.."
REPO=$(pwd)

echo "== Building PatientPortal and phiguard (once)"
"$SWIFT" build --product PatientPortal
"$SWIFT" build --product phiguard
BIN=$("$SWIFT" build --show-bin-path)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/phiguard-portal-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
portal() { "$BIN/PatientPortal" "$@"; }
# Runs a step that must be refused; shows its one-line public message and exit status.
refused() {
    local status=0
    "$BIN/PatientPortal" "$@" || status=$?
    if [ "$status" -eq 0 ]; then
        echo "DEMO FAILED: '$*' should have been refused" >&2
        exit 1
    fi
    echo "   (refused, exit status $status)"
}
step() { printf '\n== %s\n' "$*"; }

# DEMO ONLY: one made-up password for every seeded account, typed on stdin (never in argv).
PASSWORD="riverside-demo-$RANDOM-$RANDOM"

step "init: database, keys (0600) and a demo world in $WORK"
printf '%s\n' "$PASSWORD" | portal init
ls -l portal-keys | sed 's/^/   /'

step "alice signs in: password, then the code her authenticator shows (demo helper)"
CODE=$(portal totp-code --account alice 2>/dev/null)
printf '%s\n%s\n' "$PASSWORD" "$CODE" | portal login --user alice
portal whoami

step "alice reads her own chart (allowed, audited before anything is decrypted)"
portal chart

step "alice asks for bob's chart p-2 (IDOR): refused, same answer as a chart that does not exist"
refused chart --patient p-2
refused chart --patient p-404

step "alice's sessions"
portal sessions

step "alice signs out"
portal logout

step "OpenEMR CVE-2018-15152: begin a registration, then use that session to read a chart"
portal register begin
portal whoami || true
refused chart --patient p-1

step "a wrong password and an unknown user get the identical answer"
printf 'not-the-password\n' | portal login --user alice || true
printf 'not-the-password\n' | portal login --user mallory || true
portal logout

step "phiguard audit verify on the portal's database"
"$BIN/phiguard" audit verify --sqlite portal.sqlite --keys portal-keys

step "phiguard audit export --format fhir (one FHIR R4 AuditEvent per line; kinds and outcomes shown)"
"$BIN/phiguard" audit export --sqlite portal.sqlite --format fhir --source-id patient-portal >audit.ndjson
wc -l <audit.ndjson | sed 's/^/   AuditEvent resources: /'
sed -E 's/.*"subtype":\[\{"code":"([^"]+)".*/   \1/' audit.ndjson | sort | uniq -c

step "the database holds no password, token or PHI in clear"
TOKEN_SEEN=no
for needle in "$PASSWORD" "Alice Example" "Salbutamol"; do
    if grep -q -- "$needle" portal.sqlite; then TOKEN_SEEN=yes; echo "   FOUND: $needle" >&2; fi
done
[ "$TOKEN_SEEN" = no ] && echo "   none of the password, a patient's name or a medication appears in portal.sqlite"

step "phiguard doctor on the portal's deployment (keys, database mode, policy, Argon2, sessions)"
# The portal's settings: PasswordHasher() defaults (OWASP m=19456 t=2 p=1), LoginConfiguration()
# defaults (15 min idle, 8 h absolute), the policy it ships with, its two 128-bit unique login-name
# indexes. It writes no checkpoint witness, so the doctor warns about that (exit 1): errors fail the demo.
cat >phiguard.yaml <<YAML
keys: portal-keys
database: portal.sqlite
policy: $REPO/Examples/Policies/hospital.yaml
passwords: {memoryKiB: 19456, iterations: 2, parallelism: 1}
sessions: {idleTimeout: 15m, absoluteLifetime: 8h}
blindIndexes:
  - {name: login-name, bits: 128, population: 100000, unique: true}
  - {name: login-skeleton, bits: 128, population: 100000, unique: true}
YAML
DOCTOR=0
"$BIN/phiguard" doctor --config phiguard.yaml >doctor.txt || DOCTOR=$?
sed 's/^/   /' doctor.txt
echo "   (phiguard doctor exit status $DOCTOR: 0 clean, 1 warnings only, 2 errors)"
[ "$DOCTOR" -le 1 ] || { echo "DEMO FAILED: phiguard doctor found errors" >&2; exit 1; }

step "phiguard audit report on the portal's log (per user, per patient, break-glass, alerts; also an HTML page)"
"$BIN/phiguard" audit report --sqlite portal.sqlite --since 1d --format text | sed 's/^/   /'
# The demo's folder is removed at exit, so the auditor's HTML page is kept in the build folder.
REPORT="$REPO/.build/portal-demo-audit-report.html"
"$BIN/phiguard" audit report --sqlite portal.sqlite --since 1d --format html --output "$REPORT"
echo "   the auditor's page: $REPORT (self-contained: inline SVG charts, no scripts)"

printf '\nDemo complete.\n'
