#!/usr/bin/env bash
# A throwaway PostgreSQL server from Debian's `postgresql` package, for the test suite:
#   tests/pg/server.sh start   -> prints the server URL (postgresql+psycopg://...)
#   tests/pg/server.sh stop
# Data lives in $ONSET_PG_DIR (default /tmp/onset-pg), tuned for tests (no fsync). As root it
# runs as the `postgres` user, since PostgreSQL refuses to run as root.
set -euo pipefail
DIR=${ONSET_PG_DIR:-/tmp/onset-pg}
PORT=${ONSET_PG_PORT:-55432}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "error: PostgreSQL is not installed (Debian: apt-get install -y postgresql)" >&2
  exit 2
fi
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "${1:-}" in
  start)
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
    if [ ! -s "$DIR/data/PG_VERSION" ]; then
      as_owner "$PGBIN/initdb" -D "$DIR/data" -U onset --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$DIR/initdb.log"
    fi
    if ! as_owner "$PGBIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
      as_owner "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start -o \
        "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=400 \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
         -c shared_buffers=128MB" >/dev/null
    fi
    echo "postgresql+psycopg://onset@127.0.0.1:$PORT/postgres"
    ;;
  stop)
    if [ -s "$DIR/data/PG_VERSION" ]; then
      as_owner "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
