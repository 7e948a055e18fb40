# Sourced by scripts/pg.sh and scripts/pgbouncer.sh. PostgreSQL and PgBouncer refuse to run as root:
# as root they run as the `postgres` user (or a `cicdpg` system user created for it); otherwise as
# the caller. free_port prints a free TCP port on 127.0.0.1.

run_user() {
  if [ "$(id -u)" != 0 ]; then id -un; return; fi
  if id postgres >/dev/null 2>&1; then echo postgres; return; fi
  id cicdpg >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin cicdpg
  echo cicdpg
}

as_user() {
  local user=$1; shift
  if [ "$(id -un)" = "$user" ]; then "$@"; else runuser -u "$user" -- "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
