#!/usr/bin/env bash
# Creates .venv-interop with the peer libraries the interop and differential tests compare against,
# and the CycloneDX library the SBOM scripts use.
# The peers are pinned to the versions the shared test vectors were checked with (Tests/Fixtures/SOURCES.md).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-interop
requirements=scripts/interop-requirements.txt
stamp="$venv/.installed-$(sha256sum "$requirements" | cut -c1-16)"
[ -f "$stamp" ] && exit 0
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
touch "$stamp"
