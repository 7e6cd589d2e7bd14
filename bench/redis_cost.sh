# shellcheck shell=bash disable=SC2034,SC2154
# (sourced by bench/run.sh, which defines the variables it reads and reads those it sets)
# bench/redis_cost.sh: what one workflow costs Redis, command by command (docs/scaling.md): one
# c=16 run (throughput()), with INFO commandstats read before and after, per command: calls / N
# and the server's own usec per call. Sets rcost_total (commands per workflow).

# cmdstats: "name calls usec" per command of the Redis under test.
cmdstats() {
  rcli info commandstats | tr -d '\r' |
    sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),usec=\([0-9]*\),.*/\1 \2 \3/p'
}

sec_rediscost() {
  fresh_db rediscost
  cmdstats >"$dir/cs0"
  throughput 1 16 rcost
  cmdstats >"$dir/cs1"
  row "## Redis commands per workflow, by command"
  row ""
  row "One c=16 run as in section 1 (N=$N one-step workflows, $transport_label, $tp wf/s); INFO commandstats before and after, so the producer's SADD P:queues and LPUSH are in the table (the **all** row, like section 7's figure, is the workers' part: counted after the producer ran). Commands a script runs are counted as well as the script: the take script's LMOVE and EXISTS, the lock release's GET and DEL. Commands under 0.01 per workflow (housekeeping, heartbeats, the bench's INFO) are left out of the table. usec/wf = the server's time inside the command (its commandstats usec), not counting reading, parsing and writing the requests. Redis CPU µs/wf over the run (utime+stime of redis-server): **$cpu_r**; round trips/wf (the worker's chronoforge_redis_round_trips_total / N): $rtw."
  row ""
  row "| command | calls / wf | usec inside / wf |"
  row "|---|---|---|"
  awk -v n="$N" 'NR == FNR {c[$1] = $2; u[$1] = $3; next}
    {dc = $2 - c[$1]; du = $3 - u[$1]; if (dc >= n / 100) printf "%s %.3f %.2f\n", $1, dc / n, du / n}' "$dir/cs0" "$dir/cs1" |
    sort -k2,2nr | while read -r name calls usec; do row "| $name | $calls | $usec |"; done
  rcost_total=$rpw
  row "| **all** | **$rpw** | |"
  row ""
}
