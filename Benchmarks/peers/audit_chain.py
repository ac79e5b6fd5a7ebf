"""Peer for AuditBenchmarks: the same audit chain in Python (standard library only).

Same record, same canonical encoding (Tests/Fixtures/audit/canonical_v1.py), HMAC-SHA256 chain,
SQLite in WAL mode with synchronous=FULL and 4096-row transactions. Prints events/s for each step,
to be compared with the Swift suite run on the same machine at the same time.
"""
import os, sqlite3, sys, tempfile, time, json

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "Tests", "Fixtures", "audit"))
import canonical_v1  # noqa: E402

N = int(os.environ.get("AUDIT_PEER_EVENTS", "200000"))
KEY = bytes([1]) * 32
EVENT = {"ts": 1763884800000000, "kind": "access.decision", "actor": "user:42", "role": "nurse", "action": "read",
         "resourceType": "Observation", "resourceID": "obs-9f2c", "patient": "MRN-000123",
         "fields": ["code", "value"], "outcome": "allow", "rules": ["nurse-own-ward"]}

def append_in_memory(n):
    log, previous = [], bytes(32)
    for seq in range(1, n + 1):
        record = dict(EVENT, seq=seq)
        previous = canonical_v1.chain(KEY, previous, record)
        record["chain"] = previous
        log.append(record)
    return log

def verify(log):
    previous = bytes(32)
    for expected, record in enumerate(log, start=1):
        if record["seq"] != expected or canonical_v1.chain(KEY, previous, record) != record["chain"]:
            raise SystemExit("broken")
        previous = record["chain"]

def sqlite_durable(n):
    path = os.path.join(tempfile.mkdtemp(), "peer.sqlite")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE r (position INTEGER PRIMARY KEY AUTOINCREMENT, sequence INTEGER, timestamp INTEGER, "
               "kind TEXT, actor_id TEXT, actor_role TEXT, session_id TEXT, action TEXT, resource_type TEXT, "
               "resource_id TEXT, patient_id TEXT, fields TEXT, outcome TEXT, reason TEXT, rule_ids TEXT, "
               "break_glass INTEGER, break_glass_reason TEXT, related_sequence INTEGER, attributes TEXT, chain BLOB)")
    previous, batch = bytes(32), []
    for seq in range(1, n + 1):
        record = dict(EVENT, seq=seq)
        previous = canonical_v1.chain(KEY, previous, record)
        batch.append((seq, record["ts"], record["kind"], record["actor"], record["role"], None, record["action"],
                      record["resourceType"], record["resourceID"], record["patient"], json.dumps(record["fields"]),
                      record["outcome"], None, json.dumps(record["rules"]), 0, None, None, "{}", previous))
        if len(batch) == 4096 or seq == n:
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO r (sequence, timestamp, kind, actor_id, actor_role, session_id, action, "
                           "resource_type, resource_id, patient_id, fields, outcome, reason, rule_ids, break_glass, "
                           "break_glass_reason, related_sequence, attributes, chain) VALUES "
                           "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", batch)
            db.execute("COMMIT")
            batch = []
    db.close()

def timed(label, function, *arguments):
    start = time.perf_counter()
    result = function(*arguments)
    elapsed = time.perf_counter() - start
    print(f"python {label}: {N / elapsed:,.0f} events/s")
    return result

log = timed("append, in memory", append_in_memory, N)
timed("verify, in memory", verify, log)
timed("append, SQLite durable (WAL, synchronous=FULL), batches of 4096", sqlite_durable, N)
