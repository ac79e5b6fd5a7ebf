"""Runs the browser suites and prints one closing line `browser: N passed, N failed[, N skipped]`.

    python scripts/browser/run.py --quickstart BIN [--portal BIN | --skip-portal REASON]
"""

import argparse
import glob
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import portal_flows  # noqa: E402
import quickstart_flows  # noqa: E402
from browserkit import summary  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--quickstart", required=True)
parser.add_argument("--portal")
parser.add_argument("--skip-portal")
arguments = parser.parse_args()
shots = os.environ.setdefault("SHOTS", ".build/browser-screenshots")
os.makedirs(shots, exist_ok=True)
for old in glob.glob(os.path.join(shots, "*")):
    os.remove(old)

suites, skipped = [], 0
with tempfile.TemporaryDirectory() as work:
    for name, module, binary in [("quickstart", quickstart_flows, arguments.quickstart),
                                 ("portal", portal_flows, arguments.portal)]:
        if binary is None:
            print(f"SKIPPED [{name}] {arguments.skip_portal}")
            skipped += 1
            continue
        started = time.monotonic()
        suites.append(module.run(binary, work))
        print(f"[{name}] {time.monotonic() - started:.1f} s")
    for log in glob.glob(os.path.join(work, "*.log")):  # the servers' output, beside the screenshots
        shutil.copy(log, shots)

passed, failed = summary(suites)
print(f"screenshots and server logs in {shots}")
print(f"browser: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed or not passed else 0)
