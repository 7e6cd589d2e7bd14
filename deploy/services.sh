#!/usr/bin/env bash
# deploy/services.sh: a throwaway Redis and Postgres for tests, the demo and benchmarks.
#   services.sh start DIR [--fsync on|off]   start both in DIR, wait until ready, write DIR/env.sh
#   services.sh stop DIR                     stop both by PID (Postgres: fast shutdown), wait for exit
#   services.sh restart-redis DIR | stop-redis DIR | start-redis DIR   (fault tests)
#   services.sh stop-pg DIR [immediate] | start-pg DIR                  (fault tests)
# CF_SERVICES_PG_PRELOAD=LIB (default unset): start Postgres with LD_PRELOAD=LIB (make bench's
# slow-fsync shim, bench/fsync_delay.c; its CF_FSYNC_DELAY_US passes through the environment).
# CF_SERVICES_PG_SETTINGS=recommended|stock (default recommended): Postgres runs with
# deploy/postgres/chronoforge.conf (the README's recommended settings) or with initdb's defaults.
# Redis listens on a free 127.0.0.1 port and a unix socket (DIR/redis.sock), requires a password
# and has an ACL user; Postgres listens on a free 127.0.0.1 port and a unix socket (in DIR/pgsock),
# runs as the unprivileged 'postgres' user when started by root (initdb refuses root), with
# max_connections raised for fleets. env.sh exports both forms: CHRONOFORGE_*_SOCKET_URL for
# local clients (the demo, the bench), the TCP ones for tests (the fault proxy needs TCP).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

usage() { echo "usage: $0 start|stop|start-redis|stop-redis|restart-redis|start-pg|stop-pg DIR [options]" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1; dir=$2; shift 2

REDIS_PASSWORD=${CF_SERVICES_REDIS_PASSWORD:-cf-test-secret-5b1e}
REDIS_ACL_USER=cfuser
REDIS_ACL_PASSWORD=${CF_SERVICES_REDIS_ACL_PASSWORD:-cf-acl-secret-77d2}

pg_bin() {
  for d in "${PG_BIN:-}" "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/15/bin /usr/local/bin; do
    [ -n "$d" ] && [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  echo "services: no initdb found (install postgresql-15)" >&2; exit 1
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

wait_gone() {  # PID: poll until the process has exited (10 s)
  for _ in $(seq 1 200); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
  echo "services: process $1 did not exit" >&2; return 1
}

start_redis() {
  local port; port=$(cat "$dir/redis.port" 2>/dev/null || free_port)
  echo "$port" >"$dir/redis.port"
  mkdir -p "$dir/redis"
  cat >"$dir/redis/redis.conf" <<CONF
port $port
bind 127.0.0.1
unixsocket $dir/redis.sock
unixsocketperm 777
dir $dir/redis
save ""
appendonly ${CF_SERVICES_AOF:-no}
appendfsync everysec
requirepass $REDIS_PASSWORD
user $REDIS_ACL_USER on >$REDIS_ACL_PASSWORD ~* &* +@all
daemonize no
logfile $dir/redis/redis.log
CONF
  (redis-server "$dir/redis/redis.conf" >/dev/null 2>&1 & echo $! >"$dir/redis.pid")
  for _ in $(seq 1 200); do
    REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -s "$dir/redis.sock" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.05
  done
  echo "services: redis did not start; see $dir/redis/redis.log" >&2; return 1
}

stop_redis() {
  [ -f "$dir/redis.pid" ] || return 0
  local pid; pid=$(cat "$dir/redis.pid")
  kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid"; rm -f "$dir/redis.pid"
}

start_pg() {
  local bin port; bin=$(pg_bin); port=$(cat "$dir/pg.port" 2>/dev/null || free_port)
  echo "$port" >"$dir/pg.port"
  if [ ! -d "$dir/pg" ]; then
    install -d -m 700 "$dir/pg"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir/pg"
    as_pg "$bin/initdb" -D "$dir/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
      { echo "services: initdb failed; see $dir/initdb.log" >&2; return 1; }
    echo "include_if_exists = 'chronoforge.conf'" >>"$dir/pg/postgresql.conf"
  fi
  case ${CF_SERVICES_PG_SETTINGS:-recommended} in
    recommended) install -m 644 "$root/deploy/postgres/chronoforge.conf" "$dir/pg/chronoforge.conf" ;;
    stock) rm -f "$dir/pg/chronoforge.conf" ;;
    *) echo "services: CF_SERVICES_PG_SETTINGS must be recommended or stock" >&2; return 1 ;;
  esac
  install -d -m 755 "$dir/pgsock"
  [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir/pgsock"
  install -m 666 /dev/null "$dir/pg.log" 2>/dev/null || true
  local fsync=${FSYNC:-off} preload=()
  [ -z "${CF_SERVICES_PG_PRELOAD:-}" ] || preload=(env "LD_PRELOAD=$CF_SERVICES_PG_PRELOAD")
  as_pg "${preload[@]}" "$bin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w -t 60 -o \
    "-p $port -c listen_addresses=127.0.0.1 -k $dir/pgsock -c fsync=$fsync -c max_connections=400 \
     -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all" start >/dev/null ||
    { echo "services: postgres did not start; see $dir/pg.log" >&2; return 1; }
  head -1 "$dir/pg/postmaster.pid" >"$dir/pg.pid"
}

stop_pg() {  # [mode]: fast (default) or immediate
  [ -f "$dir/pg.pid" ] || return 0
  local pid sig=INT; pid=$(cat "$dir/pg.pid")
  [ "${1:-fast}" = immediate ] && sig=QUIT
  kill -"$sig" "$pid" 2>/dev/null || true
  wait_gone "$pid"; rm -f "$dir/pg.pid"
}

write_env() {
  local rport pport; rport=$(cat "$dir/redis.port"); pport=$(cat "$dir/pg.port")
  cat >"$dir/env.sh" <<ENV
export CF_SERVICES_DIR='$dir'
export CHRONOFORGE_REDIS_URL='redis://:$REDIS_PASSWORD@127.0.0.1:$rport/0'
export CHRONOFORGE_DATABASE_URL='postgresql://postgres@127.0.0.1:$pport/chronoforge'
export CF_TEST_REDIS_URL='redis://:$REDIS_PASSWORD@127.0.0.1:$rport/0'
export CF_TEST_REDIS_ACL_URL='redis://$REDIS_ACL_USER:$REDIS_ACL_PASSWORD@127.0.0.1:$rport/1'
export CF_TEST_REDIS_UNIX_URL='unix://:$REDIS_PASSWORD@$dir/redis.sock?db=2'
export CF_TEST_REDIS_PASSWORD='$REDIS_PASSWORD'
export CF_TEST_REDIS_PORT='$rport'
export CF_TEST_REDIS_SOCK='$dir/redis.sock'
export CF_TEST_PG_DSN='host=127.0.0.1 port=$pport user=postgres dbname=chronoforge'
export CF_TEST_PG_ADMIN_DSN='host=127.0.0.1 port=$pport user=postgres dbname=postgres'
export CF_TEST_PG_PORT='$pport'
export CF_TEST_PG_HOST='127.0.0.1'
export CF_TEST_PG_SOCKET_DIR='$dir/pgsock'
export CHRONOFORGE_REDIS_SOCKET_URL='unix://:$REDIS_PASSWORD@$dir/redis.sock?db=0'
export CHRONOFORGE_DATABASE_SOCKET_URL='host=$dir/pgsock port=$pport user=postgres dbname=chronoforge'
export CF_PG_SOCKET_ADMIN_DSN='host=$dir/pgsock port=$pport user=postgres dbname=postgres'
ENV
}

case $cmd in
  start)
    while [ $# -gt 0 ]; do
      case $1 in --fsync) FSYNC=$2; shift 2 ;; *) usage ;; esac
    done
    mkdir -p "$dir"; chmod 755 "$dir"
    echo "${FSYNC:-off}" >"$dir/fsync"
    start_redis
    start_pg
    psql -q -X "host=127.0.0.1 port=$(cat "$dir/pg.port") user=postgres dbname=postgres" \
      -c 'CREATE DATABASE chronoforge' >/dev/null
    write_env
    cat "$dir/env.sh"
    ;;
  stop) stop_redis; stop_pg ;;
  start-redis) start_redis ;;
  stop-redis) stop_redis ;;
  kill-redis) kill -KILL "$(cat "$dir/redis.pid")"; wait_gone "$(cat "$dir/redis.pid")"; rm -f "$dir/redis.pid" ;;
  restart-redis) stop_redis; start_redis ;;
  start-pg) FSYNC=$(cat "$dir/fsync" 2>/dev/null || echo off) start_pg ;;
  stop-pg) stop_pg "${1:-fast}" ;;
  *) usage ;;
esac
