#!/usr/bin/env python3
"""Runs the shell examples of the docs against a running backend, as a reader would after `make run`.

A fenced ```sh block preceded by the line `<!-- example: run -->` is run, in the order the files and
blocks come, by one bash session from the repository root (`set -euo pipefail`; `curl` fails on an
HTTP error, so an example answered 4xx fails the test). The backend is the given release binary on a
free port of 127.0.0.1 against the PostgreSQL in DATABASE_URL (run this under
scripts/with-postgres.sh); `localhost:8080` in the examples is pointed at it. The admin token is
`.local/admin-token` as `make run` writes it (created for the run, and removed after, when missing).

Afterwards each file's `<!-- example: expect RUN_ID -->` lines name runs that must be on the
dashboard's default view (`GET /api/runs`, the last 7 days).

Usage: scripts/test-doc-examples.py <path to cicd-monitor binary> [FILE...] (default: README.md)
"""

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"<!-- example: run -->\s*\n```sh\n(.*?)```", re.S)
EXPECT = re.compile(r"<!-- example: expect (\S+) -->")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, log: Path) -> None:
    for _ in range(300):
        if proc.poll() is not None:
            sys.exit(f"doc-examples: the backend exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("doc-examples: the backend did not become ready")


def main() -> int:
    if len(sys.argv) < 2 or "DATABASE_URL" not in os.environ:
        sys.exit("usage: scripts/with-postgres.sh scripts/test-doc-examples.py <cicd-monitor binary> [FILE...]")
    binary = os.path.abspath(sys.argv[1])
    files = [ROOT / f for f in (sys.argv[2:] or ["README.md"])]

    token_file = ROOT / ".local" / "admin-token"
    created = not token_file.exists()
    if created:
        token_file.parent.mkdir(exist_ok=True)
        token_file.write_text(secrets.token_urlsafe(24))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        CICD_LISTEN=f"127.0.0.1:{port}",
        CICD_ADMIN_TOKEN=token_file.read_text().strip(),
        CICD_STATIC_DIR=str(ROOT / "frontend" / "dist"),
        CICD_GITHUB_POLL_INTERVAL="0",
        # The examples' integrations name Slack: allowed without resolving the name.
        CICD_OUTBOUND_ALLOW="hooks.slack.com",
        RUST_LOG=os.environ.get("RUST_LOG", "warn"),
    )
    subprocess.run([binary, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    failures = []
    with tempfile.NamedTemporaryFile("w+", suffix=".log") as log:
        proc = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(url, proc, Path(log.name))
            for path in files:
                text = path.read_text()
                blocks = BLOCK.findall(text)
                if not blocks:
                    failures.append(f"{path.relative_to(ROOT)}: no `<!-- example: run -->` block")
                for n, block in enumerate(blocks, 1):
                    script = block.replace("localhost:8080", f"127.0.0.1:{port}")
                    shell = (
                        "set -euo pipefail\n"
                        'curl() { command curl --fail-with-body --max-time 10 "$@"; }\n' + script
                    )
                    run = subprocess.run(
                        ["bash", "-c", shell], cwd=ROOT, env=os.environ, capture_output=True, text=True
                    )
                    where = f"{path.relative_to(ROOT)}, example {n}"
                    if run.returncode != 0:
                        failures.append(f"{where} failed ({run.returncode}):\n{script}\n{run.stdout}{run.stderr}")
                    else:
                        print(f"ok     {where}")
                expected = EXPECT.findall(text)
                if expected:
                    req = urllib.request.Request(f"{url}/api/runs?limit=500")
                    req.add_header("Authorization", f"Bearer {env['CICD_ADMIN_TOKEN']}")
                    with urllib.request.urlopen(req, timeout=10) as res:
                        shown = {r["id"] for r in json.load(res)["runs"]}
                    for run_id in expected:
                        if run_id in shown:
                            print(f"ok     {path.relative_to(ROOT)}: run {run_id} is in the dashboard's default view")
                        else:
                            failures.append(f"{path.relative_to(ROOT)}: run {run_id} is not in the default view")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            if created:
                token_file.unlink()
    for f in failures:
        print(f"FAILED {f}", file=sys.stderr)
    print(f"doc-examples: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
