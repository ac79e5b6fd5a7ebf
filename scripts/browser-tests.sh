#!/usr/bin/env bash
# Real-browser end-to-end tests: Debian's headless Chromium (chromium + chromium-driver) driven by
# Selenium (pinned in scripts/interop-requirements.txt) against servers on loopback:
#   scripts/browser/quickstart_flows.py  HummingbirdQuickstart: TOTP sign-in, cookie flags, CSRF refusal
#   scripts/browser/portal_flows.py      Examples/WebPortal: sign-in, chart, IDOR, registration bypass,
#                                        CSRF from a second origin, break-glass and review, sign-out + Back
# Uses the debug build (`make test` already made it: this only links what is missing). Screenshots and the
# servers' logs go to $SHOTS (default .build/browser-screenshots). `make browser-tests` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
export SHOTS=${SHOTS:-.build/browser-screenshots}

started=$SECONDS
PHIGUARD_WITH_BROWSER=1 scripts/install-dependencies.sh
scripts/interop-venv.sh
installed=$SECONDS

"$SWIFT" build --product HummingbirdQuickstart
portal=(--skip-portal "no WebPortal product in Package.swift: the portal flows need Examples/WebPortal")
if grep -q 'name: "WebPortal"' Package.swift; then
    "$SWIFT" build --product WebPortal
    portal=(--portal "$("$SWIFT" build --show-bin-path)/WebPortal")
fi
built=$SECONDS

status=0
.venv-interop/bin/python scripts/browser/run.py \
    --quickstart "$("$SWIFT" build --show-bin-path)/HummingbirdQuickstart" "${portal[@]}" || status=$?
echo "browser-tests timing: install $((installed - started)) s, build $((built - installed)) s, browser $((SECONDS - built)) s"
exit $status
