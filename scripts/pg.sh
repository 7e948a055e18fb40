#!/usr/bin/env bash
# A PostgreSQL cluster from the machine's own binaries, for tests and `make run`.
#
#   scripts/pg.sh start DIR [PORT]   create the cluster in DIR if needed, start it, print its URL
#   scripts/pg.sh stop DIR           stop it (a no-op when it is not running)
#   scripts/pg.sh url DIR            print the URL of the running cluster
#   scripts/pg.sh replica DIR PRIMARY_DIR
#                                    make DIR a streaming replica of the running cluster in
#                                    PRIMARY_DIR (pg_basebackup -R), start it, print its URL
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to the `postgres` user (or a
# `cicdpg` system user created for it). PG_FSYNC=off trades durability for speed (tests only);
# PG_OPTIONS adds server settings (`make bench` preloads pg_stat_statements).
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$d" ] || [ ! -x "$d/initdb" ]; then
    echo "pg.sh: installing PostgreSQL (apt-get install postgresql)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2 || die "could not install postgresql"
    d=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$d"
}

# shellcheck source=run-as.sh
source "$(dirname "$0")/run-as.sh"

# Creates DIR for the cluster's user and prints its absolute path.
cluster_dir() {
  mkdir -p "$1"
  (cd "$1" && pwd)
  chown "$2" "$1" 2>/dev/null || true
}

# Starts the cluster in DIR (as USER, with BIN's pg_ctl) on PORT, or on a free port when empty.
launch() {
  local dir=$1 port=$2 bin=$3 user=$4
  [ -n "$port" ] || port=$(free_port)
  echo "$port" >"$dir/port"
  as_user "$user" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
    "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir -c max_connections=300 \
     -c shared_buffers=256MB -c fsync=${PG_FSYNC:-on} -c synchronous_commit=on ${PG_OPTIONS:-}" >/dev/null \
    || { tail -n 30 "$dir/server.log" >&2; die "PostgreSQL did not start in $dir"; }
}

start() {
  local dir=$1 port=${2:-}
  local bin user
  bin=$(pg_bindir)
  user=$(run_user)
  dir=$(cluster_dir "$dir" "$user")
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_user "$user" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  fi
  if [ -f "$dir/port" ] && as_user "$user" "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    url "$dir"; return
  fi
  launch "$dir" "$port" "$bin" "$user"
  port=$(cat "$dir/port")
  as_user "$user" "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
select 'create role cicd login superuser password ''cicd''' where not exists (select from pg_roles where rolname = 'cicd')\gexec
select 'create database cicd owner cicd' where not exists (select from pg_database where datname = 'cicd')\gexec
SQL
  url "$dir"
}

# A physical replica: a base backup of the primary that keeps streaming its WAL (hot standby,
# read-only). The primary's pg_hba.conf from initdb trusts replication connections on loopback.
replica() {
  local dir=$1 primary=$2 bin user
  bin=$(pg_bindir)
  user=$(run_user)
  dir=$(cluster_dir "$dir" "$user")
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_user "$user" "$bin/pg_basebackup" -h 127.0.0.1 -p "$(cat "$primary/port")" -U postgres \
      -D "$dir/data" -R -X stream -c fast >"$dir/basebackup.log" 2>&1 \
      || { cat "$dir/basebackup.log" >&2; die "pg_basebackup failed"; }
  fi
  launch "$dir" "" "$bin" "$user"
  url "$dir"
}

stop() {
  local dir=$1 bin user
  [ -f "$dir/data/PG_VERSION" ] || return 0
  bin=$(pg_bindir)
  user=$(run_user)
  as_user "$user" "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

url() {
  echo "postgres://cicd:cicd@127.0.0.1:$(cat "$1/port")/cicd"
}

case "${1:-}" in
  start) start "${2:?DIR}" "${3:-}" ;;
  stop) stop "${2:?DIR}" ;;
  url) url "${2:?DIR}" ;;
  replica) replica "${2:?DIR}" "${3:?PRIMARY_DIR}" ;;
  *) die "usage: pg.sh start|stop|url DIR [PORT] | replica DIR PRIMARY_DIR" ;;
esac
