#!/usr/bin/env python3
"""Validates CycloneDX 1.6 JSON SBOMs: against the official 1.6 schema with cyclonedx-python-lib's
strict JSON validator (which also rejects properties the schema does not define), and that the
document says it is 1.6 (the schema itself accepts any string as specVersion).
Exits 1 on the first invalid file, after printing why.
Usage: sbom-check.py SBOM.json [...]
"""

import json
import sys
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator


def problem(text: str, validator: JsonStrictValidator) -> str | None:
    try:
        error = validator.validate_str(text)
    except ValueError as parse_error:  # json.JSONDecodeError
        return f"not JSON: {parse_error}"
    if error is not None:
        detail = error.data  # a jsonschema ValidationError: its message and where, not the whole schema
        where = getattr(detail, "json_path", None)
        return f"{getattr(detail, 'message', detail)}" + (f" (at {where})" if where else "")
    spec_version = json.loads(text).get("specVersion")
    if spec_version != SchemaVersion.V1_6.to_version():
        return f"specVersion is {spec_version!r}, not '{SchemaVersion.V1_6.to_version()}'"
    return None


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    validator = JsonStrictValidator(SchemaVersion.V1_6)
    for name in sys.argv[1:]:
        reason = problem(Path(name).read_text(), validator)
        if reason is not None:
            print(f"{name}: INVALID CycloneDX 1.6: {reason}", file=sys.stderr)
            return 1
        print(f"{name}: valid CycloneDX 1.6")
    return 0


if __name__ == "__main__":
    sys.exit(main())
