#!/usr/bin/env bash
# The deployment files, checked without a Docker engine (`make test-deploy`):
#   docker-compose.yml   against the Compose Specification schema (vendored by check-jsonschema)
#   Dockerfiles          hadolint
#   ci.yml               actionlint, and the GitHub workflow schema
#   all of them          scripts/check-deploy.py: ports, health checks, start order, env file,
#                        nginx upstream, build contexts, image users and labels, publishing
#   nginx/nginx.conf     Debian's nginx in front of the real backend (scripts/test-nginx.py)
# Usage: scripts/test-deploy.sh BACKEND_BINARY   (DATABASE_URL unset: a throwaway PostgreSQL)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: scripts/test-deploy.sh BACKEND_BINARY}
tools=$(scripts/deploy-tools.sh)
failed=0
step() {
  local name=$1; shift
  if "$@"; then echo "ok     $name"; else echo "FAILED $name"; failed=$((failed + 1)); fi
}

step "docker-compose.yml matches the Compose Specification" \
  "$tools/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml
step "hadolint: backend/Dockerfile operator/Dockerfile frontend/Dockerfile" \
  "$tools/hadolint" backend/Dockerfile operator/Dockerfile frontend/Dockerfile
step "actionlint: .github/workflows" \
  "$tools/actionlint" -no-color
step ".github/workflows/ci.yml matches the GitHub workflow schema" \
  "$tools/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/ci.yml
step "deployment files agree with each other and the code" \
  "$tools/python" scripts/check-deploy.py
if [ -n "${DATABASE_URL:-}" ]; then
  step "nginx in front of the real backend" env CICD_NGINX="$tools/nginx" "$tools/python" scripts/test-nginx.py "$bin"
else
  step "nginx in front of the real backend" \
    env CICD_NGINX="$tools/nginx" scripts/with-postgres.sh "$tools/python" scripts/test-nginx.py "$bin"
fi

echo "deploy: $((6 - failed)) passed, $failed failed"
[ "$failed" = 0 ]
