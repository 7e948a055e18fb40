#!/usr/bin/env bash
# Fails when `.sqlx/` (the offline data of sqlx's compile-time checked queries) is stale: applies
# the migrations to a throwaway PostgreSQL and runs `cargo sqlx prepare --workspace --check`
# against it. With `--write`, updates `.sqlx/` instead of checking it.
#
#   scripts/sqlx-check.sh [--write]
#
# Needs sqlx-cli (`make deps-sqlx` installs it into ~/.cache/ci-cd-monitor/tools).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
export PATH="$HOME/.cache/ci-cd-monitor/tools/bin:$PATH"
check=--check
[ "${1:-}" = --write ] && check=
if [ -z "${DATABASE_URL:-}" ] || [ -z "${SQLX_CHECK_INNER:-}" ]; then
  SQLX_CHECK_INNER=1 exec "$here/with-postgres.sh" "$0" "$@"
fi
# The queries are checked against the database here, not against `.sqlx/`.
unset SQLX_OFFLINE
cargo sqlx migrate run --source migrations --database-url "$DATABASE_URL" >/dev/null
cargo sqlx prepare --workspace $check -- --all-targets --locked
