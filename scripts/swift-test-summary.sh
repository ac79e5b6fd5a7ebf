#!/usr/bin/env bash
# Runs `swift test ARGS...`, keeps its whole output in .build/test-output.log, and, when the run
# fails, prints the failing tests and their recorded issues again at the very end: CI shows only the
# tail of a long log, and the first failure of 650 tests is otherwise thousands of lines up.
#
#   scripts/swift-test-summary.sh swift test --skip-build
set -uo pipefail
log=${TEST_LOG:-.build/test-output.log}
mkdir -p .build
"$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo
    echo "=== failing tests and their issues (whole log: $log) ==="
    # Swift Testing marks failures with ✘ and issues with "recorded an issue"; XCTest with "error:".
    grep -n -A4 -E '✘|recorded an issue|: error: |Fatal error|Test Case .* failed' "$log" | head -n 120
    echo "=== exit status $status ==="
fi
exit "$status"
