#!/usr/bin/env python3
"""Writes the committed seed corpus (Fuzz/Corpus/<Target>/) from outside material: the PHC test
vectors of the Argon2 reference, RFC 4648/6238 Base32 secrets, Google Authenticator's otpauth
examples, real field envelopes written with PyNaCl from the documented format (key: 32 bytes of 7,
id "k1", context charts/c-1/notes), the example policies and the broken-policy fixtures, the
canonical audit vectors, and login names from RFC 8265's examples and our confusable tests.
Run with the interop virtualenv's Python (PyNaCl): .venv-interop/bin/python Fuzz/make-seeds.py"""
import base64, hashlib, json, os, pathlib, struct

root = pathlib.Path(__file__).resolve().parent.parent
corpus = root / "Fuzz" / "Corpus"

def write(target, name, data):
    folder = corpus / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())

vectors = json.loads((root / "Tests/Fixtures/argon2-kats/phc_test_c_vectors.json").read_text())["hash_tests"]
for index, vector in enumerate(vectors[:12]):
    write("FuzzPHCString", f"phc-{index}", vector["encoded"])
write("FuzzPHCString", "argon2id-v19", "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0")

for index, text in enumerate(["JBSWY3DPEHPK3PXP", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "MZXW6YTBOI======", "MZXW6===",
                              "gezdgnbvgy3tqojq", "GEZD GNBV GY3T QOJQ"]):
    write("FuzzBase32", f"base32-{index}", text)

for index, uri in enumerate([
    "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
    "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30",
    "otpauth://totp/Portal:ada?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA256&digits=8&period=60",
]):
    write("FuzzOTPAuthURI", f"uri-{index}", uri)

from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt as seal
from nacl.bindings import crypto_generichash_blake2b_salt_personal as blake2b

def lp(text):
    data = text.encode()
    return struct.pack(">I", len(data)) + data

def subkey(key, table, field):
    digest = hashlib.blake2b(b"PHIGuard.kdf.v1" + lp("field-encryption") + lp(table) + lp(field) + lp(""),
                             digest_size=16).digest()
    return blake2b(b"", 32, key, digest[8:16] + bytes(8), digest[:8] + bytes(8))

key = bytes([7]) * 32
associated = b"PHIGuard.field.v1" + lp("charts") + lp("c-1") + lp("notes") + b"\x00"
for index, plaintext in enumerate([b"", b"hypertension; follow up in 2 weeks", bytes(range(256))]):
    nonce = bytes([index]) * 24
    header = bytes([1, 2]) + b"k1" + nonce
    envelope = header + seal(plaintext, header + associated, nonce, subkey(key, "charts", "notes"))
    write("FuzzFieldEnvelope", f"binary-{index}", b"\x00" + envelope)
    text = "phgf:" + base64.urlsafe_b64encode(envelope).decode().rstrip("=")
    write("FuzzFieldEnvelope", f"text-{index}", b"\x01" + text.encode())

for path in sorted((root / "Examples/Policies").glob("*.yaml")) + sorted((root / "Tests/Fixtures/access/broken-policies").glob("*.yaml")):
    write("FuzzPolicyYAML", path.stem, path.read_bytes())

for index, raw in enumerate([bytes(32), bytes(range(32)), bytes([255]) * 32]):
    write("FuzzSessionToken", f"token-{index}", base64.urlsafe_b64encode(raw).decode().rstrip("="))

canonical = json.loads((root / "Tests/Fixtures/audit/canonical_v1.json").read_text())
for index, vector in enumerate(canonical["vectors"][:8]):
    record = dict(vector["record"], chain=vector["chain"])
    write("FuzzAuditRecord", f"record-{index}", json.dumps(record, sort_keys=True))

for index, name in enumerate(["alice", "Alice", "ＡＬＩＣＥ", " alice ", "ǅemal", "straße", "ΣΑΣ", "admin\u200b",
                              "аdmin", "dotless\u0131", "user@example.com", "ﬁle", "ℌello", "a\u0301b"]):
    write("FuzzLoginName", f"name-{index}", name)
print(f"seeds written to {corpus}")
