#!/usr/bin/env python3
"""docker-compose's nginx in front of a real backend, without Docker.

Runs the release binary (`migrate`, then `serve` on a free port) against DATABASE_URL
(scripts/with-postgres.sh makes a throwaway PostgreSQL), and Debian's nginx with the project's
nginx/nginx.conf, changed only where the compose network differs from this machine: the upstream
`backend:8000` becomes the backend's local port, `listen 8080` a free local port, the web root a
copy of frontend/dist, and /tmp a private directory. Then checks, through nginx: the dashboard
(files, client-side routes, caching, gzip), /health, /ready, /metrics, the API (reads, an ingest,
a 3 MiB batch, the JSON 404, request ids) and the event stream (each event arrives as it is sent,
not when a buffer fills). Also runs `cicd-monitor healthcheck`, the image's HEALTHCHECK.

Usage: scripts/test-nginx.py BINARY [nginx.conf] [dist dir]     (stdlib only)
"""

import gzip
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT / "target/release/cicd-monitor"
CONF = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "nginx/nginx.conf"
DIST = Path(sys.argv[3]) if len(sys.argv) > 3 else ROOT / "frontend/dist"
NGINX = os.environ.get("CICD_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
ADMIN = "nginx-test-admin-token-0123456789"
RESULTS = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    RESULTS["passed" if ok else "failed"] += 1
    print(f"{'ok    ' if ok else 'FAILED'} {name}{'' if ok or not detail else ': ' + str(detail)}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, probe, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"test-nginx: {what} did not come up in {seconds} s")


def request(port, method, path, body=None, headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=body, headers=hdrs)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data


def render_conf(backend_port, nginx_port, root, tmp):
    """The project's config with the compose-network names swapped for local ones; each swap must
    happen exactly once, so the test fails rather than test something else when the file changes."""
    text = CONF.read_text().replace(" /tmp/", f" {tmp}/")
    swaps = [
        (r"server backend:8000;", f"server 127.0.0.1:{backend_port};"),
        (r"listen 8080;", f"listen 127.0.0.1:{nginx_port};"),
        (r"root /usr/share/nginx/html;", f"root {root};"),
    ]
    for old, new in swaps:
        count = text.count(old)
        if count != 1:
            raise SystemExit(f"test-nginx: expected `{old}` once in {CONF}, found it {count} times")
        text = text.replace(old, new)
    return text


def event_reader(port, path="/api/stream"):
    """Opens the stream through nginx; yields (event, data, arrival time) as each event arrives."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
                 "Accept-Encoding: gzip, br\r\n\r\n".encode())
    f = sock.makefile("rb")
    status = f.readline().decode()
    headers = {}
    while (line := f.readline().decode().strip()):
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    chunked = headers.get("transfer-encoding", "").lower() == "chunked"

    def lines():
        buf = b""
        while True:
            if chunked:
                size = int(f.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    return
                chunk = f.read(size)
                f.readline()
            else:
                chunk = f.read1(65536)
                if not chunk:
                    return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                yield line.decode().rstrip("\r")

    def events():
        event, data = None, []
        for line in lines():
            if line == "":
                if event or data:
                    yield event or "message", "\n".join(data), time.monotonic()
                event, data = None, []
            elif line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())

    return sock, status, headers, events()


def main():
    if not BIN.is_file():
        raise SystemExit(f"test-nginx: no backend binary at {BIN} (make build)")
    if not (DIST / "index.html").is_file():
        raise SystemExit(f"test-nginx: no built dashboard in {DIST} (make frontend)")
    if "DATABASE_URL" not in os.environ:
        raise SystemExit("test-nginx: set DATABASE_URL (scripts/with-postgres.sh does)")
    tmp = Path(tempfile.mkdtemp(prefix="cicd-nginx."))
    procs = []
    try:
        run(tmp, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"nginx: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    sys.exit(1 if RESULTS["failed"] else 0)


def run(tmp, procs):
    bport, nport = free_port(), free_port()
    env = {
        **os.environ,
        "CICD_LISTEN": f"127.0.0.1:{bport}",
        "CICD_ADMIN_TOKEN": ADMIN,
        "CICD_SECRET_KEY": "nginx-test-secret-key-0123456789abcdef",
        "CICD_ENVIRONMENT": "nginx-test",
        "CICD_STATIC_DIR": str(DIST),
        "CICD_GITHUB_POLL_INTERVAL": "0",
        "RUST_LOG": "warn",
    }
    subprocess.run([BIN, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)

    # The image's HEALTHCHECK, before the server is up: it must fail.
    hc = subprocess.run([BIN, "healthcheck", "--timeout", "2"], env=env, capture_output=True, text=True)
    check("cicd-monitor healthcheck fails while nothing listens", hc.returncode != 0, hc.returncode)

    procs.append(subprocess.Popen([BIN, "serve"], env=env))
    wait_until("the backend", lambda: request(bport, "GET", "/ready")[0] == 200)
    hc = subprocess.run([BIN, "healthcheck"], env=env, capture_output=True, text=True)
    check("cicd-monitor healthcheck passes against the running serve", hc.returncode == 0, hc.stderr.strip())

    # nginx, as in the frontend image: the project's config and a copy of the built dashboard.
    root = tmp / "html"
    shutil.copytree(DIST, root)
    # Workers drop root privileges when the test runs as root: let them read, whatever the umask.
    for path in [tmp, root, *root.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    conf = tmp / "nginx.conf"
    conf.write_text(render_conf(bport, nport, root, tmp))
    t = subprocess.run([NGINX, "-t", "-p", str(tmp), "-c", str(conf)], capture_output=True, text=True)
    check("nginx -t accepts nginx/nginx.conf", t.returncode == 0, t.stderr.strip())
    if t.returncode != 0:
        return
    procs.append(subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(conf), "-g", "daemon off;"],
                                  stdout=subprocess.DEVNULL))
    wait_until("nginx", lambda: request(nport, "GET", "/healthz")[0] == 200)

    # The dashboard.
    status, headers, body = request(nport, "GET", "/")
    index = (DIST / "index.html").read_bytes()
    check("GET / serves the dashboard's index.html", status == 200 and body == index, status)
    check("index.html is revalidated on every load", headers.get("cache-control") == "no-cache", headers.get("cache-control"))
    status, _, body = request(nport, "GET", "/runs/some/client/route?repo=org/x")
    check("a client-side route falls back to index.html", status == 200 and body == index, status)
    assets = re.findall(rb'(?:src|href)="(/assets/[^"]+\.js)"', index)
    status, headers, body = request(nport, "GET", assets[0].decode(), headers={"Accept-Encoding": "gzip"})
    check(
        "a hashed asset is cached for a year, gzipped, as JavaScript",
        status == 200
        and "immutable" in headers.get("cache-control", "")
        and headers.get("content-encoding") == "gzip"
        and "javascript" in headers.get("content-type", "")
        and gzip.decompress(body) == (DIST / assets[0].decode().lstrip("/")).read_bytes(),
        headers,
    )
    check(
        "the build's .gz of it is sent as it is (gzip_static), not compressed again",
        body == (DIST / (assets[0].decode().lstrip("/") + ".gz")).read_bytes(),
        len(body),
    )
    # nginx serves the dashboard itself: it must send the security headers the backend sends with it.
    security = ["content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy",
                "cross-origin-opener-policy"]
    _, backend_headers, _ = request(bport, "GET", "/")
    wanted = {h: backend_headers.get(h) for h in security}
    for path in ["/", assets[0].decode(), "/runs/some/client/route"]:
        _, got, _ = request(nport, "GET", path)
        check(f"GET {path} has the backend's security headers (CSP, nosniff, framing, referrer, COOP)",
              all(wanted.values()) and {h: got.get(h) for h in security} == wanted,
              {h: (got.get(h), wanted[h]) for h in security if got.get(h) != wanted[h]})
    status, _, _ = request(nport, "GET", "/assets/no-such-file.js")
    check("a missing asset is a 404, not index.html", status == 404, status)

    # The backend's own routes.
    status, headers, body = request(nport, "GET", "/health")
    check("GET /health reaches the backend", status == 200 and json.loads(body).get("status") == "ok", body[:200])
    status, _, _ = request(nport, "GET", "/ready")
    check("GET /ready reaches the backend", status == 200, status)
    status, headers, body = request(nport, "GET", "/metrics")
    check(
        "GET /metrics serves the backend's Prometheus text",
        status == 200 and headers.get("content-type", "").startswith("text/plain") and b"cicd_http_requests_total" in body,
        (status, headers.get("content-type")),
    )
    status, _, body = request(nport, "GET", "/api/config")
    check("GET /api/config reaches the backend", status == 200 and json.loads(body).get("environment") == "nginx-test", body[:200])
    status, headers, body = request(nport, "GET", "/api/no-such-route", headers={"X-Request-Id": "nginx-test-42"})
    check(
        "an unknown /api path is the backend's JSON 404, and the request id passes both ways",
        status == 404 and "error" in json.loads(body) and headers.get("x-request-id") == "nginx-test-42",
        (status, body[:200], headers.get("x-request-id")),
    )
    status, headers, body = request(nport, "GET", "/api/metrics", headers={"Accept-Encoding": "gzip"})
    data = json.loads(gzip.decompress(body) if headers.get("content-encoding") == "gzip" else body)
    check("GET /api/metrics answers the dashboard's shape", status == 200 and {"summary", "time_series", "recent_runs"} <= set(data), status)

    # The event stream: every event must arrive when the backend sends it.
    sock, status_line, headers, events = event_reader(nport)
    try:
        check(
            "GET /api/stream is an uncompressed event stream through nginx",
            " 200 " in status_line and headers.get("content-type", "").startswith("text/event-stream") and "content-encoding" not in headers,
            (status_line.strip(), headers),
        )
        first = next(events)
        check("the stream's first event, hello, arrives at once", first[0] == "hello", first)
        auth = {"Authorization": f"Bearer {ADMIN}"}
        lags = []
        for i in range(3):
            run_id = f"nginx-stream-{i}-{time.time_ns()}"
            sent = time.monotonic()
            status, _, body = request(nport, "POST", "/api/events", {
                "id": run_id, "workflow": "build", "status": "success", "repo": "org/nginx-test", "branch": "main",
                "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:01:00Z",
            }, auth)
            if status != 201:
                check("POST /api/events through nginx", False, (status, body[:200]))
                break
            sock.settimeout(5)
            for name, data, arrived in events:
                if name == "run" and json.loads(data).get("id") == run_id:
                    lags.append(arrived - sent)
                    break
        check(
            "each run posted through nginx arrives on the stream through nginx within 2 s (unbuffered)",
            len(lags) == 3 and max(lags) < 2.0,
            [f"{x * 1000:.0f} ms" for x in lags],
        )
        if lags:
            print(f"       stream lag after the POST's answer: {', '.join(f'{x * 1000:.0f} ms' for x in lags)}")
    except (socket.timeout, StopIteration) as e:
        check("the event stream delivers events through nginx", False, repr(e))
    finally:
        sock.close()

    # A batch over nginx's default 1 MiB body limit reaches the backend.
    pad = "x" * 6000
    batch = [
        {"id": f"nginx-batch-{i}", "workflow": "build", "status": "failure", "repo": "org/nginx-test",
         "branch": "main", "started_at": "2026-01-01T00:00:00Z", "meta": {"pad": pad}}
        for i in range(500)
    ]
    payload = json.dumps(batch).encode()
    status, _, body = request(nport, "POST", "/api/events/batch", payload,
                              {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}, timeout=60)
    accepted = json.loads(body).get("accepted") if status == 200 else None
    check(
        f"a {len(payload) / 2**20:.1f} MiB batch passes nginx and is recorded",
        status == 200 and accepted == 500,
        (status, body[:200]),
    )
    status, _, body = request(nport, "GET", "/api/runs/nginx-batch-7")
    check("a run of the batch reads back through nginx", status == 200 and json.loads(body).get("id") == "nginx-batch-7", status)


if __name__ == "__main__":
    main()
