#!/usr/bin/env bash
# Start or stop a throw-away PostgreSQL on loopback for the test suite.
#   source scripts/postgres.sh start   -> exports TEST_DATABASE_URL
#   scripts/postgres.sh stop
# Installs Debian's postgresql when no server binaries are present.
set -euo pipefail

PG_PORT="${WARDEN_TEST_PG_PORT:-55432}"
PG_DIR="${WARDEN_TEST_PG_DIR:-/tmp/warden-test-pg-$PG_PORT}"

pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$found" ]; then
    echo "postgres.sh: installing Debian's postgresql" >&2
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    else
      sudo apt-get update -qq >&2 && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    fi
    found=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  echo "$found"
}

# initdb and postgres refuse to run as root; run them as the `postgres` user then.
as_db_user() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_start() {
  local bin
  bin=$(pg_bin)
  if [ ! -f "$PG_DIR/PG_VERSION" ]; then
    mkdir -p "$PG_DIR"
    if [ "$(id -u)" = 0 ]; then
      id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
      chown postgres "$PG_DIR"
    fi
    as_db_user "$bin/initdb" -D "$PG_DIR" -U warden --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! as_db_user "$bin/pg_ctl" -D "$PG_DIR" status >/dev/null 2>&1; then
    as_db_user "$bin/pg_ctl" -D "$PG_DIR" -w -l "$PG_DIR/server.log" \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c max_connections=300" start >/dev/null
  fi
  export TEST_DATABASE_URL="postgres://warden@127.0.0.1:$PG_PORT/postgres"
  echo "postgres.sh: PostgreSQL running at $TEST_DATABASE_URL (data in $PG_DIR)" >&2
}

pg_stop() {
  local bin
  bin=$(pg_bin)
  if [ -f "$PG_DIR/PG_VERSION" ]; then
    as_db_user "$bin/pg_ctl" -D "$PG_DIR" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}

case "${1:-}" in
  start) pg_start ;;
  stop) pg_stop ;;
  *) echo "usage: source scripts/postgres.sh start | scripts/postgres.sh stop" >&2; return 2 2>/dev/null || exit 2 ;;
esac
