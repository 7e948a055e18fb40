#!/usr/bin/env bash
# PgBouncer for the tests: built once from Debian's source of 1.24.1 (prepared statements in
# transaction mode need 1.21 or later; Debian 12 ships 1.18), cached under ~/.cache/ci-cd-monitor.
#
#   scripts/pgbouncer.sh path                 build if needed, print the binary's path
#   scripts/pgbouncer.sh start DIR URL        start it in DIR in front of the PostgreSQL at URL
#                                             (transaction pooling), print the pooled URL
#   scripts/pgbouncer.sh stop DIR             stop it (a no-op when it is not running)
set -euo pipefail

die() { echo "pgbouncer.sh: $*" >&2; exit 1; }

VERSION=1.24.1
SHA256=da72a3aba13072876d055a3e58dd4aba4a5de4ed6148e73033185245598fd3e0
SOURCE=https://deb.debian.org/debian/pool/main/p/pgbouncer/pgbouncer_$VERSION.orig.tar.gz
PREFIX=$HOME/.cache/ci-cd-monitor/tools/pgbouncer-$VERSION

path() {
  if [ ! -x "$PREFIX/bin/pgbouncer" ]; then
    echo "pgbouncer.sh: building PgBouncer $VERSION from Debian's source (once)" >&2
    if ! dpkg -s libevent-dev libssl-dev pkg-config >/dev/null 2>&1; then
      export DEBIAN_FRONTEND=noninteractive
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends libevent-dev libssl-dev pkg-config; } >&2 \
        || die "could not install the build dependencies"
    fi
    local build
    build=$(mktemp -d "${TMPDIR:-/tmp}/pgbouncer-build.XXXXXX")
    trap 'rm -rf "$build"' RETURN
    curl -fsSL --retry 3 -o "$build/src.tar.gz" "$SOURCE" || die "could not download $SOURCE"
    echo "$SHA256  $build/src.tar.gz" | sha256sum -c --quiet - || die "checksum mismatch for $SOURCE"
    tar xzf "$build/src.tar.gz" -C "$build"
    (cd "$build/pgbouncer-$VERSION" \
      && ./configure --prefix="$PREFIX" --without-cares --with-openssl >"$build/configure.log" 2>&1 \
      && make -j"$(nproc)" >"$build/make.log" 2>&1 \
      && make install >"$build/install.log" 2>&1) \
      || { tail -n 30 "$build"/*.log >&2; die "the build failed"; }
  fi
  echo "$PREFIX/bin/pgbouncer"
}

# PgBouncer refuses to run as root: as root it runs as PostgreSQL's user (scripts/run-as.sh), from a
# copy of the binary in DIR (the cache under /root is not readable by that user).
# shellcheck source=run-as.sh
source "$(dirname "$0")/run-as.sh"

start() {
  local dir=$1 url=$2 bin port user
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  cp "$(path)" "$dir/pgbouncer"
  bin=$dir/pgbouncer
  # postgres://user:password@host:port/db
  local rest=${url#postgres://} login password host pgport db
  login=${rest%%:*}; rest=${rest#*:}
  password=${rest%%@*}; rest=${rest#*@}
  host=${rest%%:*}; rest=${rest#*:}
  pgport=${rest%%/*}; db=${rest#*/}
  port=$(free_port)
  echo "\"$login\" \"$password\"" >"$dir/users.txt"
  # Any database name goes to the same server (the tests create databases of their own).
  cat >"$dir/pgbouncer.ini" <<EOF
[databases]
* = host=$host port=$pgport

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = plain
auth_file = $dir/users.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
max_prepared_statements = 200
ignore_startup_parameters = extra_float_digits,options
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
  user=$(run_user)
  chown -R "$user" "$dir"
  as_user "$user" "$bin" -d "$dir/pgbouncer.ini" || die "PgBouncer did not start (see $dir/pgbouncer.log)"
  for _ in $(seq 1 50); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
      echo "postgres://$login:$password@127.0.0.1:$port/$db"
      return
    fi
    sleep 0.1
  done
  die "PgBouncer is not listening on $port"
}

stop() {
  local dir=$1 pid
  [ -f "$dir/pgbouncer.pid" ] || return 0
  pid=$(cat "$dir/pgbouncer.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
}

case "${1:-}" in
  path) path ;;
  start) start "${2:?DIR}" "${3:?URL}" ;;
  stop) stop "${2:?DIR}" ;;
  *) die "usage: pgbouncer.sh path|start DIR URL|stop DIR" ;;
esac
