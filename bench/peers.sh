# shellcheck shell=bash disable=SC2034,SC2154
# (sourced by bench/run.sh, which defines the variables it reads and reads those it sets)
# bench/peers.sh: the peers of bench/run.sh (sourced): BullMQ, Sidekiq, DBOS Transact and
# graphile-worker against the same Redis and Postgres as chronoforge. A figure that could not be
# taken is "n/a (reason)" and the peer's stderr is shown in the log. Each peer reaches the
# servers over the transport its client supports: BullMQ (ioredis `path`) and the Postgres
# peers (node-postgres `?host=DIR`) over the unix sockets when run.sh uses them; Sidekiq over
# TCP (redis-rb 4.8 drops the password of a unix:// URL). The table says which.

peer_ready() { [ -f "$root/bench/peers/$1/node_modules/.cf-installed-lock" ]; }
peer_version() { node -p "require('$root/bench/peers/$1/node_modules/$2/package.json').version" 2>/dev/null || echo "?"; }
peer_failed() { # NAME CONC: logs the tail of its stderr; prints the table cell
  log "$1 c=$2 failed: $(tail -5 "$dir/$1.err")"
  echo "n/a (failed: $(tail -1 "$dir/$1.err" | tr -d '|' | cut -c1-80))"
}
field() { sed -n "s/.*$1=\\([0-9.]*\\).*/\\1/p" <<<"$2"; }

bullmq() { # CONC: sets bq
  local res where=$rport
  [ "$transport" = unix ] && where=$CF_TEST_REDIS_SOCK
  peer_ready bullmq || { bq="n/a (not installed: deploy/install-deps.sh --bench)"; return; }
  rcli flushall >/dev/null
  if ! res=$(node "$root/bench/peers/bullmq/bench.js" "$where" "$CF_TEST_REDIS_PASSWORD" "$N" "$1" 2>"$dir/bullmq.err"); then
    bq=$(peer_failed bullmq "$1"); return
  fi
  bq=$(field jobs_per_s "$res")
  log "bullmq c=$1: $bq jobs/s"
}

# pg_peer NAME CONC: bench/peers/NAME/bench.js on a fresh database of its own on the same
# Postgres server; sets pr (jobs/s) and pc (commits/job over its processing phase).
pg_peer() {
  local db="${1//-/_}_c$2" res url
  pc="n/a"
  peer_ready "$1" || { pr="n/a (not installed: deploy/install-deps.sh --bench)"; return; }
  q "$admin" "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  q "$admin" "CREATE DATABASE $db" >/dev/null
  url="postgresql://postgres@127.0.0.1:$CF_TEST_PG_PORT/$db"
  [ "$transport" = unix ] && url="postgresql://postgres@localhost:$CF_TEST_PG_PORT/$db?host=$CF_TEST_PG_SOCKET_DIR"
  if ! res=$(node "$root/bench/peers/$1/bench.js" "$url" "$N" "$2" 2>"$dir/$1.err"); then
    pr=$(peer_failed "$1" "$2"); return
  fi
  pr=$(field jobs_per_s "$res"); pc=$(field commits_per_job "$res")
  log "$1 c=$2: $pr jobs/s, $pc commits/job"
}

sidekiq() { # CONC: sets sk
  local d="$root/bench/peers/sidekiq" t0 t1 sp
  command -v sidekiq >/dev/null || { sk="n/a (ruby-sidekiq not installed)"; return; }
  rcli flushall >/dev/null
  export REDIS_URL="redis://:$CF_TEST_REDIS_PASSWORD@127.0.0.1:$rport/0"
  /usr/bin/ruby "$d/enqueue.rb" "$N"
  (cd "$d" && exec sidekiq -r ./worker.rb -c "$1" -q cfbench) >"$dir/sidekiq.log" 2>&1 &
  sp=$!; pids+=("$sp")
  for _ in $(seq 1 1200); do [ -n "$(rcli get "cfbench:t:$((N - 1))")" ] && break; sleep 0.1; done
  t0=$(rcli get cfbench:t:0); t1=$(rcli get "cfbench:t:$((N - 1))")
  kill -TERM "$sp"; wait "$sp" 2>/dev/null || true
  if [ -n "$t1" ]; then sk=$(awk -v a="$t0" -v b="$t1" -v n="$N" 'BEGIN {printf "%.0f", (n - 1) / (b - a)}')
  else sk="n/a (timeout)"; fi
  log "sidekiq c=$1: $sk jobs/s"
}
