#!/usr/bin/env python3
"""Fails when a guide's code blocks and the test that compiles and runs them drift apart.

A guide marks each code block it wants checked with an HTML comment on the line before the fence:

    <!-- sample: NAME -->
    ```swift
    …
    ```

and its test file holds the same text between `MARK: Guide sample NAME (begin)` and
`MARK: Guide sample NAME (end)` (as `// MARK:` lines in Swift, or `# MARK:` lines inside a Swift
multi-line string for YAML). The two must be equal line for line once their common indentation is
removed. It is also an error when a guide has a `swift` block without a mark (uncompiled code), a
mark without a block, or when the test file has a region the guide does not show.

Usage: scripts/check-guide-samples.py   (checks every pair in GUIDES)
"""

import pathlib
import re
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parent.parent
# (guide, the test file that compiles and runs its samples)
GUIDES = [
    ("Documentation/SecurePortalGuide.md", "Tests/PHIGuardSQLiteTests/SecurePortalGuideSampleTests.swift"),
]
MARK = re.compile(r"^\s*<!--\s*sample:\s*([A-Za-z0-9_-]+)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)```([A-Za-z0-9_-]*)\s*$")
REGION = re.compile(r"^\s*(?://|#) MARK: Guide sample ([A-Za-z0-9_-]+) \((begin|end)\)\s*$")


def normalise(lines):
    text = textwrap.dedent("\n".join(line.rstrip() for line in lines))
    return text.strip("\n").splitlines()


def guide_blocks(path: pathlib.Path):
    """{name: lines} of the marked blocks, and the problems found."""
    blocks, problems = {}, []
    lines = path.read_text().splitlines()
    pending = None
    i = 0
    while i < len(lines):
        mark = MARK.match(lines[i])
        if mark:
            if pending:
                problems.append(f"{path.name}:{pending[1]}: sample mark '{pending[0]}' has no code block after it")
            pending = (mark.group(1), i + 1)
            i += 1
            continue
        fence = FENCE.match(lines[i])
        if fence:
            start = i
            i += 1
            while i < len(lines) and not FENCE.match(lines[i]):
                i += 1
            body = lines[start + 1 : i]
            language = fence.group(2)
            if pending and pending[1] == start:  # the mark is on the line right before the fence
                if pending[0] in blocks:
                    problems.append(f"{path.name}:{start + 1}: sample '{pending[0]}' is shown twice")
                blocks[pending[0]] = normalise(body)
            elif language == "swift":
                problems.append(f"{path.name}:{start + 1}: a swift block without a '<!-- sample: NAME -->' mark")
            if pending and pending[1] != start:
                problems.append(f"{path.name}:{pending[1]}: sample mark '{pending[0]}' is not right before a fence")
            pending = None
        elif pending and lines[i].strip():
            problems.append(f"{path.name}:{pending[1]}: sample mark '{pending[0]}' is not right before a fence")
            pending = None
        i += 1
    if pending:
        problems.append(f"{path.name}:{pending[1]}: sample mark '{pending[0]}' has no code block after it")
    return blocks, problems


def test_regions(path: pathlib.Path):
    regions, problems = {}, []
    open_name, start = None, 0
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines):
        region = REGION.match(line)
        if not region:
            continue
        name, edge = region.groups()
        if edge == "begin":
            if open_name:
                problems.append(f"{path.name}:{number + 1}: region '{name}' begins inside '{open_name}'")
            open_name, start = name, number + 1
        else:
            if name != open_name:
                problems.append(f"{path.name}:{number + 1}: region '{name}' ends but '{open_name}' is open")
            elif name in regions:
                problems.append(f"{path.name}:{number + 1}: region '{name}' appears twice")
            else:
                regions[name] = normalise(lines[start:number])
            open_name = None
    if open_name:
        problems.append(f"{path.name}: region '{open_name}' never ends")
    return regions, problems


def main() -> int:
    problems, checked = [], 0
    for guide, test in GUIDES:
        blocks, found = guide_blocks(ROOT / guide)
        problems += found
        regions, found = test_regions(ROOT / test)
        problems += found
        for name in sorted(set(blocks) | set(regions)):
            if name not in regions:
                problems.append(f"{guide}: sample '{name}' has no region in {test}")
            elif name not in blocks:
                problems.append(f"{test}: region '{name}' is not shown in {guide}")
            elif blocks[name] != regions[name]:
                for index, (shown, compiled) in enumerate(zip(blocks[name] + [""] * 9999, regions[name])):
                    if shown != compiled:
                        problems.append(
                            f"{guide}: sample '{name}' differs from {test} at its line {index + 1}:\n"
                            f"  guide: {shown}\n  test:  {compiled}")
                        break
                else:
                    problems.append(f"{guide}: sample '{name}' has extra lines beyond {test}'s region")
            else:
                checked += 1
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    if checked == 0:
        print("no samples checked", file=sys.stderr)
        return 1
    print(f"{checked} guide samples match the code that compiles and runs them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
