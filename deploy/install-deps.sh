#!/usr/bin/env bash
# deploy/install-deps.sh [--bench | --build | --runtime]: installs exactly the Debian 12 packages
# chronoforge needs to build, test and run its demo (and, with --bench, its benchmarks' peers).
# --build installs only what `make MODE=release install` needs, --runtime only the shared
# libraries the installed binary loads (the two stages of deploy/container/Dockerfile).
# Idempotent and quick when everything is present (one dpkg query per package; one file compare
# per npm peer).
set -euo pipefail

BUILD=(
  build-essential pkg-config
  libhiredis-dev libmsgpack-dev libpq-dev libjansson-dev libcmocka-dev libmicrohttpd-dev
)
RUNTIME=(libhiredis0.14 libmsgpackc2 libpq5 libjansson4 libmicrohttpd12 ca-certificates tzdata)
PACKAGES=(
  "${BUILD[@]}"
  redis-server redis-tools postgresql-15 postgresql-client-15
  ruby ruby-redis ruby-msgpack ruby-minitest python3 python3-redis python3-msgpack
  clang clang-format shellcheck valgrind libclang-rt-14-dev
  prometheus tzdata systemd python3-yaml pgbouncer stunnel4 openssl
  chromium chromium-driver python3-selenium fonts-dejavu-core
)
case "${1:-}" in
  --build) PACKAGES=("${BUILD[@]}") ;;
  --runtime) PACKAGES=("${RUNTIME[@]}") ;;
esac

# `--bench` adds what only `make bench` needs: the peers it compares against (Sidekiq from
# Debian; BullMQ, DBOS Transact and graphile-worker from npm, so Node.js and npm unless the
# machine already has them). Each npm peer is pinned by bench/peers/NAME/package-lock.json.
bench=0
[ "${1:-}" = --bench ] && bench=1
if [ $bench = 1 ]; then
  PACKAGES+=(ruby-sidekiq)
  command -v node >/dev/null && command -v npm >/dev/null || PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Package services must not start on install (a system Redis on 6379 would surprise the user).
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The npm peers: `npm ci` from each committed lockfile, skipped when node_modules was already
# installed from that same lockfile (a copy of it is kept as node_modules/.cf-installed-lock).
if [ $bench = 1 ]; then
  peers=$(cd "$(dirname "$0")/../bench/peers" && pwd)
  for lock in "$peers"/*/package-lock.json; do
    d=$(dirname "$lock")
    cmp -s "$lock" "$d/node_modules/.cf-installed-lock" && continue
    echo "install-deps: npm ci in ${d#"$peers"/}" >&2
    (cd "$d" && npm ci --no-audit --no-fund --loglevel=error) ||
      { echo "install-deps: npm ci failed in $d" >&2; exit 1; }
    cp "$lock" "$d/node_modules/.cf-installed-lock"
  done
fi
