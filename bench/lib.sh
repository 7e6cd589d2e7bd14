# shellcheck shell=bash disable=SC2034,SC2154
# (sourced by bench/run.sh, which defines the variables it reads and reads those it sets)
# bench/lib.sh: the measuring helpers of bench/run.sh (sourced, never run): the transport
# (unix sockets or TCP loopback), fresh databases, worker processes, per-process CPU accounting,
# Redis round trips from the workers' /metrics, and one throughput run, against the services'
# single Redis or against a Redis Cluster's nodes (redis_nodes, set by the cluster section). Expects from run.sh:
# $root $dir $cf $wf $N, the services' env.sh sourced, the array pids, and log().

admin=$CF_TEST_PG_ADMIN_DSN
rport=$CF_TEST_REDIS_PORT
tck=$(getconf CLK_TCK)
rcli() { redis-cli -s "$CF_TEST_REDIS_SOCK" -a "$CF_TEST_REDIS_PASSWORD" --no-auth-warning "$@"; }

# ---- the Redis under test: the services' redis-server, or (redis_nodes non-empty: "PORT ...",
# with redis_nodes_password) a cluster's nodes, masters and replicas. throughput() flushes it,
# counts its commands (INFO commandstats: on the masters only, a replica's copies of them
# left out) and its CPU (every node: replication is part of what the cluster costs).
redis_nodes=""
redis_nodes_password=""
rnode() { local port=$1; shift; redis-cli -p "$port" -a "$redis_nodes_password" --no-auth-warning "$@"; }
redis_masters() {
  local p
  for p in $redis_nodes; do
    [ "$(rnode "$p" role | head -1)" = master ] && echo "$p"
  done
  return 0
}
redis_flush() {
  local p
  if [ -z "$redis_nodes" ]; then rcli flushall >/dev/null; return; fi
  for p in $(redis_masters); do rnode "$p" flushall >/dev/null; done
}
commandstats_calls() { sed -n 's/.*:calls=\([0-9]*\),.*/\1/p' | awk '{s += $1} END {print s + 0}'; }
redis_calls() {
  local p
  if [ -z "$redis_nodes" ]; then rcli info commandstats | commandstats_calls; return; fi
  for p in $(redis_masters); do rnode "$p" info commandstats; done | commandstats_calls
}
# master_calls: "PORT CALLS" per cluster master (empty for a single Redis).
master_calls() {
  local p
  for p in $(redis_masters); do echo "$p $(rnode "$p" info commandstats | commandstats_calls)"; done
}
redis_pids() {
  local p
  if [ -z "$redis_nodes" ]; then cat "$dir/redis.pid"; return; fi
  for p in $redis_nodes; do
    rnode "$p" info server | sed -n 's/^process_id:\([0-9]*\).*/\1/p'
  done
}
q() { psql -qAtX "$1" -c "$2"; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rel() { case $1 in "$root"/*) echo "${1#"$root"/}" ;; *) echo "$1" ;; esac; }

# set_transport unix|tcp: how chronoforge (worker, producer, await) reaches Redis and Postgres.
# Sets redis_url, pg_conn (libpq host/port), transport and transport_label.
set_transport() {
  transport=$1
  case $1 in
    unix)
      redis_url=$CHRONOFORGE_REDIS_SOCKET_URL
      pg_conn="host=$CF_TEST_PG_SOCKET_DIR port=$CF_TEST_PG_PORT"
      transport_label="unix sockets (Redis \`unix://:PW@DIR/redis.sock?db=0\`, Postgres \`host=DIR/pgsock\`)" ;;
    tcp)
      redis_url=$CF_TEST_REDIS_URL
      pg_conn="host=127.0.0.1 port=$CF_TEST_PG_PORT"
      transport_label="TCP loopback (127.0.0.1)" ;;
    *) echo "bench: transport must be unix or tcp" >&2; exit 2 ;;
  esac
}

# fresh_db NAME: an empty, migrated database; sets $dsn (over the current transport).
fresh_db() {
  q "$admin" "DROP DATABASE IF EXISTS $1" >/dev/null 2>&1
  q "$admin" "CREATE DATABASE $1" >/dev/null
  dsn="$pg_conn user=postgres dbname=$1"
  q "$dsn" "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
  CHRONOFORGE_DATABASE_URL=$dsn "$cf" migrate >/dev/null
}
xid_now() { q "$admin" "SELECT pg_current_xact_id()::text::bigint"; }
xact() { sleep 1.2; q "$dsn" "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }

# start_workers COUNT CONCURRENCY: each with --metrics-listen on a free port and the extra
# arguments in the array worker_args (default none); PIDs in $wpids, metrics ports in $wports.
# With several bench_queues (throughput() spreads its workflows over them), worker i takes them
# in an order rotated by i: queues are taken highest priority first, so without the rotation
# every worker would drain one queue after the other.
worker_args=()
bench_queues=default
start_workers() {
  wpids=(); wports=()
  local port i=0 qs=() qargs=()
  read -ra qs <<<"$bench_queues"
  for _ in $(seq 1 "$1"); do
    port=$(free_port)
    qargs=()
    if [ "${#qs[@]}" -gt 1 ]; then
      qargs=(-q "$(printf '%s\n' "${qs[@]:$((i % ${#qs[@]}))}" "${qs[@]:0:$((i % ${#qs[@]}))}" | paste -sd, -)")
    fi
    i=$((i + 1))
    CHRONOFORGE_REDIS_URL=$redis_url CHRONOFORGE_DATABASE_URL=$dsn \
      "$cf" worker -c "$2" --metrics-listen "127.0.0.1:$port" "${qargs[@]}" "${worker_args[@]}" >>"$dir/worker.log" 2>&1 &
    wpids+=($!); pids+=($!); wports+=("$port")
  done
}
stop_workers() {
  local p
  for p in "${wpids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${wpids[@]}"; do wait "$p" 2>/dev/null || true; done
}
# round_trips: the sum of chronoforge_redis_round_trips_total over the running workers, or empty
# when a scrape fails.
round_trips() {
  local port v s=0
  for port in "${wports[@]}"; do
    v=$(curl -sf "http://127.0.0.1:$port/metrics" | awk '$1 == "chronoforge_redis_round_trips_total" {print $2}') || return 0
    [ -n "$v" ] || return 0
    s=$((s + v))
  done
  echo "$s"
}

# ---- CPU accounting: /proc/PID/stat utime+stime (ticks), per process
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_pids() { local pm; pm=$(cat "$dir/pg.pid"); echo "$pm"; pgrep -P "$pm" || true; }
pg_snap() { local p; for p in $(pg_pids); do echo "$p $(ticks "$p")"; done; }
# pg_delta FILE0 FILE1: "total_ticks hottest_ticks hottest_pid" over the processes alive at FILE1
# (a backend that exited in between is not counted; the workers' connections live throughout).
pg_delta() {
  awk 'NR == FNR {a[$1] = $2; next} {d = $2 - ($1 in a ? a[$1] : 0); s += d; if (d > m) {m = d; p = $1}}
       END {print s + 0, m + 0, p + 0}' "$1" "$2"
}
# busy_ticks: all cores' non-idle jiffies (/proc/stat), to see what other processes took.
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
# hottest_thread PID...: "ticks tid comm" of the busiest thread of these processes.
hottest_thread() {
  local p t
  for p in "$@"; do
    for t in /proc/"$p"/task/*; do
      # a thread may end meanwhile: never a failed status (the bench runs under pipefail, set -e)
      if [ -r "$t/stat" ]; then
        echo "$(awk '{print $14 + $15}' "$t/stat" 2>/dev/null) ${t##*/} $(tr -d ' ' <"$t/comm" 2>/dev/null)"
      fi
    done
  done | sort -n | tail -1
}
pct() { awk -v t="$1" -v w="$2" -v k="$tck" 'BEGIN {if (w > 0) printf "%.0f", t / k / w * 100; else print "n/a"}'; }
us_per() { awk -v t="$1" -v n="$2" -v k="$tck" 'BEGIN {printf "%.0f", t / k * 1e6 / n}'; }

# throughput PROCS CONC TAG [N] [KWARGS]: N Exerciser workflows (KWARGS, default one step:
# '{"steps":1}') enqueued first, then the workers
# started and timed until all are completed. Sets tp (workflows/s over the store's span from the
# first run begin to the last completion), cpw (commits/workflow: xact_commit delta / N, the
# read-only ones included), dcw (durable commits/workflow: write transactions, xid delta / N), walw
# (WAL bytes/workflow: the server's pg_current_wal_lsn delta / N, every database), rpw
# (Redis commands/workflow: INFO commandstats delta / N; rshare: each cluster master's share), rtw (Redis round trips/workflow from
# the workers' /metrics just before they stop), hwm (VmHWM of the first worker, kB), and the CPU
# figures: cpu_w cpu_r cpu_p (µs per workflow: workers, every redis-server, all Postgres processes),
# cpu_rmax (µs per workflow of the busiest redis-server),
# util_w util_r util_p (% of one core over the run's wall time), hot (the busiest single process
# or thread), busy_all (% of all cores busy, every process of the machine), sat (what saturates).
throughput() {
  local n=${4:-$N} kwargs=${5:-'{"steps":1}'} x0 r0 res span w0 w1 b0 b1 rt pgd hp ht wall_s wt=0 p hpid
  redis_flush
  local bq nq=0 each; for bq in $bench_queues; do nq=$((nq + 1)); done
  if [ "$nq" -eq 1 ]; then
    "$wf" produce "$redis_url" chronoforge "$bench_queues" Exerciser "$3" "$n" "$kwargs" >/dev/null
  else # keys TAG-QUEUE-i, so that `await TAG` counts them all; n split evenly
    each=$((n / nq)); n=$((each * nq))
    for bq in $bench_queues; do
      "$wf" produce "$redis_url" chronoforge "$bq" Exerciser "$3-$bq" "$each" "$kwargs" >/dev/null
    done
  fi
  x0=$(xact); r0=$(redis_calls); master_calls >"$dir/mc0"
  local xid0; xid0=$(xid_now)
  local lsn0; lsn0=$(q "$admin" "SELECT pg_current_wal_lsn()")
  local rpids rp; rpids=$(redis_pids)
  local -A rt0
  for rp in $rpids; do rt0[$rp]=$(ticks "$rp"); done
  pg_snap >"$dir/pg0"
  b0=$(busy_ticks); w0=$(date +%s%N)
  start_workers "$1" "$2"
  if ! res=$("$wf" await "$dsn" Exerciser "$3" "$n" 900 2>>"$dir/await.err"); then
    stop_workers
    tp="n/a (timeout: $(tail -1 "$dir/await.err"))"; cpw=n/a; dcw=n/a; walw=n/a; rpw=n/a; rshare=n/a; rtw=n/a; hwm=n/a; sat=n/a
    cpu_w=n/a; cpu_r=n/a; cpu_rmax=n/a; cpu_p=n/a; util_w=n/a; util_r=n/a; util_p=n/a; hot=n/a; busy_all=n/a
    log "throughput procs=$1 c=$2: $tp"; return
  fi
  w1=$(date +%s%N); b1=$(busy_ticks)
  pg_snap >"$dir/pg1"
  # rt: every Redis node's CPU over the run; rtm: the busiest node's (one thread does a node's
  # commands, so a node saturates at one core)
  local rd rtm=0; rt=0
  for rp in $rpids; do
    rd=$(($(ticks "$rp") - ${rt0[$rp]}))
    rt=$((rt + rd))
    if [ "$rd" -gt "$rtm" ]; then rtm=$rd; fi
  done
  for p in "${wpids[@]}"; do
    wt=$((wt + $(ticks "$p")))
  done
  ht=$(hottest_thread "${wpids[@]}")
  local trips; trips=$(round_trips)
  hwm=$(sed -n 's/^VmHWM:[^0-9]*\([0-9]*\).*/\1/p' "/proc/${wpids[0]}/status")
  stop_workers
  span=${res#*span_s=}
  tp=$(awk -v n="$n" -v s="$span" 'BEGIN {printf "%.0f", n / s}')
  cpw=$(awk -v a="$x0" -v b="$(xact)" -v n="$n" 'BEGIN {printf "%.3f", (b - a) / n}')
  # Write transactions: only a transaction that writes gets a transaction id, so the id delta
  # (less the two probes' own) counts the durable commits, read-only ones left out.
  dcw=$(awk -v a="$xid0" -v b="$(xid_now)" -v n="$n" 'BEGIN {printf "%.3f", (b - a - 1) / n}')
  walw=$(q "$admin" "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0') / $n)")
  rpw=$(awk -v a="$r0" -v b="$(redis_calls)" -v n="$n" 'BEGIN {printf "%.2f", (b - a) / n}')
  # rshare: each master's share of the commands (cluster only), e.g. "61/20/19%"
  master_calls >"$dir/mc1"
  rshare=$(awk 'NR == FNR {a[$1] = $2; next} {d[++k] = $2 - a[$1]; s += d[k]}
    END {if (s > 0) {for (i = 1; i <= k; i++) printf "%s%.0f", (i > 1 ? "/" : ""), d[i] * 100 / s; print "%"}}' "$dir/mc0" "$dir/mc1")
  if [ -n "$trips" ]; then rtw=$(awk -v t="$trips" -v n="$n" 'BEGIN {printf "%.2f", t / n}')
  else rtw="n/a (a worker's /metrics scrape failed)"; fi
  read -r pgd hp hpid <<<"$(pg_delta "$dir/pg0" "$dir/pg1")"
  wall_s=$(awk -v a="$w0" -v b="$w1" 'BEGIN {print (b - a) / 1e9}')
  cpu_w=$(us_per "$wt" "$n"); cpu_r=$(us_per "$rt" "$n"); cpu_p=$(us_per "$pgd" "$n")
  cpu_rmax=$(us_per "$rtm" "$n") # the busiest Redis node's CPU per workflow: its ceiling is 1 core
  util_w=$(pct "$wt" "$wall_s"); util_r=$(pct "$rt" "$wall_s"); util_p=$(pct "$pgd" "$wall_s")
  busy_all=$(pct $((b1 - b0)) "$wall_s")
  # The busiest single schedulable unit: redis-server (one thread does the commands), one
  # Postgres process, or one worker thread.
  local u_r u_pg u_th th_t th_id th_name
  read -r th_t th_id th_name <<<"$ht"
  u_r=$(pct "$rtm" "$wall_s"); u_pg=$(pct "$hp" "$wall_s"); u_th=$(pct "${th_t:-0}" "$wall_s")
  local rname="redis-server"; [ -z "$redis_nodes" ] || rname="busiest redis-server"
  hot="$rname $u_r%, busiest postgres process $u_pg% (pid $hpid), busiest worker thread $u_th% (${th_name:-?})"
  local cores; cores=$(nproc)
  if [ "$u_r" -ge 90 ]; then sat="$rname ($u_r% of a core)"
  elif [ "$u_pg" -ge 90 ]; then sat="one postgres process (pid $hpid, $u_pg% of a core)"
  elif [ "$u_th" -ge 90 ]; then sat="one worker thread (${th_name:-?}, $u_th% of a core)"
  elif [ "$busy_all" -ge $((cores * 90)) ]; then sat="none: the $cores cores are shared (machine $busy_all% of $((cores * 100))%)"
  else sat="nothing CPU-bound (machine $busy_all% of $((cores * 100))%): waits (fsync, round trips) bound it"; fi
  log "throughput procs=$1 c=$2 $transport: $tp wf/s ($res) commits/wf=$cpw wal bytes/wf=$walw redis cmds/wf=$rpw round trips/wf=$rtw cpu us/wf worker=$cpu_w redis=$cpu_r pg=$cpu_p; $hot; saturates: $sat"
}
cpu_ms() { awk '{print ($14 + $15) * 1000 / '"$tck"'}' "/proc/$1/stat"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a"}'; }
