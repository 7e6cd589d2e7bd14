# shellcheck shell=bash disable=SC2034,SC2154
# (sourced by bench/run.sh, which defines the variables it reads and reads those it sets)
# bench/cluster.sh: the fleet curve (1, 2, 4, 8 worker processes, -c 16) against the services'
# single Redis and then against a Redis Cluster of 3 masters and 3 replicas started with
# `deploy/services.sh start DIR --redis-cluster` (its env.sh: CHRONOFORGE_REDIS_URL
# redis+cluster://..., CF_TEST_REDIS_CLUSTER=1, CF_TEST_REDIS_CLUSTER_PORTS='p1 ... p6'), back to
# back on the same Postgres, with CPU per process kind (docs/scaling.md). Sets cluster_tp and
# cluster_single_tp (the two curves, "a/b/c/d" wf/s) for the goal table.

cluster_dir() { echo "$dir/cluster"; }

# cluster_row LABEL PROCS: one row of the table from throughput()'s figures.
cluster_row() {
  row "| $1 | $2 | $tp | $rpw | ${rshare:-} | $rtw | $cpu_w / $cpu_r / $cpu_p | $util_w / $util_r / $util_p | $busy_all% | $hot | $sat |"
}

sec_cluster() {
  local cdir p tps=() keep_url=$redis_url out env_vars cluster_on curl cports cpass aof why=""
  cdir=$(cluster_dir)
  row "## Fleet against one Redis and against a 3-master Redis Cluster"
  row ""
  row "The fleet curve (section 7) twice, back to back, on the same Postgres ($transport_label for Postgres), fresh database per run: first against the services' single redis-server over TCP loopback (\`redis://:PW@127.0.0.1:PORT/0\`), then against a Redis Cluster of 3 masters and 3 replicas started by \`CF_SERVICES_AOF=yes deploy/services.sh start DIR --redis-cluster\` (every node a redis-server on 127.0.0.1; the workers and the producer given its \`redis+cluster://\` URL). **This machine has $(nproc) cores: the cluster's 6 redis-servers, the workers and Postgres share them**, so the cluster rows measure what the cluster costs (CPU, round trips), not what it gains; on separate hosts each master has its own core. Redis cmds/wf = INFO commandstats calls delta / N over the masters (a replica's replayed copies left out); share = each master's part of those; CPU µs/wf redis = every redis-server of the run (the cluster: all 6, replication included); the rest as in section 7. Every workflow is on queue \`default\`: its queue keys (\`P:{default}:…\`) hash to one slot, so one master carries the take and ack traffic, and only the per-workflow locks (\`P:lock:…\`) and the per-worker held sets (\`P:held:<id>\`) spread over the others."
  row ""
  row "| Redis | processes | wf/s | Redis cmds/wf | share per master | Redis round trips/wf | CPU µs/wf workers / redis / postgres | % of a core workers / redis / postgres | machine busy | busiest units | saturates |"
  row "|---|---|---|---|---|---|---|---|---|---|---|"
  redis_url=$CF_TEST_REDIS_URL
  for p in 1 2 4 8; do
    fresh_db "clsingle$p"
    throughput "$p" 16 "cls$p"
    tps+=("$tp")
    cluster_row "single" "$p"
  done
  cluster_single_tp=$(IFS=/; echo "${tps[*]}")
  tps=()
  # The cluster: started here, stopped at the end of the section (and by run.sh's cleanup).
  if ! out=$(CF_SERVICES_AOF=yes "$root/deploy/services.sh" start "$cdir" --redis-cluster --fsync on 2>&1); then
    why="\`deploy/services.sh start DIR --redis-cluster\` failed: $(echo "$out" | tail -1)"
  else
    # shellcheck disable=SC1091
    env_vars=$(. "$cdir/env.sh" && printf '%s\n%s\n%s\n%s\n' "${CF_TEST_REDIS_CLUSTER:-}" "$CHRONOFORGE_REDIS_URL" "${CF_TEST_REDIS_CLUSTER_PORTS:-}" "$CF_TEST_REDIS_PASSWORD")
    { read -r cluster_on; read -r curl; read -r cports; read -r cpass; } <<<"$env_vars"
    if [ "$cluster_on" != 1 ] || [ -z "$cports" ]; then
      why="the services' env.sh exports no CF_TEST_REDIS_CLUSTER=1 / CF_TEST_REDIS_CLUSTER_PORTS"
    elif ! "$wf" produce "$curl" chronoforge default Exerciser clprobe 1 '{"steps":1}' >/dev/null 2>"$dir/cluster.err"; then
      why="the producer cannot use \`redis+cluster://\`: $(tail -1 "$dir/cluster.err")"
    fi
  fi
  if [ -n "$why" ]; then
    row "| cluster | 1-8 | n/a ($why) | | | | | | | | |"
    log "cluster: n/a: $why"
  else
    redis_nodes=$cports; redis_nodes_password=$cpass; redis_url=$curl
    aof=$(for p in $cports; do rnode "$p" config get appendonly | tail -1; done | sort | uniq -c | tr -s ' ' | sed 's/^ //' | paste -sd, -)
    for p in 1 2 4 8; do
      fresh_db "clcluster$p"
      throughput "$p" 16 "clc$p"
      tps+=("$tp")
      cluster_row "cluster, 3 masters + 3 replicas" "$p"
    done
    cluster_tp=$(IFS=/; echo "${tps[*]}")
    redis_nodes=""; redis_nodes_password=""
  fi
  redis_url=$keep_url
  "$root/deploy/services.sh" stop "$cdir" >/dev/null 2>&1 || true
  row ""
  [ -z "$why" ] && row "Cluster nodes' appendonly (count value): $aof. The single Redis: AOF everysec, as in every section."
  [ -z "$why" ] && row ""
  log "cluster: single ${cluster_single_tp:-?} wf/s, cluster ${cluster_tp:-n/a} wf/s"
  return 0
}
