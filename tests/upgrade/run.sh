#!/usr/bin/env bash
# tests/upgrade/run.sh BIN: `make upgrade-test`, the keyspace v1 -> v2 rolling upgrade under chaos.
# Builds the last release that spoke keyspace v1 (commit $V1_COMMIT, from this clone's history) in
# a scratch directory, then runs tests/chaos/run.sh with CHAOS_OLD_BIN set to it: the fleet starts
# on v1 workers on their own schema, BIN migrates while they run (the documented upgrade order),
# and during the run
# every worker is replaced by a BIN worker, half by a graceful drain and half by SIGKILL, while
# Redis and Postgres faults strike as in `make chaos`. Passes when chaos's checks all hold: every
# workflow completed, no step re-ran beyond the envelopes in flight at the faults, nothing left in
# Redis, no dead letters (docs/SPEC.md §2, "Upgrading from keyspace v1").
# Needs the git history (a plain clone has it; a `make dist` tarball does not: then it says so and
# exits 2). CF_UPGRADE_OLD_BIN=/path/to/chronoforge skips the build (a binary you built yourself).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 BIN" >&2; exit 2; }
V1_COMMIT=0ee706bb726851796b8fc72c292acd45f2e7afed # main before keyspace v2 (issue 11): the v1 fleet being upgraded
old=${CF_UPGRADE_OLD_BIN:-}
scratch=
cleanup() { [ -z "$scratch" ] || rm -rf "$scratch"; }
trap cleanup EXIT
if [ -z "$old" ]; then
  if ! git -C "$root" cat-file -e "$V1_COMMIT^{commit}" 2>/dev/null; then
    echo "upgrade: commit $V1_COMMIT is not in this checkout's history (a shallow clone or a tarball);" \
      "set CF_UPGRADE_OLD_BIN to a keyspace v1 build of chronoforge" >&2
    exit 2
  fi
  scratch=$(mktemp -d "${TMPDIR:-/tmp}/chronoforge-v1.XXXXXX")
  git -C "$root" archive "$V1_COMMIT" | tar -x -C "$scratch"
  echo "upgrade: building the v1 worker ($V1_COMMIT) in $scratch" >&2
  make -C "$scratch" --no-print-directory MODE=release -j2 bin >"$scratch/build.log" 2>&1 ||
    { tail -20 "$scratch/build.log" >&2; echo "upgrade: the v1 build failed" >&2; exit 1; }
  old=$scratch/build/release/chronoforge
fi
CHAOS_OLD_BIN=$old "$root/tests/chaos/run.sh" "$1"
