#!/usr/bin/env bash
# Converts every DocC catalog with the toolchain's `docc` and fails on any warning (broken symbol
# links, undocumented parameters, an article that shadows a symbol). Builds in .build-docs so the
# symbol graphs do not disturb the normal build. With module names as arguments
# (`scripts/check-docs.sh PHIGuardAudit PHIGuardRecords`), converts only those catalogs.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
graphs=$(mktemp -d)
trap 'rm -rf "$graphs"' EXIT
status=0
catalogs=(Sources/*/*.docc)
if [ $# -gt 0 ]; then
    catalogs=()
    for module in "$@"; do catalogs+=("Sources/$module/$module.docc"); done
fi
for catalog in "${catalogs[@]}"; do
    module=$(basename "$catalog" .docc)
    "$SWIFT" build --scratch-path .build-docs --target "$module" \
        -Xswiftc -emit-symbol-graph -Xswiftc -emit-symbol-graph-dir -Xswiftc "$graphs/all" >/dev/null
    rm -rf "$graphs/module" && mkdir -p "$graphs/module"
    cp "$graphs/all/$module".symbols.json "$graphs/module/"
    cp "$graphs/all/$module"@*.symbols.json "$graphs/module/" 2>/dev/null || true
    warnings=$(docc convert "$catalog" --additional-symbol-graph-dir "$graphs/module" --analyze \
        --output-path "$graphs/out-$module" 2>&1 | grep -E '^warning' || true)
    if [ -n "$warnings" ]; then
        echo "$module: DocC warnings" >&2
        echo "$warnings" >&2
        status=1
    else
        echo "$module: documentation builds without warnings"
    fi
done
exit $status
