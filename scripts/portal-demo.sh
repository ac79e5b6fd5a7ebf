#!/usr/bin/env bash
# `make demo`: a scripted walk through the patient portal (Examples/PatientPortal) on a real SQLite
# file in a temporary directory (seven attacks narrated step by step), then every attack of the shipped
# PHIGuardAttackSuite against a sandbox portal (`PatientPortal attack-suite`), `phiguard audit verify`,
# a FHIR export of its audit log, `phiguard doctor` on the deployment and `phiguard audit report`
# (text, and an HTML page). It fails (non-zero) when any attack is not blocked.
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

# Signs USER in at their own workstation: the password, then the code their authenticator shows
# (demo helper). Rate limits count per workstation address (and per account).
signin() {
    local code
    code=$(portal totp-code --account "$1" 2>/dev/null)
    printf '%s\n%s\n' "$PASSWORD" "$code" | portal login --user "$1" --client-address "ws-$1"
}
# The walk-through's summary: one row per attack narrated.
SUMMARY=()
blocked() { SUMMARY+=("$1|blocked"); }

step "init: database, keys (0600) and a demo hospital (300 made-up patients, staff in every role) in $WORK"
printf '%s\n' "$PASSWORD" | portal init
ls -l portal-keys | sed 's/^/   /'

step "alice (patient) signs in: password, then the code her authenticator shows (demo helper)"
signin alice
portal whoami

step "alice reads her own chart (allowed, audited before anything is decrypted)"
portal chart show

step "alice's sessions"
portal sessions list

step "dr.grey (physician) lists the patients on his care team (policy compiled to SQL, one audited page)"
signin dr.grey
portal patients --limit 5

step "dr.grey updates alice's medications (a field the policy lets physicians write)"
echo "Salbutamol inhaler as needed; Montelukast 10 mg nightly" | portal chart update p-1 --field medications
portal chart show p-1 | grep medications

step "bill.bea (billing clerk) sees a redacted chart: demographics, contact, insurance, billing only"
signin bill.bea
portal chart show p-1

step "desk.dan (front desk) finds a patient by name (blind index, exact, any case)"
signin desk.dan
portal search --name "bob sample"
echo "   the contact fields of a chart are the front desk's from 06:00 to 22:00 (policy time zone) only:"
if portal chart show p-2 >/dev/null 2>&1; then echo "   (inside opening hours: allowed)"; else echo "   (outside opening hours now: refused)"; fi

step "nurse.joy (nurse) needs bob's chart p-2, not on her care team: refused, then break-the-glass"
signin nurse.joy
refused chart show p-2
portal break-glass --patient p-2 --reason ETREAT --justification "Found unresponsive in the waiting room"
portal chart show p-2 | head -3
echo "   bob's notes under the same grant: the substance-use note stays with the physician (policy deny wins)"
portal notes p-2

step "clinical notes: dr.grey sees alice's psychotherapy note; nurse.joy, on the same care team, does not"
portal notes p-1
signin dr.grey
portal notes p-1

step "audit.ada (auditor) reviews the break-glass queue: the grant and every use"
signin audit.ada
portal break-glass review
GRANT=$(portal break-glass review | sed -nE 's/^  ([0-9a-f-]{36}) .*/\1/p' | head -1)
portal break-glass review --grant "$GRANT" --outcome justified
portal logout

step "ATTACK IDOR: alice asks for bob's chart p-2: refused, same answer as a chart that does not exist"
signin alice
refused chart show p-2
refused chart show p-404
blocked "IDOR: a patient reads another patient's chart"

step "ATTACK: alice, a patient, tries a staff action (clinical chart update, break-glass review)"
echo "None" | refused chart update p-1 --field problems
refused break-glass review
blocked "Patient invokes staff-only actions"
portal logout

step "ATTACK: an admin who is also a physician opens a chart on his care team (explicit deny wins)"
signin dr.admin
refused chart show p-1
blocked "Admin who is also a physician opens a chart"
portal logout

step "ATTACK OpenEMR CVE-2018-15152: begin a registration, then use that session to read a chart"
portal register begin
portal whoami || true
refused chart show p-1
refused patients
blocked "Registration session reads PHI (CVE-2018-15152)"

step "ATTACK: search with SQL and wildcards as the front desk: inert literals, nothing matches"
signin desk.dan
portal search --name "' OR 1=1 --"
portal search --name "%"
blocked "SQL injection / wildcards in search"
portal logout

step "ATTACK: a wrong password and an unknown user get the identical answer"
printf 'not-the-password\n' | portal login --user alice || true
printf 'not-the-password\n' | portal login --user mallory || true
blocked "Sign-in oracle (known vs unknown user)"
portal logout

step "phiguard audit verify on the portal's database, against its checkpoint witness file (a cut log is caught)"
"$BIN/phiguard" audit verify --sqlite portal.sqlite --keys portal-keys --witness portal.sqlite.audit-witness

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
blocked "Data at rest: PHI or password in clear in the file"

step "every attack of PHIGuardAttackSuite (the shipped product) against the portal's service layer, in a sandbox"
# A separate sandbox portal (its own SQLite file, keys and 12 patients, on a test clock), deleted
# afterwards; exit status 2 when any attack is not blocked. The summary below shows its table.
SUITE=0
portal attack-suite --json attacks.json | tee attack-suite.txt | sed 's/^/   /' || SUITE=$?

step "phiguard doctor on the portal's deployment (keys, database mode, policy, Argon2, sessions)"
# The portal's settings: PasswordHasher() defaults (OWASP m=19456 t=2 p=1), LoginConfiguration()
# defaults (15 min idle, 8 h absolute), the policy it ships with, the patient index's deliberately
# short blind indexes (name 16 bits, birth date 12, MRN 20; collisions are re-checked after decryption). It writes no checkpoint witness, so the doctor warns about that (exit 1): errors fail the demo.
cat >phiguard.yaml <<YAML
keys: portal-keys
database: portal.sqlite
policy: $REPO/Examples/Policies/hospital.yaml
passwords: {memoryKiB: 19456, iterations: 2, parallelism: 1}
sessions: {idleTimeout: 15m, absoluteLifetime: 8h}
blindIndexes:
  - {name: patient-name, bits: 16, population: 300}
  - {name: patient-birth-date, bits: 12, population: 300}
  - {name: patient-mrn, bits: 20, population: 300}
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

step "summary: the attacks walked through above"
printf '   %-50s %s\n' "attack" "result"
for row in "${SUMMARY[@]}"; do printf '   %-50s %s\n' "${row%%|*}" "${row##*|}"; done

step "summary: every attack of the suite (PatientPortal attack-suite; the JSON report is attacks.json)"
# The report table: from its header line to its totals line.
sed -n '/^attack  *attempts  verdict$/,/^[0-9][0-9]* attacks: /p' attack-suite.txt | sed 's/^/   /'
if [ "$SUITE" -ne 0 ]; then
    echo "DEMO FAILED: an attack was not blocked (PatientPortal attack-suite exit status $SUITE)" >&2
    exit 1
fi

printf '\nDemo complete: every attack blocked.\n'
