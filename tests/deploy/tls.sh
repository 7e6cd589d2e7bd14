#!/usr/bin/env bash
# tests/deploy/tls.sh BIN: transport security end to end (README, "Transport security"). The
# test makes a CA and a server certificate for localhost with openssl, starts a Postgres that
# accepts only TLS connections (pg_hba: hostssl) and a Redis that listens only on its TLS port,
# and runs deploy/stunnel/chronoforge-redis.conf (addresses and CA replaced) in front of Redis.
# A worker then reaches Postgres with sslmode=verify-full and Redis through the tunnel, and a
# workflow completes. It also checks what must fail: Postgres without TLS, Postgres under
# another CA, Redis without TLS, the tunnel to a server with an untrusted certificate.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
dir=$(mktemp -d /tmp/cf-tls.XXXXXX)
chmod 755 "$dir"
pids=()
pg_bin=/usr/lib/postgresql/15/bin
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  local pg=
  [ -f "$dir/pg/postmaster.pid" ] && pg=$(head -1 "$dir/pg/postmaster.pid") && kill -INT "$pg" 2>/dev/null
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  for _ in $(seq 100); do [ -n "$pg" ] && kill -0 "$pg" 2>/dev/null && sleep 0.1; done
  rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "tls: FAIL: $*" >&2; for f in "$dir"/*.log; do echo "--- $f" >&2; tail -5 "$f" >&2; done; exit 1; }
ok() { echo "tls: ok: $*"; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
wait_for() { # SECONDS CMD...: until CMD succeeds
  local t=$(($1 * 10)); shift
  for _ in $(seq "$t"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}

# --- certificates: a CA, a server certificate for localhost / 127.0.0.1, and a second CA
ca() { openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$2" -keyout "$dir/$1.key" -out "$dir/$1.crt" 2>/dev/null; }
ca ca "chronoforge test CA"
ca other "another CA"
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$dir/san.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
  -extfile "$dir/san.ext" -out "$dir/server.crt" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost -keyout "$dir/self.key" -out "$dir/self.crt" \
  -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' 2>/dev/null
chmod 644 "$dir"/*.crt "$dir"/*.key

# --- Postgres: TLS only
pg_port=$(free_port)
install -d -m 700 "$dir/pg" "$dir/pgssl"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir/pg" "$dir/pgssl"
cp "$dir/server.crt" "$dir/server.key" "$dir/pgssl/"
chmod 600 "$dir/pgssl/server.key"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir/pgssl"/*
as_pg "$pg_bin/initdb" -D "$dir/pg" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1
cat >"$dir/pg/pg_hba.conf" <<HBA
local     all all               trust
hostssl   all all 127.0.0.1/32  trust
host      all all 127.0.0.1/32  reject
HBA
install -m 666 /dev/null "$dir/pg.log"
as_pg "$pg_bin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w -t 60 -o "-p $pg_port -c listen_addresses=127.0.0.1 \
  -k $dir/pg -c fsync=off -c ssl=on -c ssl_cert_file=$dir/pgssl/server.crt -c ssl_key_file=$dir/pgssl/server.key" \
  start >/dev/null || fail "postgres did not start"
psql "host=$dir/pg port=$pg_port user=postgres dbname=postgres" -qc 'CREATE DATABASE chronoforge' >/dev/null
db_tls="host=localhost port=$pg_port user=postgres dbname=chronoforge sslmode=verify-full sslrootcert=$dir/ca.crt"

# --- Redis: the TLS port only, a password
redis_tls=$(free_port)
redis-server --port 0 --tls-port "$redis_tls" --bind 127.0.0.1 --tls-cert-file "$dir/server.crt" \
  --tls-key-file "$dir/server.key" --tls-ca-cert-file "$dir/ca.crt" --tls-auth-clients no \
  --requirepass tls-test-pw --save '' --appendonly no >"$dir/redis.log" 2>&1 &
pids+=($!)
wait_for 10 redis-cli --tls --cacert "$dir/ca.crt" -h localhost -p "$redis_tls" -a tls-test-pw --no-auth-warning ping ||
  fail "redis did not start on its TLS port"

# --- the tunnel: the committed configuration, pointed at this Redis and CA
tunnel() { # NAME ACCEPT_PORT CONNECT_PORT CAFILE
  sed -e "s|^accept = .*|accept = 127.0.0.1:$2|" -e "s|^connect = .*|connect = 127.0.0.1:$3|" \
    -e "s|^CAfile = .*|CAfile = $4|" -e "s|^checkHost = .*|checkHost = localhost|" \
    "$root/deploy/stunnel/chronoforge-redis.conf" >"$dir/$1.conf"
  grep -q "^accept = 127.0.0.1:$2$" "$dir/$1.conf" || fail "the stunnel example has no accept line"
  stunnel "$dir/$1.conf" >"$dir/$1.log" 2>&1 &
  pids+=($!)
}
plain=$(free_port)
tunnel stunnel "$plain" "$redis_tls" "$dir/ca.crt"
wait_for 10 redis-cli -h 127.0.0.1 -p "$plain" -a tls-test-pw --no-auth-warning ping || fail "no PONG through the tunnel"
ok "redis answers through the tunnel"

# --- what must fail
! psql "host=127.0.0.1 port=$pg_port user=postgres dbname=chronoforge sslmode=disable" -Atc 'select 1' >/dev/null 2>&1 ||
  fail "postgres accepted a connection without TLS"
out=$(CHRONOFORGE_DATABASE_URL="${db_tls/ca.crt/other.crt}" "$bin" migrate 2>&1) &&
  fail "migrate trusted a server certificate from another CA"
grep -qi "certificate verify failed" <<<"$out" || fail "unexpected error under another CA: $out"
ok "postgres refuses plain connections; verify-full refuses a certificate of another CA"
[ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$redis_tls" -a tls-test-pw --no-auth-warning ping 2>/dev/null)" != PONG ] ||
  fail "redis answered without TLS"
redis_self=$(free_port)
redis-server --port 0 --tls-port "$redis_self" --bind 127.0.0.1 --tls-cert-file "$dir/self.crt" \
  --tls-key-file "$dir/self.key" --tls-auth-clients no --requirepass tls-test-pw --save '' \
  --appendonly no >"$dir/redis-self.log" 2>&1 &
pids+=($!)
wait_for 10 redis-cli --tls --insecure -h 127.0.0.1 -p "$redis_self" -a tls-test-pw --no-auth-warning ping ||
  fail "the self-signed redis did not start"
untrusted=$(free_port)
tunnel stunnel-untrusted "$untrusted" "$redis_self" "$dir/ca.crt"
sleep 0.5
[ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$untrusted" -a tls-test-pw --no-auth-warning ping 2>/dev/null)" != PONG ] ||
  fail "the tunnel trusted a certificate not from its CA"
ok "redis refuses plain clients; the tunnel refuses an untrusted server"

# --- a worker over both, a workflow to completion
export CHRONOFORGE_DATABASE_URL="$db_tls"
export CHRONOFORGE_REDIS_URL="redis://:tls-test-pw@127.0.0.1:$plain/0"
export CHRONOFORGE_PREFIX=cftls CHRONOFORGE_TEST_WORKFLOWS=1
"$bin" migrate >"$dir/migrate.log" 2>&1 || fail "migrate over verify-full"
"$bin" worker -c 2 >"$dir/worker.log" 2>&1 &
worker=$!
pids+=("$worker")
"$bin" enqueue Exerciser tls-1 --kwargs '{"steps": 3}' >/dev/null || fail "enqueue through the tunnel"
done_() { "$bin" status tls-1 --json | /usr/bin/python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["state"] != "completed")'; }
wait_for 60 done_ || fail "workflow tls-1 did not complete"
n=$(psql "host=$dir/pg port=$pg_port user=postgres dbname=chronoforge" -Atc \
  "select count(*) from pg_stat_ssl s join pg_stat_activity a using (pid) where s.ssl and a.application_name like 'chronoforge%'")
[ "$n" -ge 2 ] || fail "the worker's store connections are not TLS ($n)"
kill -TERM "$worker"
wait "$worker" || fail "the worker did not drain cleanly"
grep -q "tls-test-pw" "$dir/worker.log" && fail "the Redis password appears in the worker's log"
ok "a worker over verify-full Postgres and tunnelled Redis completed a workflow ($n TLS store connections)"
