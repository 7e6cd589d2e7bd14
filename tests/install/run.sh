#!/usr/bin/env bash
# tests/install/run.sh: `make install` into a temp prefix, then build the README's C example
# against the installed header, library and chronoforge.pc, and run it. Prints
# "install: N passed, M failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/chronoforge-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() {  # NAME CMD...
  local name=$1; shift
  if "$@" >"$tmp/$name.log" 2>&1; then passed=$((passed + 1)); echo "ok: $name"
  else failed=$((failed + 1)); echo "FAILED: $name"; cat "$tmp/$name.log"; fi
}
check make_install make -C "$root" --no-print-directory MODE=release install PREFIX="$tmp/prefix"
# The first ```c block of the README is the example.
awk '/^```c$/{f=1; next} /^```$/{if (f) exit} f' "$root/README.md" >"$tmp/checkout.c"
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
# shellcheck disable=SC2046
check build_readme_example cc -std=c11 -o "$tmp/checkout" "$tmp/checkout.c" \
  $(pkg-config --cflags --libs chronoforge)
check run_readme_example sh -c "'$tmp/checkout' --version | grep -q '^chronoforge '"
check readme_example_registers sh -c "'$tmp/checkout' enqueue --help >/dev/null"
echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
