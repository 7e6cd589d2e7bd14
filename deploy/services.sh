#!/usr/bin/env bash
# deploy/services.sh: a throwaway Redis and Postgres for tests, the demo and benchmarks.
#   services.sh start DIR [--fsync on|off] [--redis-cluster]
#                                            start both in DIR, wait until ready, write DIR/env.sh
#   services.sh stop DIR                     stop both by PID (Postgres: fast shutdown), wait for exit
#   services.sh restart-redis DIR | stop-redis DIR | start-redis DIR | kill-redis DIR  (fault tests;
#                                            in cluster mode they act on every node)
#   services.sh stop-pg DIR [immediate] | start-pg DIR                  (fault tests)
#   services.sh kill-node DIR PORT | start-node DIR PORT   (cluster: SIGKILL one node and wait until
#                                            it is gone | restart it from its config and nodes.conf)
#   services.sh cluster-master-ports DIR     (cluster: the ports of the masters serving slots now)
# --redis-cluster: instead of the single Redis, a Redis Cluster of 6 nodes (3 masters, 3 replicas)
# on free 127.0.0.1 ports, node dirs DIR/cluster/<port>/, DIR/cluster/ports lists them (masters
# first, as created), DIR/redis.mode says cluster (single otherwise). The nodes share the single
# Redis's password (requirepass and masterauth) and ACL user; cluster-node-timeout is
# CF_SERVICES_CLUSTER_NODE_TIMEOUT ms (2000) so a killed master's replica takes over in seconds.
# env.sh then holds a redis+cluster:// URL of the first three ports, CF_TEST_REDIS_CLUSTER=1 and
# CF_TEST_REDIS_CLUSTER_PORTS, and no single-Redis variables (ACL/unix URLs, port, socket).
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

usage() {
  echo "usage: $0 start|stop|start-redis|stop-redis|restart-redis|kill-redis|start-pg|stop-pg|kill-node|start-node|cluster-master-ports DIR [options]" >&2
  exit 2
}
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

# --- Redis Cluster (--redis-cluster): 6 nodes, each DIR/cluster/<port>/{redis.conf,redis.pid,
# nodes.conf,redis.log}. The bus port is chosen free too (cluster-port), as port+10000 may not be.
# A replica always stands for election (validity factor 0: a test's replica may be idle a while)
# and syncs at once (no 5 s diskless-sync delay: start takes ~3 s instead of ~8).
rcli_node() {  # PORT ARGS...: redis-cli against one node, the password through the environment
  local port=$1; shift
  REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -h 127.0.0.1 -p "$port" "$@"
}

cluster_ports() { cat "$dir/cluster/ports"; }

write_node_conf() {  # PORT BUSPORT
  local nd=$dir/cluster/$1
  mkdir -p "$nd"
  cat >"$nd/redis.conf" <<CONF
port $1
cluster-port $2
bind 127.0.0.1
dir $nd
cluster-enabled yes
cluster-config-file nodes.conf
cluster-node-timeout ${CF_SERVICES_CLUSTER_NODE_TIMEOUT:-2000}
cluster-replica-validity-factor 0
repl-diskless-sync-delay 0
save ""
appendonly ${CF_SERVICES_AOF:-no}
appendfsync everysec
requirepass $REDIS_PASSWORD
masterauth $REDIS_PASSWORD
user $REDIS_ACL_USER on >$REDIS_ACL_PASSWORD ~* &* +@all
daemonize no
logfile $nd/redis.log
CONF
}

start_node() {  # PORT: start one node from its config (its nodes.conf makes it rejoin)
  local nd=$dir/cluster/$1
  [ -f "$nd/redis.conf" ] || { echo "services: no cluster node on port $1 in $dir" >&2; return 1; }
  if [ -f "$nd/redis.pid" ] && kill -0 "$(cat "$nd/redis.pid")" 2>/dev/null; then return 0; fi
  (redis-server "$nd/redis.conf" >/dev/null 2>&1 & echo $! >"$nd/redis.pid")
}

wait_node() {  # PORT: until the node answers PING (10 s)
  for _ in $(seq 1 200); do
    rcli_node "$1" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.05
  done
  echo "services: cluster node $1 did not start; see $dir/cluster/$1/redis.log" >&2; return 1
}

kill_node() {  # PORT: SIGKILL one node and wait until it is gone
  local pidf=$dir/cluster/$1/redis.pid pid
  [ -f "$pidf" ] || { echo "services: cluster node $1 is not running" >&2; return 1; }
  pid=$(cat "$pidf")
  kill -KILL "$pid" 2>/dev/null || true
  wait_gone "$pid"; rm -f "$pidf"
}

start_cluster_nodes() {
  local p
  for p in $(cluster_ports); do start_node "$p"; done
  for p in $(cluster_ports); do wait_node "$p" || return 1; done
  wait_cluster_ok
}

stop_cluster_nodes() {  # SIGNAL: TERM (a clean shutdown) or KILL
  local p pid pids=()
  [ -f "$dir/cluster/ports" ] || return 0
  for p in $(cluster_ports); do
    [ -f "$dir/cluster/$p/redis.pid" ] || continue
    pid=$(cat "$dir/cluster/$p/redis.pid")
    kill -"$1" "$pid" 2>/dev/null || true
    pids+=("$pid:$p")
  done
  for p in "${pids[@]}"; do wait_gone "${p%%:*}"; rm -f "$dir/cluster/${p#*:}/redis.pid"; done
}

# Ready when every node says cluster_state:ok, every replica's link to its master is up and
# `redis-cli --cluster check` finds the slots covered and agreed on (60 s).
wait_cluster_ok() {
  local p ok
  for _ in $(seq 1 300); do
    ok=1
    for p in $(cluster_ports); do
      rcli_node "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || { ok=0; break; }
      if rcli_node "$p" info replication 2>/dev/null | grep -q '^role:slave'; then
        rcli_node "$p" info replication | grep -q '^master_link_status:up' || { ok=0; break; }
      fi
    done
    if [ $ok = 1 ] && REDISCLI_AUTH=$REDIS_PASSWORD redis-cli --cluster check "127.0.0.1:$(cluster_ports | head -1)" \
      >"$dir/cluster/check.log" 2>&1 && ! grep -qE '^\[(ERR|WARNING)\]' "$dir/cluster/check.log"; then
      return 0
    fi
    sleep 0.2
  done
  echo "services: the cluster did not become ok; see $dir/cluster/*/redis.log and $dir/cluster/check.log" >&2
  return 1
}

create_cluster() {
  local ports p i addrs=()
  rm -rf "$dir/cluster"; mkdir -p "$dir/cluster"
  # 12 distinct free ports at once (6 clients + 6 buses): each socket stays bound until all are
  # picked, so none is handed out twice.
  ports=$(/usr/bin/python3 -c 'import socket
ss = [socket.socket() for _ in range(12)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
  read -ra ports <<<"$ports"
  for i in 0 1 2 3 4 5; do
    echo "${ports[$i]}" >>"$dir/cluster/ports"
    write_node_conf "${ports[$i]}" "${ports[$((i + 6))]}"
  done
  for p in $(cluster_ports); do start_node "$p"; done
  for p in $(cluster_ports); do wait_node "$p" || return 1; addrs+=("127.0.0.1:$p"); done
  # The first three become the masters; each of the last three replicates one of them.
  REDISCLI_AUTH=$REDIS_PASSWORD redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes \
    >"$dir/cluster/create.log" 2>&1 ||
    { echo "services: redis-cli --cluster create failed; see $dir/cluster/create.log" >&2; return 1; }
  wait_cluster_ok
}

# The masters serving slots now (CLUSTER NODES from the first node that answers), one per line.
cluster_master_ports() {
  local p out=
  for p in $(cluster_ports); do out=$(rcli_node "$p" cluster nodes 2>/dev/null) && [ -n "$out" ] && break; done
  [ -n "$out" ] || { echo "services: no cluster node answers" >&2; return 1; }
  echo "$out" | awk '$3 ~ /master/ && $3 !~ /fail/ && NF >= 9 { split($2, a, "[:@]"); print a[2] }' | sort -n
}

write_cluster_env() {
  local p1 p2 p3
  { read -r p1; read -r p2; read -r p3; } <"$dir/cluster/ports"
  local url="redis+cluster://:$REDIS_PASSWORD@127.0.0.1:$p1,127.0.0.1:$p2,127.0.0.1:$p3"
  cat >"$dir/env.sh" <<ENV
export CF_SERVICES_DIR='$dir'
export CHRONOFORGE_REDIS_URL='$url'
export CF_TEST_REDIS_URL='$url'
export CHRONOFORGE_REDIS_SOCKET_URL='$url'
export CF_TEST_REDIS_CLUSTER=1
export CF_TEST_REDIS_CLUSTER_PORTS='$(cluster_ports | tr '\n' ' ' | sed 's/ $//')'
export CF_TEST_REDIS_PASSWORD='$REDIS_PASSWORD'
ENV
}

cluster_mode() { [ "$(cat "$dir/redis.mode" 2>/dev/null || echo single)" = cluster ]; }
redis_start() { if cluster_mode; then start_cluster_nodes; else start_redis; fi; }
redis_stop() { if cluster_mode; then stop_cluster_nodes TERM; else stop_redis; fi; }
redis_kill() {
  if cluster_mode; then stop_cluster_nodes KILL; return; fi
  kill -KILL "$(cat "$dir/redis.pid")"; wait_gone "$(cat "$dir/redis.pid")"; rm -f "$dir/redis.pid"
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
  local pport; pport=$(cat "$dir/pg.port")
  if cluster_mode; then write_cluster_env; else write_single_env; fi
  cat >>"$dir/env.sh" <<ENV
export CHRONOFORGE_DATABASE_URL='postgresql://postgres@127.0.0.1:$pport/chronoforge'
export CF_TEST_PG_DSN='host=127.0.0.1 port=$pport user=postgres dbname=chronoforge'
export CF_TEST_PG_ADMIN_DSN='host=127.0.0.1 port=$pport user=postgres dbname=postgres'
export CF_TEST_PG_PORT='$pport'
export CF_TEST_PG_HOST='127.0.0.1'
export CF_TEST_PG_SOCKET_DIR='$dir/pgsock'
export CHRONOFORGE_DATABASE_SOCKET_URL='host=$dir/pgsock port=$pport user=postgres dbname=chronoforge'
export CF_PG_SOCKET_ADMIN_DSN='host=$dir/pgsock port=$pport user=postgres dbname=postgres'
ENV
}

write_single_env() {
  local rport; rport=$(cat "$dir/redis.port")
  cat >"$dir/env.sh" <<ENV
export CF_SERVICES_DIR='$dir'
export CHRONOFORGE_REDIS_URL='redis://:$REDIS_PASSWORD@127.0.0.1:$rport/0'
export CF_TEST_REDIS_URL='redis://:$REDIS_PASSWORD@127.0.0.1:$rport/0'
export CF_TEST_REDIS_ACL_URL='redis://$REDIS_ACL_USER:$REDIS_ACL_PASSWORD@127.0.0.1:$rport/1'
export CF_TEST_REDIS_UNIX_URL='unix://:$REDIS_PASSWORD@$dir/redis.sock?db=2'
export CF_TEST_REDIS_PASSWORD='$REDIS_PASSWORD'
export CF_TEST_REDIS_PORT='$rport'
export CF_TEST_REDIS_SOCK='$dir/redis.sock'
export CHRONOFORGE_REDIS_SOCKET_URL='unix://:$REDIS_PASSWORD@$dir/redis.sock?db=0'
ENV
}

case $cmd in
  start)
    mode=single
    while [ $# -gt 0 ]; do
      case $1 in --fsync) FSYNC=$2; shift 2 ;; --redis-cluster) mode=cluster; shift ;; *) usage ;; esac
    done
    mkdir -p "$dir"; chmod 755 "$dir"
    echo "${FSYNC:-off}" >"$dir/fsync"
    echo "$mode" >"$dir/redis.mode"
    if [ $mode = cluster ]; then create_cluster; else start_redis; fi
    start_pg
    psql -q -X "host=127.0.0.1 port=$(cat "$dir/pg.port") user=postgres dbname=postgres" \
      -c 'CREATE DATABASE chronoforge' >/dev/null
    write_env
    cat "$dir/env.sh"
    ;;
  stop) redis_stop; stop_pg ;;
  start-redis) redis_start ;;
  stop-redis) redis_stop ;;
  kill-redis) redis_kill ;;
  restart-redis) redis_stop; redis_start ;;
  kill-node) [ $# -eq 1 ] || usage; kill_node "$1" ;;
  start-node) [ $# -eq 1 ] || usage; start_node "$1"; wait_node "$1" ;;
  cluster-master-ports) cluster_master_ports ;;
  start-pg) FSYNC=$(cat "$dir/fsync" 2>/dev/null || echo off) start_pg ;;
  stop-pg) stop_pg "${1:-fast}" ;;
  *) usage ;;
esac
