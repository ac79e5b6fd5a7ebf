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
shopt -s nullglob
for script in "$here"/*.py; do
    echo "== $(basename "$script")"
    "$venv/bin/python" "$script"
done
