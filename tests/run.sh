#!/usr/bin/env bash
# tests/run.sh: runs test binaries and prints one closing line "N passed, N failed".
#   tests/run.sh [--unit] [--services|--cluster] [--contract] [--install] [--cluster-faults] BIN...
# --services starts a throwaway Redis + Postgres (deploy/services.sh) for the run and stops them
# after; --cluster does the same with a 6-node Redis Cluster instead of the single Redis
# (services.sh start --redis-cluster: env.sh sets CF_TEST_REDIS_CLUSTER=1); --contract also runs tests/contract/run.sh (Ruby/Python producers, conformance vectors);
# --install checks `make install` and the README's C example (tests/install/run.sh);
# --cluster-faults runs tests/cluster/faults.sh (its own cluster; the worker binary from CF_BIN).
# TEST_PREFIX (e.g. valgrind) wraps each binary. CF_TEST_FILTER selects tests by name (a glob,
# applied by every test binary: cf_test_apply_filter).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

services=0 svc_opts=() contract=0 install=0 faults=0
bins=()
for a in "$@"; do
  case $a in
    --unit) ;;
    --services) services=1 ;;
    --cluster) services=1 svc_opts=(--redis-cluster) ;;
    --contract) contract=1 ;;
    --install) install=1 ;;
    --cluster-faults) faults=1 ;;
    *) bins+=("$a") ;;
  esac
done

# Every command the tests send must stay in one hash slot (SPEC §2), on a single Redis too.
export CF_REDIS_SLOT_CHECK=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/support/lsan.supp:print_suppressions=0}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

svc_dir=
cleanup() {
  if [ -n "$svc_dir" ]; then
    "$root/deploy/services.sh" stop "$svc_dir" >/dev/null 2>&1 || true
    if [ "${CF_KEEP_SERVICES_DIR:-0}" != 1 ]; then rm -rf "$svc_dir"; fi
  fi
}
trap cleanup EXIT INT TERM

if [ $services = 1 ]; then
  svc_dir=$(mktemp -d /tmp/chronoforge-test.XXXXXX)
  "$root/deploy/services.sh" start "$svc_dir" "${svc_opts[@]}" >/dev/null || { echo "tests: services failed to start" >&2; exit 1; }
  # shellcheck disable=SC1091
  . "$svc_dir/env.sh"
  export CF_TEST_REQUIRE_SERVICES=1
fi

passed=0 failed=0 failed_bins=()
logdir=$(mktemp -d /tmp/chronoforge-testlog.XXXXXX)
for bin in "${bins[@]}"; do
  name=$(basename "$bin")
  log="$logdir/$name.log"
  echo "=== $name"
  # shellcheck disable=SC2086
  ${TEST_PREFIX:-} "$bin" >"$log" 2>&1
  rc=$?
  cat "$log"
  ok=$(grep -c '^\[       OK \]' "$log")
  bad=$(grep -E '^\[  FAILED  \] test_' "$log" | sort -u | wc -l)
  bad=$(( bad > 0 ? bad : 0 ))
  # A crash or sanitizer report without a cmocka FAILED line still counts as one failure.
  if [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
  if grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|WARNING: ThreadSanitizer' "$log"; then
    [ "$bad" -eq 0 ] && bad=1
    echo "tests: sanitizer report in $name" >&2
  fi
  passed=$((passed + ok)); failed=$((failed + bad))
  [ "$bad" -gt 0 ] && failed_bins+=("$name")
done

# run_suite NAME SCRIPT: a script suite that ends with "NAME: N passed, M failed".
run_suite() {
  local name=$1 script=$2 out rc sp sf
  echo "=== $name"
  out=$("$script" 2>&1); rc=$?
  echo "$out"
  sp=$(echo "$out" | sed -n "s/^$name: \([0-9]*\) passed, \([0-9]*\) failed\$/\1/p" | tail -1)
  sf=$(echo "$out" | sed -n "s/^$name: \([0-9]*\) passed, \([0-9]*\) failed\$/\2/p" | tail -1)
  passed=$((passed + ${sp:-0})); failed=$((failed + ${sf:-0}))
  if [ $rc -ne 0 ] && [ "${sf:-0}" -eq 0 ]; then failed=$((failed + 1)); fi
  [ $rc -ne 0 ] && failed_bins+=("$name")
}
if [ $contract = 1 ] && [ -x "$root/tests/contract/run.sh" ]; then
  run_suite contract "$root/tests/contract/run.sh"
fi
if [ $install = 1 ]; then
  run_suite install "$root/tests/install/run.sh"
fi
if [ $faults = 1 ]; then
  run_suite cluster-faults "$root/tests/cluster/faults.sh"
fi

rm -rf "$logdir"
[ ${#failed_bins[@]} -gt 0 ] && echo "failing: ${failed_bins[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failed_bins[@]} -eq 0 ]
