# shellcheck shell=bash disable=SC2034,SC2154
# (sourced by bench/run.sh, which defines the variables it reads and reads those it sets)
# bench/cluster.sh: the fleet curve (1, 2, 4, 8 worker processes, -c 16) against the services'
# single Redis and then against a Redis Cluster of 3 masters and 3 replicas started with
# `deploy/services.sh start DIR --redis-cluster` (its env.sh: CHRONOFORGE_REDIS_URL
# redis+cluster://..., CF_TEST_REDIS_CLUSTER=1, CF_TEST_REDIS_CLUSTER_PORTS='p1 ... p6'), back to
# back on the same Postgres, with CPU per process kind (docs/scaling.md); on the cluster once with
# every workflow on one queue and once spread over one queue per master. Sets cluster_tp,
# cluster_q_tp and cluster_single_tp (the curves, "a/b/c/d" wf/s) for the goal table.

cluster_dir() { echo "$dir/cluster"; }

# cluster_row LABEL PROCS: one row of the table from throughput()'s figures.
cluster_row() {
  row "| $1 | $2 | $tp | $rpw | ${rshare:-} | $rtw | $cpu_w / $cpu_r / $cpu_p | $cpu_rmax | $util_w / $util_r / $util_p | $busy_all% | $hot | $sat |"
}

# queues_on_masters: one queue name per master, each hashing to a slot that master serves (a
# master that does not serve a key's slot answers MOVED), so a fleet on them uses every master.
queues_on_masters() {
  local m i answer out=() taken=" "
  for m in $(redis_masters); do
    for i in $(seq 0 300); do
      [[ $taken == *" q$i "* ]] && continue
      answer=$(rnode "$m" exists "chronoforge:{q$i}:ready" 2>&1 || true)
      if [[ $answer != *MOVED* ]]; then
        out+=("q$i"); taken+="q$i "; break
      fi
    done
  done
  echo "${out[*]}"
}

sec_cluster() {
  local cdir p tps=() keep_url=$redis_url out env_vars cluster_on curl cports cpass aof why=""
  cdir=$(cluster_dir)
  row "## Fleet against one Redis and against a 3-master Redis Cluster"
  row ""
  row "The fleet curve (section 7) twice, back to back, on the same Postgres ($transport_label for Postgres), fresh database per run: first against the services' single redis-server over TCP loopback (\`redis://:PW@127.0.0.1:PORT/0\`), then against a Redis Cluster of 3 masters and 3 replicas started by \`CF_SERVICES_AOF=yes deploy/services.sh start DIR --redis-cluster\` (every node a redis-server on 127.0.0.1; the workers and the producer given its \`redis+cluster://\` URL). **This machine has $(nproc) cores: the cluster's 6 redis-servers, the workers and Postgres share them**, so the cluster rows' wf/s say what the cluster costs (CPU, round trips), not what it gains; on separate hosts each node has its own core, and what a node can carry is one core / its CPU per workflow (the column of the busiest one). Redis cmds/wf = INFO commandstats calls delta / N over the masters (a replica's replayed copies left out); share = each master's part of those; CPU µs/wf redis = every redis-server of the run (the cluster: all 6, replication included); the rest as in section 7. In the single and \"cluster\" rows every workflow is on queue \`default\`: its queue keys (\`P:{default}:…\`) hash to one slot, so one master carries the take and ack traffic, and only the per-workflow locks (\`P:lock:…\`) and the per-worker held sets (\`P:held:<id>\`) spread over the others; the \"3 queues\" rows spread the queues too."
  row ""
  row "| Redis | processes | wf/s | Redis cmds/wf | share per master | Redis round trips/wf | CPU µs/wf workers / redis (all nodes) / postgres | CPU µs/wf of the busiest redis-server | % of a core workers / redis / postgres | machine busy | busiest units | saturates |"
  row "|---|---|---|---|---|---|---|---|---|---|---|---|"
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
    row "| cluster | 1-8 | n/a ($why) | | | | | | | | | |"
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
    # The same fleet with its workflows spread over one queue per master.
    tps=()
    bench_queues=$(queues_on_masters)
    for p in 1 2 4 8; do
      fresh_db "clcq$p"
      throughput "$p" 16 "clq$p"
      tps+=("$tp")
      cluster_row "cluster, 3 queues (\`${bench_queues// /\`, \`}\`), one per master" "$p"
    done
    cluster_q_tp=$(IFS=/; echo "${tps[*]}")
    cluster_queues=$bench_queues
    bench_queues=default
    redis_nodes=""; redis_nodes_password=""
  fi
  redis_url=$keep_url
  "$root/deploy/services.sh" stop "$cdir" >/dev/null 2>&1 || true
  row ""
  if [ -z "$why" ]; then
    row "Cluster nodes' appendonly (count value): $aof. The single Redis: AOF everysec, as in every section. The 3-queue rows: N split evenly over queues \`$cluster_queues\` (names picked so that each hashes to a slot of a different master), worker i taking them in an order rotated by i (queues are taken highest priority first; with one process they are drained one after the other). The busiest redis-server's CPU per workflow is what bounds a deployment: at 1,000,000 µs per core, 1,000,000 / that figure is the fleet's ceiling in workflows/s once that node has a core of its own."
    row ""
  fi
  log "cluster: single ${cluster_single_tp:-?} wf/s, cluster ${cluster_tp:-n/a} wf/s, cluster with 3 queues ${cluster_q_tp:-n/a} wf/s"
  return 0
}
