#!/usr/bin/env bash
# tests/contract/run.sh: the producer contract. Runs the Ruby client's minitest suite, the Python
# client's unittest suite, the conformance vectors (tests/contract/check.py: every job vector
# through both clients and the C decoder, every raw vector through the C decoder), and the
# README's "Producing jobs" snippets (tests/contract/snippets.py), and the control requests both
# clients build, read back by the C decoder (tests/contract/control_check.py). Tests that need
# Redis use CF_TEST_REDIS_URL (tests/run.sh --services exports it).
#   CF_DECODE_VECTORS  the decoder binary (default build/asan/tests/contract/decode_vectors; when
#                      unset and missing, it is built with make if the codec is in the tree)
# Prints a last line exactly `contract: N passed, M failed`; exits 1 on any failure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export PYTHONDONTWRITEBYTECODE=1

decoder=${CF_DECODE_VECTORS:-$root/build/asan/tests/contract/decode_vectors}
if [ -z "${CF_DECODE_VECTORS:-}" ] && [ ! -x "$decoder" ] && [ -f "$root/queue/envelope.h" ]; then
  echo "contract: building $decoder"
  make -C "$root" --no-print-directory MODE=asan build/asan/tests/contract/decode_vectors >&2 ||
    echo "contract: building the decoder failed" >&2
fi

passed=0 failed=0
add() {  # SUITE PASSED FAILED RC: a suite that exits non-zero counts at least one failure
  local p=${2:-0} f=${3:-0}
  if [ "$4" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  echo "contract: $1: $p passed, $f failed"
  passed=$((passed + p)); failed=$((failed + f))
}

echo "=== ruby client (minitest)"
out=$(cd "$root/clients/ruby" &&
  /usr/bin/ruby -Ilib -Itest -e 'Dir["test/**/*_test.rb"].sort.each { |f| require File.expand_path(f) }' 2>&1)
rc=$?
echo "$out"
summary=$(echo "$out" | grep -E '^[0-9]+ runs, ' | tail -1)
runs=$(echo "$summary" | sed -n 's/^\([0-9]*\) runs.*/\1/p')
bad=$(echo "$summary" | sed -n 's/.* \([0-9]*\) failures, \([0-9]*\) errors.*/\1 \2/p' | awk '{print $1 + $2}')
skips=$(echo "$summary" | sed -n 's/.* \([0-9]*\) skips.*/\1/p')
add ruby $(( ${runs:-0} - ${bad:-0} - ${skips:-0} )) "${bad:-0}" $rc

echo "=== python client (unittest)"
out=$(cd "$root/clients/python" && /usr/bin/python3 -m unittest discover -s tests -t . 2>&1)
rc=$?
echo "$out" | tail -n 40
ran=$(echo "$out" | sed -n 's/^Ran \([0-9]*\) tests\{0,1\} in .*/\1/p' | tail -1)
f=$(echo "$out" | grep -oE '(failures|errors)=[0-9]+' | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
s=$(echo "$out" | grep -oE 'skipped=[0-9]+' | cut -d= -f2 | tail -1)
add python $(( ${ran:-0} - ${f:-0} - ${s:-0} )) "${f:-0}" $rc

echo "=== conformance vectors"
out=$(/usr/bin/python3 "$here/check.py" --decoder "$decoder" 2>&1)
rc=$?
echo "$out"
vp=$(echo "$out" | sed -n 's/^vectors: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
vf=$(echo "$out" | sed -n 's/^vectors: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
add vectors "${vp:-0}" "${vf:-0}" $rc

echo "=== control requests (both clients through the C decoder)"
out=$(/usr/bin/python3 "$here/control_check.py" --decoder "$decoder" 2>&1)
rc=$?
echo "$out"
cp_=$(echo "$out" | sed -n 's/^control: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
cf_=$(echo "$out" | sed -n 's/^control: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
add control "${cp_:-0}" "${cf_:-0}" $rc

echo "=== Producing jobs snippets (README)"
out=$(/usr/bin/python3 "$here/snippets.py" --decoder "$decoder" 2>&1)
rc=$?
echo "$out"
sp=$(echo "$out" | sed -n 's/^snippets: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
sf=$(echo "$out" | sed -n 's/^snippets: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
add snippets "${sp:-0}" "${sf:-0}" $rc

echo "contract: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
