#!/usr/bin/env bash
# Generates the dashboard's API types (frontend/src/api/schema.d.ts) from the backend's OpenAPI
# document. `--check` fails when the committed file differs from what the backend generates.
# Usage: scripts/api-types.sh <path to cicd-monitor binary> [--check]
set -euo pipefail
bin=$1
mode=${2:-write}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/frontend/src/api/schema.d.ts
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" openapi > "$tmp/openapi.json"
(cd "$root/frontend" && npx --no-install openapi-typescript "$tmp/openapi.json" -o "$tmp/schema.d.ts" >/dev/null)
if [ "$mode" = "--check" ]; then
  if ! diff -u "$out" "$tmp/schema.d.ts" >&2; then
    echo "frontend/src/api/schema.d.ts is stale: run scripts/api-types.sh $bin" >&2
    exit 1
  fi
else
  cp "$tmp/schema.d.ts" "$out"
fi
