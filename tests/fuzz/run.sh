#!/usr/bin/env bash
# tests/fuzz/run.sh: build and run libFuzzer targets, time-boxed. Usage: run.sh SECONDS fuzz_x.c...
# Each target names the library sources it needs in "fuzz-srcs:" comment lines; they are compiled
# directly into it with clang -fsanitize=fuzzer,address,undefined. Seeds come from
# tests/fuzz/corpus/<target>/ (read only), with tests/fuzz/<target>.dict if present; new inputs
# go to build/fuzz/<target>/corpus, crashers to build/fuzz/<target>/. libFuzzer's default memory
# limits stay in force. Exits non-zero when a target fails to build or finds a crash, leak,
# timeout or out-of-memory.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -lt 2 ]; then
  echo "usage: $0 SECONDS fuzz_x.c..." >&2
  exit 2
fi
seconds=$1
shift
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang)" >&2; exit 1; }
pkgs=(jansson msgpack)
read -r -a pkg_cflags <<<"$(pkg-config --cflags "${pkgs[@]}")"
read -r -a pkg_libs <<<"$(pkg-config --libs "${pkgs[@]}")"
status=0
for src in "$@"; do
  name=$(basename "$src" .c)
  out=build/fuzz/$name
  mkdir -p "$out/corpus"
  read -r -a lib_srcs <<<"$(sed -n 's/.*fuzz-srcs:\(.*\)/\1/p' "$src" | sed 's/\*\///' | tr '\n' ' ')"
  echo "fuzz: building $name (${#lib_srcs[@]} library files)"
  "$CC" -std=c11 -g -O1 -I. -Iinclude -D_GNU_SOURCE -Wall -Wextra -Werror \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
    "${pkg_cflags[@]}" "$src" "${lib_srcs[@]}" "${pkg_libs[@]}" -lm -o "$out/$name"
  seeds=()
  [ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
  dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=("-dict=tests/fuzz/$name.dict")
  echo "fuzz: running $name for ${seconds}s"
  set +e
  "$out/$name" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$out/" \
    "${dict[@]}" "$out/corpus" "${seeds[@]}" >"$out/log.txt" 2>&1
  rc=$?
  set -e
  grep -E '^(stat::|SUMMARY|==[0-9]+==ERROR|artifact_prefix|Test unit written|#[0-9]+ +DONE)' \
    "$out/log.txt" || true
  if [ "$rc" != 0 ]; then
    echo "fuzz: $name FAILED (exit $rc); see $out/log.txt and the crash-* files in $out/" >&2
    status=1
  fi
done
exit $status
