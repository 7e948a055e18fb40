#!/usr/bin/env bash
# Fuzzes the HTTP API from its own OpenAPI document with schemathesis: the given backend binary is
# started on a free port against the PostgreSQL in DATABASE_URL (run it under scripts/with-postgres.sh),
# with a little demo data and an admin token, and every operation is called with generated valid and
# invalid requests. Fails on any 5xx, any response that the document does not describe (status code,
# content type, headers, body schema, each event of the live stream), any invalid request that is
# accepted and any valid one that is refused, except where scripts/api-fuzz.toml names a rule that
# spans several fields.
#
# Usage: scripts/api-fuzz.sh <path to cicd-monitor binary>
# Bounds: CICD_FUZZ_EXAMPLES (examples per operation, default 25), CICD_FUZZ_SEED (default 1).
# schemathesis is installed (once) into a virtualenv under ~/.cache/ci-cd-monitor/venv.
set -euo pipefail
bin=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
: "${DATABASE_URL:?run under scripts/with-postgres.sh (DATABASE_URL is not set)}"

version=4.32.5
venv=$HOME/.cache/ci-cd-monitor/venv
st=$venv/bin/schemathesis
if ! "$st" --version 2>/dev/null | grep -qx "schemathesis, version $version"; then
  echo "api-fuzz: installing schemathesis $version into $venv"
  python3 -m venv "$venv" </dev/null || {
    echo "api-fuzz: python3 -m venv failed; installing python3-venv (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq </dev/null && apt-get install -y -qq --no-install-recommends python3-venv >/dev/null </dev/null
    python3 -m venv "$venv" </dev/null
  }
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$version" </dev/null
fi

token=api-fuzz-admin-token-0123456789abcdef
operator_token=api-fuzz-operator-token-0123456789abcdef
export CICD_ADMIN_TOKEN=$token CICD_OPERATOR_TOKEN=$operator_token
export CICD_SECRET_KEY=api-fuzz-secret-key-0123456789abcdef0123456789
export CICD_STATIC_DIR=$root/frontend/dist
export CICD_ENVIRONMENT=api-fuzz
export CICD_GITHUB_POLL_INTERVAL=0
# Generated integration URLs must not make the backend resolve names: only one host is allowed,
# and it is not resolved.
export CICD_OUTBOUND_HOSTS=hooks.slack.com CICD_OUTBOUND_ALLOW=hooks.slack.com
# schemathesis sends thousands of requests without a token from one address, and checks that each
# gets its 401: the failed-authentication limit (tested by backend/tests/api/security.rs) would
# answer most of them 429 instead, as documented, but then the 401s go untested. Off for this run.
export CICD_RATE_LIMIT_AUTH_FAILURES=0
export RUST_LOG=${RUST_LOG:-warn}
"$bin" migrate
"$bin" demo --days 3 >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url=http://127.0.0.1:$port
log=$(mktemp "${TMPDIR:-/tmp}/api-fuzz-backend.XXXXXX")
CICD_LISTEN=127.0.0.1:$port "$bin" serve >"$log" 2>&1 &
pid=$!
stop() {
  kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  if grep -q -i -E 'panicked|ERROR' "$log"; then
    echo "api-fuzz: the backend logged errors:" >&2
    grep -i -E -m 20 'panicked|ERROR' "$log" >&2
  fi
  rm -f "$log"
}
trap stop EXIT
for _ in $(seq 300); do
  curl -fsS "$url/ready" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done

# One worker: with two, schemathesis once died of a CPython 3.11 error ("AST constructor recursion
# depth mismatch") raised while two of its threads parsed source at the same time (a crash of the
# tool, not a finding). Two passes: everything with the admin token, then the routes only the Kubernetes operator may
# call (`…/by-uid/{uid}`: the admin gets 403 there) with the operator's token.
fuzz() { # TOKEN [schemathesis options…]
  local bearer=$1
  shift
  "$st" --config-file "$root/scripts/api-fuzz.toml" run "$url/api/openapi.json" \
    --header "Authorization: Bearer $bearer" \
    --max-examples "${CICD_FUZZ_EXAMPLES:-25}" \
    --seed "${CICD_FUZZ_SEED:-1}" \
    --generation-deterministic \
    --request-timeout 10 \
    --workers 1 \
    --no-color \
    --suppress-health-check all \
    "$@" </dev/null
}
fuzz "$token"
fuzz "$operator_token" --include-path-regex '/by-uid/'
