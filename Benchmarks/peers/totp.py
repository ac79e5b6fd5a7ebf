#!/usr/bin/env python3
"""pyotp peer timing for the TOTP benchmark: TOTP.verify(code, valid_window=1).

Prints one JSON object: {"peer": "pyotp", "version": ..., "operation": ..., "ns_per_op": median, "runs": [...]}.
The code verified is the current one, so pyotp (which stops at the first match) checks the step
before and then the matching step: its typical cost for a valid code.
"""
import json
import sys
import time
import timeit

import pyotp

def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    totp = pyotp.TOTP(pyotp.random_base32())
    now = int(time.time())
    code = totp.at(now)
    assert totp.verify(code, for_time=now, valid_window=1)
    timer = timeit.Timer(lambda: totp.verify(code, for_time=now, valid_window=1))
    per_op = sorted(timer.timeit(iterations) / iterations * 1e9 for _ in range(runs))
    json.dump({"peer": "pyotp", "version": pyotp.__version__ if hasattr(pyotp, "__version__") else "2.12.0",
               "operation": "TOTP.verify(valid_window=1)", "ns_per_op": per_op[len(per_op) // 2],
               "runs": per_op}, sys.stdout)
    print()

if __name__ == "__main__":
    main()
