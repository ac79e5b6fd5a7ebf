#!/usr/bin/env python3
"""Fails when a document cites a test that does not exist.

Documentation/HIPAA.md and Documentation/ThreatModel.md name the tests that prove each claim as
`SuiteType/function` in backticks (the form `swift test --filter` accepts). This script collects every
such citation and checks, in Tests/, that `SuiteType` is declared (struct, class, enum or an
extension of one) and that `function` is a test inside that declaration's body: a Swift Testing
`@Test` function, or an XCTest `test…` method. A bare `SuiteType` in backticks is not a citation
(it may be a library type); cite a suite's tests one by one.

Usage: scripts/check-doc-test-names.py [DOCUMENT …]   (default: HIPAA.md and ThreatModel.md)
"""

import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_DOCUMENTS = ["Documentation/HIPAA.md", "Documentation/ThreatModel.md"]
CITATION = re.compile(r"`([A-Z][A-Za-z0-9_]*)/([a-z][A-Za-z0-9_]*)(?:\(\))?`")
DECLARATION = r"(?:struct|class|enum|actor|extension)\s+{name}\b[^{{]*\{{"


def strip_comments_and_strings(source: str) -> str:
    """Blanks out comments and string literals (keeping newlines), so their braces do not count."""
    out = []
    i = 0
    n = len(source)
    while i < n:
        if source.startswith("//", i):
            j = source.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif source.startswith("/*", i):
            j = source.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", source[i:j]))
            i = j
        elif source.startswith('"""', i):
            j = source.find('"""', i + 3)
            j = n if j < 0 else j + 3
            out.append(re.sub(r"[^\n]", " ", source[i:j]))
            i = j
        elif source[i] == '"':
            j = i + 1
            while j < n and source[j] != '"' and source[j] != "\n":
                j += 2 if source[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(" " * (j - i))
            i = j
        else:
            out.append(source[i])
            i += 1
    return "".join(out)


def bodies(source: str, type_name: str):
    """The text of every body declaring or extending `type_name`."""
    for match in re.finditer(DECLARATION.format(name=re.escape(type_name)), source):
        depth = 1
        i = match.end()
        while i < len(source) and depth > 0:
            depth += {"{": 1, "}": -1}.get(source[i], 0)
            i += 1
        yield source[match.end() : i]


def test_exists(sources, type_name: str, function: str) -> bool:
    for text in sources:
        for body in bodies(text, type_name):
            for found in re.finditer(r"\bfunc\s+" + re.escape(function) + r"\s*\(", body):
                # the attributes since the previous declaration's end
                before = body[: found.start()]
                cut = max(before.rfind("}"), before.rfind("\n\n"))
                attributes = before[cut + 1 :] if cut >= 0 else before
                if "@Test" in attributes or function.startswith("test"):
                    return True
    return False


def main() -> int:
    documents = sys.argv[1:] or DEFAULT_DOCUMENTS
    sources = [strip_comments_and_strings(p.read_text()) for p in sorted((ROOT / "Tests").rglob("*.swift"))]
    cited = 0
    missing = []
    for document in documents:
        path = pathlib.Path(document)
        path = path if path.is_absolute() else ROOT / path
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for type_name, function in CITATION.findall(line):
                cited += 1
                if not test_exists(sources, type_name, function):
                    missing.append(f"{document}:{number}: no test {type_name}/{function} in Tests/")
    for problem in missing:
        print(problem, file=sys.stderr)
    if cited == 0:
        print("no test citations found: the documents must cite `Suite/function` names", file=sys.stderr)
        return 1
    if missing:
        return 1
    print(f"{cited} test citations in {len(documents)} documents: every one exists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
