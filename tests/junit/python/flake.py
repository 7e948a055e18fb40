"""Attempt counter for the deliberately flaky test.

The count is kept in $JUNIT_FLAKE_DIR (a fresh directory per run, made by
scripts/junit-reports.sh) so that the result is deterministic: the first attempt fails and any
later one passes, or every attempt passes when JUNIT_FLAKE_PASS=1.
"""

import os
from pathlib import Path


def flaky_attempt_fails(name):
    state = os.environ.get("JUNIT_FLAKE_DIR")
    if not state:
        raise RuntimeError("JUNIT_FLAKE_DIR is not set: run this suite through scripts/junit-reports.sh")
    counter = Path(state) / f"{name}.count"
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    return attempt == 1 and os.environ.get("JUNIT_FLAKE_PASS") != "1"
