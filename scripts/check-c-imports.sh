#!/usr/bin/env bash
# Keeps the C libraries behind their one Swift wrapper each, and libsodium's return codes checked.
#
# Fails (exit 1, one `file:line: message` per finding) when a Swift file under Sources/ or Examples/
#   (a) imports a C library module outside the one place allowed for it:
#         CSodium   only in Sources/PHIGuardCrypto/
#         CArgon2   only in Sources/PHIGuardPasswords/Argon2.swift
#         CQRencode only in Sources/PHIGuardTOTP/TerminalQRCode.swift or Sources/PHIGuardTOTPQRCode/
#       (system modules such as Glibc, Darwin or Foundation are fine);
#   (b) discards the result of a libsodium call: `_ = crypto_…(` / `_ = sodium_…(` / `_ = randombytes_…(`,
#       or a call statement whose value is thrown away, for the libsodium functions that return `int`
#       (read from libsodium's headers; void functions such as randombytes_buf and sodium_memzero are fine).
#
# Run by `make lint` (and so by `make test`). Usage: scripts/check-c-imports.sh [repository root]
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
exec python3 - "$root" <<'PYTHON'
import glob
import os
import re
import subprocess
import sys

root = sys.argv[1]

# (a) Where each C library module may be imported (paths relative to the repository root).
ALLOWED = {
    "CSodium": ["Sources/PHIGuardCrypto/"],
    "CArgon2": ["Sources/PHIGuardPasswords/Argon2.swift"],
    "CQRencode": ["Sources/PHIGuardTOTP/TerminalQRCode.swift", "Sources/PHIGuardTOTPQRCode/"],
}
IMPORT = re.compile(
    r"^\s*(?:@[\w]+(?:\([^)]*\))?\s+)*"
    r"(?:(?:public|package|internal|fileprivate|private)\s+)?"
    r"import\s+(?:(?:typealias|struct|class|enum|protocol|let|var|func)\s+)?([A-Za-z_]\w*)"
)

# (b) libsodium functions that return int, from its headers; a fallback list if they are missing.
PREFIX = r"(?:crypto|sodium|randombytes)_\w+"
VOID_FALLBACK = {
    "randombytes_buf", "randombytes_buf_deterministic", "randombytes_stir", "sodium_memzero", "sodium_free",
    "sodium_increment", "sodium_add", "sodium_sub", "sodium_stackzero", "sodium_misuse",
}


def header_dirs():
    dirs = ["/usr/include/sodium", "/usr/local/include/sodium", "/opt/homebrew/include/sodium"]
    try:
        flags = subprocess.run(["pkg-config", "--cflags-only-I", "libsodium"], capture_output=True, text=True).stdout
        dirs += [os.path.join(flag[2:], "sodium") for flag in flags.split() if flag.startswith("-I")]
    except OSError:
        pass
    return [d for d in dirs if os.path.isdir(d)]


def int_functions():
    names = set()
    for directory in header_dirs():
        for path in glob.glob(os.path.join(directory, "*.h")) + glob.glob(os.path.join(os.path.dirname(directory), "sodium.h")):
            with open(path, encoding="utf-8", errors="replace") as handle:
                names.update(re.findall(r"\bint\s+(" + PREFIX + r")\s*\(", handle.read()))
    return names


INT_FUNCTIONS = int_functions()


def returns_int(name):
    if INT_FUNCTIONS:
        return name in INT_FUNCTIONS
    return name not in VOID_FALLBACK and not name.endswith("_keygen")


DISCARD = re.compile(r"\b_\s*=\s*(?:try\s+)?(" + PREFIX + r")\s*\(")
CALL = re.compile(r"(" + PREFIX + r")\s*\(")
# A block opened by one of these is a statement block: a call alone in it is a statement, not a
# closure's implicit return value.
CONTROL = re.compile(r"^\s*(?:\}\s*)?(?:if|guard|else|defer|do|for|while|repeat|switch|catch)\b|\belse\s*\{\s*$")


def code_lines(text):
    """The file's lines with comments and string contents blanked (line numbers kept)."""
    out, in_block, in_multiline = [], False, False
    for line in text.split("\n"):
        result, i = [], 0
        while i < len(line):
            if in_block:
                end = line.find("*/", i)
                if end < 0:
                    i = len(line)
                else:
                    in_block, i = False, end + 2
                continue
            if in_multiline:
                end = line.find('"""', i)
                if end < 0:
                    i = len(line)
                else:
                    in_multiline, i = False, end + 3
                    result.append('""')
                continue
            if line.startswith("//", i):
                break
            if line.startswith("/*", i):
                in_block, i = True, i + 2
                continue
            if line.startswith('"""', i):
                in_multiline, i = True, i + 3
                continue
            if line[i] == '"':
                j = i + 1
                while j < len(line) and line[j] != '"':
                    j += 2 if line[j] == "\\" else 1
                result.append('""')
                i = j + 1
                continue
            result.append(line[i])
            i += 1
        out.append("".join(result))
    return out


def call_end(lines, row, col):
    """(row, col) just after the parenthesis that closes the call opening at lines[row][col]."""
    depth = 0
    while row < len(lines):
        line = lines[row]
        while col < len(line):
            if line[col] == "(":
                depth += 1
            elif line[col] == ")":
                depth -= 1
                if depth == 0:
                    return row, col + 1
            col += 1
        row, col = row + 1, 0
    return row, 0


def next_code(lines, row, col):
    """The first non-blank character at or after (row, col), or ''."""
    while row < len(lines):
        rest = lines[row][col:].strip()
        if rest:
            return rest[0]
        row, col = row + 1, 0
    return ""


def previous_code_line(lines, row):
    row -= 1
    while row >= 0 and not lines[row].strip():
        row -= 1
    return lines[row] if row >= 0 else ""


CASE_LABEL = re.compile(r"(?:^|\s)(?:case\b[^:]*|default):$")


def in_switch_expression(lines, row):
    """Whether the case at `row` belongs to a `switch` used as a value (`let x = switch …`, `return switch …`)."""
    while row >= 0:
        line = lines[row]
        if re.search(r"\bswitch\b", line):
            if re.search(r"(?:=|\breturn|\bin|\()\s*switch\b", line):
                return True
            return previous_code_line(lines, row).rstrip().endswith(("=", "return"))
        row -= 1
    return False


def discarded_calls(lines):
    """(line number, function) of bare libsodium call statements whose int result is dropped."""
    findings = []
    for row, line in enumerate(lines):
        for match in CALL.finditer(line):
            name, start = match.group(1), match.start(1)
            if not returns_int(name):
                continue
            before = line[:start]
            stripped = before.rstrip()
            if stripped == "":
                opener = previous_code_line(lines, row).rstrip()
                if CASE_LABEL.search(opener):
                    if in_switch_expression(lines, row):
                        continue
                    closure_open = False
                elif opener.endswith(("(", ",", "=", "[", "+", "-", "*", "/", "%", "&", "|", "!", "?", ".", "<", ">", ":")):
                    continue  # the call continues an expression from the line above
                else:
                    closure_open = (opener.endswith("{") or re.search(r"\bin$", opener)) and not CONTROL.search(opener)
                at_statement = True
            elif stripped.endswith(";"):
                at_statement, closure_open = True, False
            elif CASE_LABEL.search(stripped):
                if in_switch_expression(lines, row):
                    continue
                at_statement, closure_open = True, False
            elif stripped.endswith("{") or re.search(r"\{[^{}]*\bin$", stripped):
                at_statement = True
                block_head = stripped[: stripped.rfind("{")]
                closure_open = not CONTROL.search(block_head + "{")
            else:
                continue  # an argument, an assignment, a condition, a `return`, `try`, …
            if not at_statement:
                continue
            end_row, end_col = call_end(lines, row, match.end(1))
            follower = next_code(lines, end_row, end_col)
            if follower in (".", "=", "!", "<", ">", "?", "&", "|", "+", "-", "*", "/", "%"):
                continue  # the value is used (`crypto_x(...) == 0`, …)
            if closure_open and follower == "}":
                continue  # the only expression of a closure: its value is the closure's result
            findings.append((row + 1, name))
    return findings


problems = []
for top in ("Sources", "Examples"):
    for path in sorted(glob.glob(os.path.join(root, top, "**", "*.swift"), recursive=True)):
        relative = os.path.relpath(path, root)
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        lines = code_lines(text)
        for number, line in enumerate(lines, 1):
            match = IMPORT.match(line)
            if match and match.group(1) in ALLOWED:
                module = match.group(1)
                if not any(relative == allowed or relative.startswith(allowed) for allowed in ALLOWED[module]):
                    problems.append(
                        f"{relative}:{number}: imports C module {module}; only {' or '.join(ALLOWED[module])} may "
                        f"(call the Swift wrapper instead)")
            for discard in DISCARD.finditer(line):
                problems.append(
                    f"{relative}:{number}: discards the result of {discard.group(1)}; check it "
                    f"(Sodium.check in PHIGuardCrypto converts it to a CryptoError)")
        for number, name in discarded_calls(lines):
            problems.append(
                f"{relative}:{number}: calls {name} as a statement, dropping its int result; check it "
                f"(Sodium.check in PHIGuardCrypto converts it to a CryptoError)")

if problems:
    print("check-c-imports: C libraries must stay behind their wrappers and libsodium results must be checked:",
          file=sys.stderr)
    for problem in problems:
        print("  " + problem, file=sys.stderr)
    sys.exit(1)
source = "libsodium headers" if INT_FUNCTIONS else "a built-in list (libsodium headers not found)"
print(f"check-c-imports: ok (int-returning libsodium functions from {source})")
PYTHON
