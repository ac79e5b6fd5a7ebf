#!/usr/bin/env python3
"""Fails when Package.swift and the code disagree about what each target uses.

For every Swift target (library, executable, test) it compares the modules the target's files
import with the dependencies the manifest declares for it:
  - an imported module that no declared dependency provides      -> "imports X but does not declare it"
  - a declared dependency whose modules no file imports          -> "declares X but never imports it"
    (executables that a test target builds and runs are exempt: they are build-only dependencies)
  - the umbrella `PHIGuard` must re-export (`@_exported`) exactly what it depends on, and must not
    depend on a storage backend or the web adapter.
The manifest is read with `swift package dump-package` (no build). Usage: check-manifest.py [SWIFT]
"""

import json
import os
import re
import subprocess
import sys

# Modules of the toolchain and the operating system: always there, never declared.
SYSTEM_MODULES = {
    "Foundation", "FoundationEssentials", "FoundationNetworking", "Dispatch", "Glibc", "Musl", "Darwin",
    "Android", "WinSDK", "ucrt", "Synchronization", "_Concurrency", "Observation", "RegexBuilder",
    "Testing", "XCTest", "os",
}

# Products whose modules differ from the product's name (name -> modules it makes importable).
PRODUCT_MODULES = {
    "Metrics": {"Metrics", "CoreMetrics"},
}

# The umbrella never links these (they are products of their own).
NOT_IN_UMBRELLA = {"PHIGuardSQLite", "PHIGuardPostgres", "PHIGuardHummingbird", "PHIGuardTesting", "PHIGuardTOTPQRCode"}

IMPORT = re.compile(
    r"^\s*(?P<attrs>(?:@\w+(?:\([^)]*\))?\s+)*)"
    r"(?:(?:public|package|internal|fileprivate|private)\s+)?import\s+"
    r"(?:(?:struct|class|enum|protocol|typealias|func|let|var)\s+)?(?P<module>[A-Za-z_][A-Za-z0-9_]*)"
)


def imports_of(folder, exclude):
    """{module: [(file, line, exported)]} for every Swift file under folder."""
    found = {}
    for root, _, files in os.walk(folder):
        for name in sorted(files):
            path = os.path.join(root, name)
            if not name.endswith(".swift") or any(path.startswith(os.path.join(folder, e)) for e in exclude):
                continue
            with open(path, encoding="utf-8") as source:
                in_string = False  # inside a multi-line string literal (embedded Python, say)
                for number, line in enumerate(source, 1):
                    if line.count('"""') % 2 == 1:
                        in_string = not in_string
                        continue
                    match = None if in_string else IMPORT.match(line)
                    if match:
                        exported = "@_exported" in match.group("attrs")
                        found.setdefault(match.group("module"), []).append((path, number, exported))
    return found


def main():
    swift = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SWIFT", "swift")
    manifest = json.loads(subprocess.run(
        [swift, "package", "dump-package"], check=True, capture_output=True, text=True).stdout)
    targets = {t["name"]: t for t in manifest["targets"]}
    problems = []

    for name, target in sorted(targets.items()):
        if target["type"] in ("system", "binary", "plugin", "macro"):
            continue
        default_root = "Tests" if target["type"] == "test" else "Sources"
        folder = target.get("path") or os.path.join(default_root, name)
        imported = imports_of(folder, target.get("exclude", []))

        provides = {}  # dependency name -> modules it makes importable
        for dependency in target["dependencies"]:
            kind, values = next(iter(dependency.items()))
            dep = values[0]
            if kind == "product":
                provides[dep] = PRODUCT_MODULES.get(dep, {dep})
            else:  # "target" or "byName" (a target of this package, or a product named like its module)
                provides[dep] = PRODUCT_MODULES.get(dep, {dep})
        available = set().union(*provides.values()) if provides else set()

        for module, places in sorted(imported.items()):
            if module in SYSTEM_MODULES or module == name or module in available:
                continue
            path, line, _ = places[0]
            problems.append(f"{path}:{line}: target {name} imports {module} but does not declare it")

        for dep, modules in sorted(provides.items()):
            if modules & set(imported):
                continue
            if targets.get(dep, {}).get("type") == "executable" and target["type"] == "test":
                continue  # built for the test to run, never imported
            problems.append(f"Package.swift: target {name} declares {dep} but never imports it")

        if name == "PHIGuard":
            exported = {m for m, places in imported.items() if any(e for _, _, e in places)}
            declared = set(provides)
            for dep in sorted(declared - exported):
                problems.append(f"Package.swift: the umbrella links {dep} but does not re-export it")
            for dep in sorted(exported - declared):
                problems.append(f"{folder}: the umbrella re-exports {dep} without declaring it")
            for dep in sorted(declared & NOT_IN_UMBRELLA):
                problems.append(f"Package.swift: the umbrella must not link {dep} (a product of its own)")

    if problems:
        print("check-manifest: Package.swift and the imports disagree:", file=sys.stderr)
        for problem in problems:
            print("  " + problem, file=sys.stderr)
        sys.exit(1)
    print(f"check-manifest: {len(targets)} targets, every import declared and every dependency used")


if __name__ == "__main__":
    main()
