#!/usr/bin/env bash
# `make test`'s runner: builds everything once, then runs the suites in two phases against the same
# throwaway PostgreSQL server (run it under scripts/with-test-postgres.sh):
#
#   1. every suite except the in-process PostgreSQL ones (names containing "Postgres");
#   2. the in-process PostgreSQL suites on their own.
#
# Why two phases: a PostgresClient makes progress only while its `run()` task gets a thread of the
# cooperative pool, which has one thread per core (two on CI). Running beside hundreds of CPU-bound
# tests (Argon2id, policy differentials, memory scans) it was starved past its 30 s deadlines:
# stop 21's CI failure was `PostgresBackupTests.verifiedRoundTrip` with DeadlineExceeded. Both
# phases always run; the exit status is the first failing phase's. Each phase keeps its whole log
# in .build/ and repeats its failures at the end (scripts/swift-test-summary.sh).
set -uo pipefail
swift=${SWIFT:-swift}
postgres_suites=Postgres
"$swift" build --build-tests || exit $?
status=0
TEST_LOG=.build/test-output.log scripts/swift-test-summary.sh \
    "$swift" test --skip-build --skip "$postgres_suites" || status=$?
TEST_LOG=.build/test-output-postgres.log scripts/swift-test-summary.sh \
    "$swift" test --skip-build --filter "$postgres_suites" || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
exit "$status"
