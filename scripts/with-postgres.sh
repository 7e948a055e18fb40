#!/usr/bin/env bash
# Runs a command with DATABASE_URL pointing at a throwaway PostgreSQL cluster that exists only for
# the command's duration: created on a free port, stopped and removed on exit, even on failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/cicd-pg.XXXXXX")
chmod 755 "$dir"
cleanup() { "$here/pg.sh" stop "$dir"; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
DATABASE_URL=$("$here/pg.sh" start "$dir")
export DATABASE_URL
echo "with-postgres: throwaway cluster at ${DATABASE_URL%%@*}@…${DATABASE_URL##*:}" >&2
"$@"
