#!/usr/bin/env bash
# Runs every peer benchmark script in this folder (Python, in their own virtualenv).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/../.venv-bench"
stamp="$venv/.installed-$(sha256sum "$here/requirements.txt" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    touch "$stamp"
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
shopt -s nullglob
for script in "$here"/*.py; do
    name=$(basename "$script")
    echo "== $name"
    case "$name" in
        # The policy world's generated artifacts go to a scratch folder; Cedar's per-request path
        # takes minutes for 100,000 requests, so it is timed on the first 5,000 (the ratio is per request).
        authz_world.py) "$venv/bin/python" "$script" --out "$scratch/authz_world_out" --cedar-n 5000 ;;
        *) "$venv/bin/python" "$script" ;;
    esac
done
