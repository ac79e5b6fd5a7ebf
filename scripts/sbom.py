#!/usr/bin/env python3
"""Writes the CycloneDX 1.6 JSON SBOM of PHIGuard and prints its path as the last line of output.

What it lists:
- PHIGuard itself (metadata.component), version from `git describe --tags`, else 0.1.0-dev;
- every Swift package resolved for the build (`swift package show-dependencies --format json`; it
  runs `swift package resolve` first when Package.resolved is missing), license identified from the
  LICENSE file of the resolved checkout;
- the Debian runtime packages of the C libraries PHIGuard links, versions from dpkg-query, licenses
  from the machine-readable /usr/share/doc/NAME/copyright;
- the dependency graph, and a VEX statement for libsodium CVE-2025-69277 whose state follows the
  evidence found on this machine (see `libsodium_vex`).

The document is built and serialized with cyclonedx-python-lib (in .venv-interop); it does not
build the package (no `swift build`). scripts/sbom-check.py validates the result.
Usage: sbom.py [--output PATH]   (default .build/sbom/PHIGuard.cdx.json)
"""

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.contrib.this.builders import this_component as cyclonedx_library_component
from cyclonedx.model import ExternalReference, ExternalReferenceType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    ImpactAnalysisAffectedStatus,
    ImpactAnalysisJustification,
    ImpactAnalysisResponse,
    ImpactAnalysisState,
    Vulnerability,
    VulnerabilityAnalysis,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

ROOT = Path(__file__).resolve().parent.parent

# The runtime packages of the system libraries in Package.swift (CSodium: libsodium, CArgon2:
# libargon2, CQRencode: libqrencode; the -dev packages only carry headers and the link name).
LINKED_DEBIAN_PACKAGES = ["libsodium23", "libargon2-1", "libqrencode4"]

# DEP-5 short license names (as Debian copyright files spell them) -> SPDX identifiers.
DEP5_TO_SPDX = {
    "apache-2.0": "Apache-2.0",
    "bsd-2-clause": "BSD-2-Clause",
    "bsd-3-clause": "BSD-3-Clause",
    "cc0": "CC0-1.0",
    "cc0-1.0": "CC0-1.0",
    "expat": "MIT",
    "mit": "MIT",
    "isc": "ISC",
    "lgpl-2.1": "LGPL-2.1-only",
    "lgpl-2.1+": "LGPL-2.1-or-later",
    "gpl-2": "GPL-2.0-only",
    "gpl-2+": "GPL-2.0-or-later",
    "zlib": "Zlib",
}

CVE = "CVE-2025-69277"
# libsodium's public functions that reach ge25519_is_on_main_subgroup, the check the upstream fix
# (commit ad3004ec, "core_ed25519_is_valid_point: check Y==Z in addition to X==0") corrects.
CVE_AFFECTED_FUNCTIONS = [
    "crypto_core_ed25519_is_valid_point",
    "crypto_scalarmult_ed25519",  # also matches crypto_scalarmult_ed25519_noclamp
    "crypto_sign_ed25519_pk_to_curve25519",
    "ge25519_is_on_main_subgroup",
]


def run(*command: str) -> str:
    """Runs a command in the package root; its stderr goes to ours, its stdout is returned."""
    return subprocess.run(command, cwd=ROOT, check=True, text=True, stdout=subprocess.PIPE).stdout


def phiguard_version() -> str:
    try:
        described = subprocess.run(
            ["git", "describe", "--tags"], cwd=ROOT, text=True, capture_output=True, check=True
        ).stdout.strip()
        return described.removeprefix("v") or "0.1.0-dev"
    except (OSError, subprocess.CalledProcessError):
        return "0.1.0-dev"


def identify_license(text: str) -> str | None:
    """SPDX expression for a license text, or None when it is none of the few we recognise."""
    flat = " ".join(text.split())
    if "Apache License" in flat and "Version 2.0" in flat:
        # Swift's runtime library exception ("Runtime Library Exception" in the appendix).
        return "Apache-2.0 WITH Swift-exception" if "Runtime Library Exception" in flat else "Apache-2.0"
    if "Permission is hereby granted, free of charge" in flat:
        return "MIT"
    if "Redistribution and use in source and binary forms" in flat:
        return "BSD-3-Clause" if "Neither the name" in flat else "BSD-2-Clause"
    if "Permission to use, copy, modify, and/or distribute this software" in flat:
        return "ISC"
    return None


def checkout_license(checkout: Path) -> tuple[str | None, str | None, list[str]]:
    """(SPDX expression or None, license file name, NOTICE file names) of a resolved checkout."""
    names = sorted(p.name for p in checkout.iterdir() if p.is_file()) if checkout.is_dir() else []
    notices = [n for n in names if n.upper().startswith("NOTICE")]
    for name in names:
        if re.match(r"(LICEN[CS]E|COPYING)", name, re.IGNORECASE):
            return identify_license((checkout / name).read_text(errors="replace")), name, notices
    return None, None, notices


def swift_packages() -> tuple[list[dict], list[str]]:
    """Every resolved Swift package (with its direct dependencies' identities) and PHIGuard's direct ones."""
    if not (ROOT / "Package.resolved").exists() or not (ROOT / ".build" / "checkouts").is_dir():
        print("Package.resolved or checkouts missing: running swift package resolve", file=sys.stderr)
        subprocess.run([swift(), "package", "resolve"], cwd=ROOT, check=True, stdout=sys.stderr)
    graph = json.loads(run(swift(), "package", "show-dependencies", "--format", "json"))
    packages: dict[str, dict] = {}

    def walk(node: dict) -> None:
        for child in node["dependencies"]:
            packages[child["identity"]] = {
                "identity": child["identity"],
                "url": child["url"],
                "version": child["version"],
                "path": Path(child["path"]),
                "dependencies": [d["identity"] for d in child["dependencies"]],
            }
            walk(child)

    walk(graph)
    return sorted(packages.values(), key=lambda p: p["identity"]), [d["identity"] for d in graph["dependencies"]]


def swift() -> str:
    return os.environ.get("SWIFT", "swift")


def swift_component(package: dict) -> Component:
    match = re.match(r"https://(github\.com)/([^/]+)/([^/]+?)(\.git)?/?$", package["url"])
    if not match:
        sys.exit(f"error: {package['url']}: not a GitHub URL, no pkg:swift purl for it")
    host, owner, name = match.group(1), match.group(2), match.group(3)
    version = package["version"]
    if version in ("unspecified", ""):
        sys.exit(f"error: {package['identity']} is not pinned to a version (branch or revision pin)")
    license_id, license_file, notices = checkout_license(package["path"])
    properties = [Property(name="phiguard:license-source", value=license_file or "none found")]
    properties += [Property(name="phiguard:notice-file", value=n) for n in notices]
    return Component(
        type=ComponentType.LIBRARY,
        name=name,
        version=version,
        group=f"{host}/{owner}",
        purl=PackageURL(type="swift", namespace=f"{host}/{owner}", name=name, version=version),
        bom_ref=f"swift:{package['identity']}",
        licenses=[LicenseFactory().make_from_string(license_id)] if license_id else [],
        external_references=[ExternalReference(type=ExternalReferenceType.VCS, url=XsUri(package["url"]))],
        properties=properties,
    )


def debian_distro() -> str:
    fields = dict(
        line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line
    )
    return f"{fields.get('ID', 'debian').strip(chr(34))}-{fields.get('VERSION_ID', '').strip(chr(34))}"


def dep5_licenses(copyright_file: Path) -> tuple[str | None, list[str]]:
    """(SPDX expression of the `Files: *` stanza, other upstream files' DEP-5 license names)."""
    if not copyright_file.exists():
        return None, []
    text = copyright_file.read_text(errors="replace")
    if not text.startswith("Format:"):
        return None, []  # not machine-readable: do not guess
    main, others = None, []
    for stanza in re.split(r"\n\s*\n", text):
        files = re.search(r"^Files:\s*(.+)$", stanza, re.MULTILINE)
        license_line = re.search(r"^License:\s*(.+)$", stanza, re.MULTILINE)
        if not files or not license_line:
            continue
        if files.group(1).strip() == "*":
            main = license_line.group(1).strip()
        elif not files.group(1).strip().startswith("debian/") and license_line.group(1).strip() not in others:
            others.append(license_line.group(1).strip())
    if main is None:
        return None, others
    spdx = []
    for token in main.split():
        if token.lower() in ("or", "and"):
            spdx.append(token.upper())
        elif token.lower() in DEP5_TO_SPDX:
            spdx.append(DEP5_TO_SPDX[token.lower()])
        else:
            return None, others  # a name we cannot map: say unknown rather than guess
    return " ".join(spdx), [o for o in others if o != main]


def debian_component(package: str, distro: str) -> Component:
    fields = run("dpkg-query", "-W", "-f", "${Version}\t${Architecture}\t${Homepage}", package).split("\t")
    version, arch, homepage = fields
    license_id, other_licenses = dep5_licenses(Path("/usr/share/doc") / package / "copyright")
    properties = [Property(name="phiguard:license-source", value=f"/usr/share/doc/{package}/copyright")]
    if other_licenses:
        properties.append(Property(name="phiguard:other-file-licenses", value=", ".join(other_licenses)))
    return Component(
        type=ComponentType.LIBRARY,
        name=package,
        version=version,
        purl=PackageURL(
            type="deb", namespace="debian", name=package, version=version, qualifiers={"arch": arch, "distro": distro}
        ),
        bom_ref=f"deb:{package}",
        licenses=[LicenseFactory().make_from_string(license_id)] if license_id else [],
        external_references=(
            [ExternalReference(type=ExternalReferenceType.WEBSITE, url=XsUri(homepage))] if homepage else []
        ),
        properties=properties,
    )


def libsodium_vex(libsodium: Component) -> Vulnerability:
    """CVE-2025-69277 with the analysis state the evidence on this machine supports:
    resolved when the installed package's Debian changelog names the backported fix, else
    not_affected (code_not_reachable) when PHIGuard's sources call none of the affected functions,
    else in_triage."""
    changelog = Path("/usr/share/doc") / libsodium.name / "changelog.Debian.gz"
    entries = gzip.open(changelog, "rt", errors="replace").read() if changelog.exists() else ""
    # The changelog entry that names the CVE, its continuation lines joined ("* Backport ... fix for ...").
    fixed = re.search(r"^  \* [^*]*?" + CVE + r"[^*]*?(?=\n\s*\n|\n  \*)", entries, re.MULTILINE | re.DOTALL)
    callers = sorted(
        str(path.relative_to(ROOT))
        for folder in ("Sources", "Examples")
        for path in (ROOT / folder).rglob("*")
        if path.is_file()
        and path.suffix in (".swift", ".h", ".c", ".modulemap")
        and any(f in path.read_text(errors="replace") for f in CVE_AFFECTED_FUNCTIONS)
    )
    reach = (
        "PHIGuard's Sources/ and Examples/ call none of libsodium's functions that reach the faulty "
        f"main-subgroup check ({', '.join(CVE_AFFECTED_FUNCTIONS[:-1])}); libsodium's Ed25519 "
        "signature verification (crypto_sign_verify_detached) does not use that check."
        if not callers
        else f"PHIGuard's sources mention affected functions in: {', '.join(callers)}."
    )
    if fixed:
        analysis = VulnerabilityAnalysis(
            state=ImpactAnalysisState.RESOLVED,
            responses=[ImpactAnalysisResponse.UPDATE],
            detail=(
                f"The installed {libsodium.name} {libsodium.version} carries Debian's backport of the "
                f"upstream fix; its changelog says: \"{' '.join(fixed.group(0).split()).removeprefix('* ')}\" {reach}"
            ),
        )
        status = ImpactAnalysisAffectedStatus.UNAFFECTED
    elif not callers:
        analysis = VulnerabilityAnalysis(
            state=ImpactAnalysisState.NOT_AFFECTED,
            justification=ImpactAnalysisJustification.CODE_NOT_REACHABLE,
            detail=f"The installed package's changelog does not name {CVE}. {reach}",
        )
        status = ImpactAnalysisAffectedStatus.AFFECTED
    else:
        analysis = VulnerabilityAnalysis(state=ImpactAnalysisState.IN_TRIAGE, detail=reach)
        status = ImpactAnalysisAffectedStatus.AFFECTED
    return Vulnerability(
        bom_ref=f"vex:{CVE}",
        id=CVE,
        source=VulnerabilitySource(name="NVD", url=XsUri(f"https://nvd.nist.gov/vuln/detail/{CVE}")),
        description=(
            "libsodium's crypto_core_ed25519_is_valid_point() (ge25519_is_on_main_subgroup) could accept "
            "some points outside the main subgroup: the check tested only X == 0, not also Y == Z."
        ),
        affects=[BomTarget(ref=libsodium.bom_ref.value, versions=[BomTargetVersionRange(version=libsodium.version, status=status)])],
        analysis=analysis,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(ROOT / ".build" / "sbom" / "PHIGuard.cdx.json"))
    output = Path(parser.parse_args().output).resolve()

    bom = Bom()
    phiguard = Component(
        type=ComponentType.LIBRARY,
        name="PHIGuard",
        version=phiguard_version(),
        bom_ref="PHIGuard",
        description="Embeddable Swift library that guards protected health information (PHI).",
        licenses=[LicenseFactory().make_from_string("Apache-2.0")],
    )
    bom.metadata.component = phiguard
    bom.metadata.tools.components.add(cyclonedx_library_component())

    packages, direct = swift_packages()
    swift_components = {p["identity"]: swift_component(p) for p in packages}
    distro = debian_distro()
    debian_components = [debian_component(name, distro) for name in LINKED_DEBIAN_PACKAGES]
    for component in [*swift_components.values(), *debian_components]:
        bom.components.add(component)

    bom.register_dependency(phiguard, [swift_components[i] for i in direct] + debian_components)
    for package in packages:
        bom.register_dependency(
            swift_components[package["identity"]], [swift_components[i] for i in package["dependencies"]]
        )
    for component in debian_components:
        bom.register_dependency(component, [])

    libsodium = next(c for c in debian_components if c.name == "libsodium23")
    bom.vulnerabilities.add(libsodium_vex(libsodium))

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(JsonV1Dot6(bom).output_as_string(indent=2) + "\n")
    print(
        f"SBOM: {len(swift_components)} Swift packages, {len(debian_components)} Debian packages, "
        f"{len(bom.vulnerabilities)} VEX statement(s)"
    )
    print(output)  # the last line of output, whatever came before


if __name__ == "__main__":
    main()
