#!/usr/bin/env python3
"""Independent implementation of the PHIGuard audit record encoding v1 (standard library only).

Written from Sources/PHIGuardAudit/PHIGuardAudit.docc/RecordFormat.md, not from the Swift code.
Usage: python3 canonical_v1.py > canonical_v1.json   (writes the test vectors)
       python3 canonical_v1.py verify LOG.jsonl KEYFILE   (verifies a JSON-lines log's chain)
"""
import base64, hashlib, hmac, json, struct, sys

def s(text):
    raw = text.encode("utf-8")
    return struct.pack(">I", len(raw)) + raw

def opt(text):
    return b"\x00" if text is None else b"\x01" + s(text)

def lst(values):
    return struct.pack(">I", len(values)) + b"".join(s(v) for v in values)

def canonical(rec):
    out = b"PGA1" + struct.pack(">Q", rec["seq"]) + struct.pack(">q", rec["ts"]) + s(rec["kind"])
    for key in ("actor", "role", "session", "action", "resourceType", "resourceID", "patient"):
        out += opt(rec.get(key))
    out += lst(rec.get("fields", [])) + s(rec["outcome"]) + opt(rec.get("reason")) + lst(rec.get("rules", []))
    out += b"\x01" if rec.get("breakGlass", False) else b"\x00"
    out += opt(rec.get("breakGlassReason"))
    related = rec.get("related")
    out += b"\x00" if related is None else b"\x01" + struct.pack(">Q", related)
    attributes = rec.get("attributes", {})
    out += struct.pack(">I", len(attributes))
    for key in sorted(attributes, key=lambda k: k.encode("utf-8")):
        out += s(key) + s(attributes[key])
    return out

def chain(key, previous, rec):
    return hmac.new(key, previous + canonical(rec), hashlib.sha256).digest()

def vectors():
    key = bytes(range(32))
    records = [
        {"seq": 1, "ts": 1763884800000000, "kind": "login.failed", "actor": "user:42", "action": "login",
         "outcome": "failure", "reason": "wrong-password"},
        {"seq": 2, "ts": 1763884801234567, "kind": "access.decision", "actor": "user:42", "role": "nurse",
         "session": "sess-7", "action": "read", "resourceType": "Observation", "resourceID": "obs-9f2c",
         "patient": "MRN-000123", "fields": ["code", "value"], "outcome": "allow", "rules": ["r1", "r2"],
         "breakGlass": True, "breakGlassReason": "ETREAT", "attributes": {"b": "2", "a": "1"}},
        {"seq": 3, "ts": -5, "kind": "break-glass.reviewed", "actor": "user:7", "action": "review",
         "outcome": "success", "reason": "justified", "related": 2},
    ]
    previous = bytes(32)
    out = []
    for rec in records:
        value = chain(key, previous, rec)
        out.append({"record": rec, "canonical": canonical(rec).hex(), "chain": value.hex()})
        previous = value
    return {"key": key.hex(), "vectors": out}

if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "verify":
        key = base64.b64decode(open(sys.argv[3]).read().strip())
        previous = bytes(32)
        for number, line in enumerate(open(sys.argv[2]), start=1):
            rec = json.loads(line)
            value = chain(key, previous, rec)
            if rec["seq"] != number or value.hex() != rec["chain"]:
                print(f"broken at line {number}")
                sys.exit(1)
            previous = value
        print("intact")
    else:
        print(json.dumps(vectors(), indent=2, sort_keys=True))
