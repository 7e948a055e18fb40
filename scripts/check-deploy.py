#!/usr/bin/env python3
"""Project-specific checks of the deployment files, without a Docker engine.

The generic checks (the Compose Specification schema, hadolint, actionlint) run beside this in
scripts/test-deploy.sh; this script checks that the files agree with each other and with the code:
ports, health checks, start order, the env file against the variables the backend reads, the
nginx upstream, what the Dockerfiles copy against .dockerignore and the Cargo workspace, image
labels and users, and the CI workflow's publishing. Needs PyYAML (scripts/deploy-tools.sh).

Usage: scripts/check-deploy.py [repository root]
"""

import ipaddress
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
RESULTS = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    if ok:
        RESULTS["passed"] += 1
        print(f"ok     {name}")
    else:
        RESULTS["failed"] += 1
        print(f"FAILED {name}{': ' + detail if detail else ''}")


def read(rel):
    return (ROOT / rel).read_text()


# --- inputs ---------------------------------------------------------------------------------

compose = yaml.safe_load(read("docker-compose.yml"))
services = compose.get("services", {})


def env_file(rel):
    """KEY=VALUE lines, and the names of the commented-out `# KEY=…` ones (optional settings)."""
    values, commented = {}, set()
    for line in read(rel).splitlines():
        if m := re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line):
            values[m[1]] = m[2]
        elif m := re.match(r"^#\s*([A-Z][A-Z0-9_]*)=", line):
            commented.add(m[1])
    return values, commented


env, env_optional = env_file("env.production")

# Every environment variable the backend's configuration reads (clap `env = "…"`), plus RUST_LOG.
backend_vars = set(re.findall(r'env\s*=\s*"([A-Z][A-Z0-9_]*)"', read("backend/src/config.rs")))
backend_vars.add("RUST_LOG")
postgres_vars = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}


def dockerfile(rel):
    """The instructions of a Dockerfile (continuation lines joined, comments dropped), by stage."""
    text = re.sub(r"\\\n", " ", read(rel))
    stages = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        op, _, args = line.partition(" ")
        op = op.upper()
        if op == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((op, args.strip()))
    return stages


def listen_port(value):
    return int(value.rsplit(":", 1)[1])


def container_ports(service):
    """{container port: published port} of a compose service's short-syntax `ports`."""
    out = {}
    for p in service.get("ports", []):
        parts = str(p).split(":")
        out[int(parts[-1].split("/")[0])] = int(parts[-2]) if len(parts) > 1 else None
    return out


def as_list(v):
    return v if isinstance(v, list) else [v] if v else []


# --- docker-compose.yml ---------------------------------------------------------------------

check("compose: services db, backend and frontend", set(services) == {"db", "backend", "frontend"}, str(list(services)))
db, backend, frontend = (services.get(s, {}) for s in ("db", "backend", "frontend"))

check("compose: db is postgres:16", str(db.get("image", "")).startswith("postgres:16"), db.get("image"))
db_hc = " ".join(as_list(db.get("healthcheck", {}).get("test")))
check("compose: db has a pg_isready healthcheck", "pg_isready" in db_hc, db_hc)
volumes = [str(v) for v in db.get("volumes", [])]
named = [v.split(":")[0] for v in volumes if v.endswith(":/var/lib/postgresql/data")]
check(
    "compose: db keeps its data in a named volume declared at the top level",
    len(named) == 1 and named[0] in (compose.get("volumes") or {}),
    str(volumes),
)

for name, svc, dockerfile_rel in (("backend", backend, "backend/Dockerfile"), ("frontend", frontend, "frontend/Dockerfile")):
    build = svc.get("build", {})
    check(
        f"compose: {name} is built from {dockerfile_rel} with the repository root as context",
        build.get("context") == "." and build.get("dockerfile") == dockerfile_rel and (ROOT / dockerfile_rel).is_file(),
        str(build),
    )

check("compose: backend reads env.production", "env.production" in as_list(backend.get("env_file")), str(backend.get("env_file")))
check("compose: db reads env.production (POSTGRES_*)", "env.production" in as_list(db.get("env_file")), str(db.get("env_file")))
check(
    "compose: backend starts once db is healthy",
    backend.get("depends_on", {}).get("db", {}).get("condition") == "service_healthy",
    str(backend.get("depends_on")),
)
check(
    "compose: frontend starts once backend is healthy",
    frontend.get("depends_on", {}).get("backend", {}).get("condition") == "service_healthy",
    str(frontend.get("depends_on")),
)
backend_port = listen_port(env.get("CICD_LISTEN", ":0"))
check("compose: backend listens on 8000 (CICD_LISTEN in env.production)", backend_port == 8000, env.get("CICD_LISTEN"))
check("compose: backend publishes 8000:8000", container_ports(backend).get(backend_port) == 8000, str(backend.get("ports")))
check("compose: frontend publishes 8080:8080", container_ports(frontend).get(8080) == 8080, str(frontend.get("ports")))
check(
    "compose: backend runs `serve` (the image's CMD), which migrates at start",
    backend.get("command") in (None, "serve", ["serve"]) and backend.get("entrypoint") is None,
    str(backend.get("command")),
)
hc = as_list(backend.get("healthcheck", {}).get("test"))
check(
    "compose: backend healthcheck runs the binary's `healthcheck` without a shell",
    hc[:1] == ["CMD"] and hc[1:] == ["/usr/local/bin/cicd-monitor", "healthcheck"],
    str(hc),
)
check(
    "compose: frontend has a writable /tmp on a read-only root (nginx pid and temp files)",
    not frontend.get("read_only") or "/tmp" in as_list(frontend.get("tmpfs")),
    str(frontend.get("tmpfs")),
)

# The backend believes X-Forwarded-For from nginx, and only from nginx.
nginx_addr = ((frontend.get("networks") or {}).get("default") or {}).get("ipv4_address")
subnets = [c.get("subnet") for c in (((compose.get("networks") or {}).get("default") or {}).get("ipam") or {}).get("config", [])]
trusted = [ipaddress.ip_network(c) for c in env.get("CICD_TRUSTED_PROXIES", "").split(",") if c]
check(
    "compose: nginx has a fixed address in the default network's subnet, and it is the only trusted proxy",
    nginx_addr is not None
    and any(ipaddress.ip_address(nginx_addr) in ipaddress.ip_network(n) for n in subnets if n)
    and trusted == [ipaddress.ip_network(f"{nginx_addr}/32")],
    f"{nginx_addr} in {subnets}; CICD_TRUSTED_PROXIES={trusted}",
)

# --- env.production -------------------------------------------------------------------------

listed = set(env) | env_optional
missing = sorted(backend_vars - listed)
check("env.production: lists every variable the backend reads", not missing, f"missing {missing}")
unknown = sorted(listed - backend_vars - postgres_vars)
check("env.production: names no variable nobody reads", not unknown, f"unknown {unknown}")
config_doc = read("docs/configuration.md")
undocumented = sorted(v for v in backend_vars if f"`{v}`" not in config_doc)
check("docs/configuration.md names every backend variable", not undocumented, str(undocumented))

secretish = [k for k in listed if re.search(r"PASSWORD|SECRET|TOKEN|WEBHOOK_URL", k)]
raw = read("env.production")
not_placeholder = sorted(
    k for k in secretish
    if not re.search(rf"^#?\s*{k}=.*change-me", raw, re.M)
)
check("env.production: every secret is a change-me placeholder", not not_placeholder, str(not_placeholder))
check(
    "env.production: the placeholder CICD_SECRET_KEY is long enough for the backend to start (>= 32)",
    len(env.get("CICD_SECRET_KEY", "")) >= 32,
)
url = urlparse(env.get("DATABASE_URL", ""))
check(
    "env.production: DATABASE_URL points at the db service with the POSTGRES_* credentials",
    url.scheme in ("postgres", "postgresql")
    and url.hostname == "db"
    and (url.port or 5432) == 5432
    and url.username == env.get("POSTGRES_USER")
    and url.password == env.get("POSTGRES_PASSWORD")
    and url.path.lstrip("/") == env.get("POSTGRES_DB"),
    env.get("DATABASE_URL", ""),
)

# --- nginx/nginx.conf -----------------------------------------------------------------------

nginx = read("nginx/nginx.conf")
nginx_code = "\n".join(line.split("#", 1)[0] for line in nginx.splitlines())


def location(path):
    """The body of `location <path> {…}` (no nested blocks in this file), or None."""
    m = re.search(r"location\s+" + re.escape(path) + r"\s*\{([^}]*)\}", nginx_code)
    return m[1] if m else None


upstream = re.search(r"upstream\s+backend\s*\{[^}]*?server\s+([^\s;]+)", nginx_code)
check(
    "nginx: the upstream is the compose service `backend` on the port of CICD_LISTEN",
    upstream is not None and upstream[1] == f"backend:{backend_port}",
    upstream[1] if upstream else "no upstream backend",
)
check("nginx: listens on 8080 (the frontend's container port)", re.search(r"^\s*listen\s+8080;", nginx_code, re.M) is not None)
for path in ("= /api/stream", "/api/", "= /health", "= /ready", "= /metrics"):
    body = location(path)
    check(f"nginx: location {path} proxies to the backend", body is not None and "proxy_pass http://backend;" in body)
stream = location("= /api/stream") or ""
check("nginx: the event stream is not buffered", re.search(r"proxy_buffering\s+off;", stream) is not None)
timeout = re.search(r"proxy_read_timeout\s+(\d+)([smh]?);", stream)
seconds = int(timeout[1]) * {"": 1, "s": 1, "m": 60, "h": 3600}[timeout[2]] if timeout else 0
check("nginx: the event stream survives an hour of silence (proxy_read_timeout >= 1h)", seconds >= 3600, str(seconds))
body_max = re.search(r"client_max_body_size\s+(\d+)m;", nginx_code)
check(
    "nginx: request bodies up to 10 MiB reach the backend (POST /api/events/batch)",
    body_max is not None and int(body_max[1]) >= 10,
)
check("nginx: the SPA falls back to index.html", re.search(r"try_files\s+\$uri\s+/index\.html;", location("/") or "") is not None)

# --- Dockerfiles and .dockerignore ------------------------------------------------------------


def ignore_regex(pattern):
    """A .dockerignore pattern as a regex over slash-separated paths (Go filepath.Match, plus **)."""
    out, i = "", 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
            continue
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
            continue
        out += {"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c))
        i += 1
    return re.compile(out + r"\Z")


rules = []
for line in read(".dockerignore").splitlines():
    line = line.strip()
    if line and not line.startswith("#"):
        negate = line.startswith("!")
        rules.append((negate, ignore_regex(line.lstrip("!").strip("/"))))


def in_context(path):
    """Whether the build context keeps `path` (the last pattern matching it or a parent wins)."""
    parts = path.split("/")
    keep = True
    for negate, rx in rules:
        if any(rx.match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            keep = negate
    return keep


tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
members = re.search(r"members\s*=\s*\[([^\]]*)\]", read("Cargo.toml"))[1]
members = re.findall(r'"([^"]+)"', members)
needed = ["Cargo.toml", "Cargo.lock", "frontend/package.json", "frontend/package-lock.json", "frontend/index.html", "nginx/nginx.conf"]
needed += [f"{m}/Cargo.toml" for m in members]
needed += [f for f in tracked if f.startswith(("migrations/", "frontend/src/")) or re.match(r"(backend|crds|operator)/src/", f)]
dropped = [f for f in needed if not in_context(f)]
check(".dockerignore: keeps the sources, manifests, migrations and the nginx config", not dropped, str(dropped[:5]))
leaked = [p for p in ("target/release/cicd-monitor", "frontend/node_modules/react/index.js", "frontend/dist/index.html", ".git/HEAD", ".local/pg/port", "docs/benchmarks.md") if in_context(p)]
check(".dockerignore: leaves out builds, node_modules, .git, local state and docs", not leaked, str(leaked))

rust_version = re.search(r'rust-version\s*=\s*"([\d.]+)"', read("Cargo.toml"))[1]
for rel in ("backend/Dockerfile", "operator/Dockerfile", "frontend/Dockerfile"):
    stages = dockerfile(rel)
    final = stages[-1]
    ops = [op for op, _ in final]
    users = [args for op, args in final if op == "USER"]
    check(
        f"{rel}: the final stage runs as a numeric non-root user",
        bool(users) and re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]) is not None,
        str(users),
    )
    labels = " ".join(args for op, args in final if op == "LABEL")
    want = ("title", "description", "source", "licenses", "version", "revision")
    lacking = [k for k in want if f"org.opencontainers.image.{k}=" not in labels]
    check(f"{rel}: OCI labels {', '.join(want)}", not lacking, str(lacking))
    sources = []
    for stage in stages:
        for op, args in stage:
            if op in ("COPY", "ADD") and "--from=" not in args:
                words = [w for w in args.split() if not w.startswith("--")]
                sources += words[:-1]
    missing_src = [s for s in sources if s not in (".",) and not ((ROOT / s).exists() and in_context(s.rstrip("/")))]
    check(f"{rel}: everything it copies exists and is in the build context", not missing_src, str(missing_src))
    if rel != "frontend/Dockerfile":
        copied = {s.rstrip("/") for s in sources}
        absent = [m for m in members if m not in copied]
        check(f"{rel}: copies every Cargo workspace member ({', '.join(members)})", not absent, f"missing {absent}")
        arg = re.search(r"ARG RUST_VERSION=([\d.]+)", read(rel))
        check(
            f"{rel}: its Rust ({arg[1] if arg else '?'}) is at least the workspace's rust-version {rust_version}",
            arg is not None and tuple(map(int, arg[1].split("."))) >= tuple(map(int, rust_version.split("."))),
        )
        text = read(rel)
        check(
            f"{rel}: dependencies are cooked (cargo-chef) before the sources are copied",
            text.find("cargo chef cook") != -1 and text.find("cargo chef cook") < text.find("COPY backend"),
        )
        check(f"{rel}: the final image is distroless", final[0][1].startswith("gcr.io/distroless/"), final[0][1])
        check(f"{rel}: ENTRYPOINT in exec form", any(op == "ENTRYPOINT" and args.startswith("[") for op, args in final))

backend_final = dockerfile("backend/Dockerfile")[-1]
static = [args.split()[-1] for op, args in backend_final if op == "COPY" and "--from=spa" in args]
check(
    "backend/Dockerfile: carries the dashboard where env.production's CICD_STATIC_DIR points",
    static and static[0] == env.get("CICD_STATIC_DIR") and f"CICD_STATIC_DIR={static[0]}" in read("backend/Dockerfile"),
    str(static),
)
check(
    "backend/Dockerfile: HEALTHCHECK runs the binary's `healthcheck` (no shell in the image)",
    any(op == "HEALTHCHECK" and '["/usr/local/bin/cicd-monitor", "healthcheck"]' in args for op, args in backend_final),
)
frontend_final = dockerfile("frontend/Dockerfile")[-1]
check(
    "frontend/Dockerfile: nginx-unprivileged with the project's nginx.conf",
    frontend_final[0][1].startswith("nginxinc/nginx-unprivileged:")
    and any(op == "COPY" and args == "nginx/nginx.conf /etc/nginx/nginx.conf" for op, args in frontend_final),
)

# --- .github/workflows/ci.yml ---------------------------------------------------------------

wf_text = read(".github/workflows/ci.yml")
wf = yaml.safe_load(wf_text)
on = wf.get(True, wf.get("on", {}))  # YAML 1.1 reads the key `on` as true
check("ci.yml: runs on pushes of version tags", any(t.startswith("v") for t in as_list(on.get("push", {}).get("tags"))))
check("ci.yml: runs `make test`", re.search(r"run:\s*make test\b", wf_text) is not None)
steps = [s for job in wf.get("jobs", {}).values() for s in job.get("steps", [])]
builds = [s for s in steps if str(s.get("uses", "")).startswith("docker/build-push-action@")]
check("ci.yml: builds images with docker/build-push-action", bool(builds))
check(
    "ci.yml: build cache in the GitHub Actions cache",
    all("type=gha" in str(s.get("with", {}).get("cache-from", "")) and "type=gha" in str(s.get("with", {}).get("cache-to", "")) for s in builds) and bool(builds),
)
check("ci.yml: pushes to ghcr.io", "ghcr.io" in wf_text and any(str(s.get("uses", "")).startswith("docker/login-action@") for s in steps))
unbuilt = [d for d in ("backend/Dockerfile", "operator/Dockerfile", "frontend/Dockerfile") if d not in wf_text]
check("ci.yml: builds every Dockerfile", not unbuilt, str(unbuilt))
publish = [j for j in wf.get("jobs", {}).values() if any(s in builds for s in j.get("steps", []))]
check(
    "ci.yml: images are published only from tags, after the tests pass",
    bool(publish) and all("refs/tags/" in str(j.get("if", "")) and j.get("needs") for j in publish),
)

print(f"checks: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
sys.exit(1 if RESULTS["failed"] else 0)
