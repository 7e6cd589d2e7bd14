#!/usr/bin/env bash
# tests/cluster/faults.sh [BIN]: the Redis Cluster fault test (not part of `make test`): a master
# SIGKILLed and a live queue's slot moved under load (tests/cluster/faults.py says what it does
# and checks). BIN defaults to $CF_BIN, then build/asan/chronoforge. Ends with `cluster-faults: N passed, M
# failed` (tests/run.sh's run_suite counts it); exits 1 on any failed check.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:-${CF_BIN:-$root/build/asan/chronoforge}}
[ -x "$bin" ] || { echo "cluster-faults: $bin is not executable (make MODE=asan bin)" >&2; exit 2; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/support/lsan.supp:print_suppressions=0}
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 "$here/faults.py" "$bin"
