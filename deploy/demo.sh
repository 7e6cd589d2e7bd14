#!/usr/bin/env bash
# deploy/demo.sh BIN: the README's main job. Starts a throwaway Redis and Postgres, migrates,
# runs a two-worker fleet, enqueues the example workflows (CLI, Ruby and Python producers, and a
# raw redis-cli line), shows progress, prints the final states with step timelines, and stops
# everything it started.
set -euo pipefail
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/chronoforge-demo.XXXXXX)
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  "$root/deploy/services.sh" stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir/pg" "$dir/redis" "$dir/pgsock" # the databases; the worker logs stay
  echo "demo: stopped workers and services; worker logs are in $dir"
}
trap cleanup EXIT INT TERM

echo "== starting Redis and Postgres in $dir"
"$root/deploy/services.sh" start "$dir" >/dev/null
# shellcheck disable=SC1091
. "$dir/env.sh"
export CHRONOFORGE_PREFIX=demo
# Redis and Postgres are local: the workers, the CLI and the Python producer use their unix
# sockets (no TCP stack per round trip). The Ruby producer keeps TCP: redis-rb 4.8 drops the
# password of a unix:// URL.
tcp_redis_url=$CHRONOFORGE_REDIS_URL
export CHRONOFORGE_REDIS_URL=$CHRONOFORGE_REDIS_SOCKET_URL
export CHRONOFORGE_DATABASE_URL=$CHRONOFORGE_DATABASE_SOCKET_URL
echo "   Redis: $CF_SERVICES_DIR/redis.sock, Postgres: $CF_SERVICES_DIR/pgsock (unix sockets)"

echo "== migrating"
"$BIN" migrate

echo "== starting 2 workers (-c 4 each); logs: $dir/worker-*.log"
for i in 1 2; do
  "$BIN" worker -q default -c 4 >"$dir/worker-$i.log" 2>&1 &
  pids+=($!)
done

echo "== enqueueing example workflows"
"$BIN" enqueue Onboarding signup-ada --kwargs '{"email": "ada@example.com", "name": "Ada", "welcome_delay_ms": 1500}' >/dev/null
"$BIN" enqueue Onboarding signup-grace --kwargs '{"email": "grace@example.com", "name": "Grace", "welcome_delay_ms": 500}' >/dev/null
"$BIN" enqueue OrderProcessing order-1001 --kwargs '{"items": [{"sku": "BOOK-1", "qty": 2}, {"sku": "PEN-7", "qty": 10}, {"sku": "INK-3", "qty": 1}], "open_after_ms": 1000}' >/dev/null
"$BIN" enqueue PaymentCapture payment-77 --kwargs "{\"amount_cents\": 4200, \"currency\": \"EUR\", \"confirmation_file\": \"$dir/payment-77.confirmed\"}" >/dev/null
"$BIN" enqueue FlakyApiSync partner-sync-1 --kwargs '{"timeouts": 2, "rate_limits": 1}' >/dev/null
# A monthly renewal (durably_repeat) with its period shortened to 1 s, so 3 renewals show here.
"$BIN" enqueue SubscriptionRenewal ada-pro --kwargs '{"customer": "ada", "plan_cents": 999, "renewals": 3, "every_ms": 1000}' >/dev/null
"$BIN" enqueue FanOutImport import-9 --kwargs '{"rows": [{"sku": "A-1"}, {"sku": "B-2"}, {"sku": "C-3"}, {"qty": 4}]}' >/dev/null
CF_DEMO_TCP_REDIS_URL=$tcp_redis_url /usr/bin/ruby -I"$root/clients/ruby/lib" -e '
  require "chronoforge/client"
  c = Chronoforge::Client.new(redis: ENV.fetch("CF_DEMO_TCP_REDIS_URL"), prefix: "demo")
  c.enqueue("Onboarding", "signup-ruby", { "email" => "matz@example.com", "welcome_delay_ms" => 800 })
'
echo "   Onboarding signup-ruby enqueued from Ruby (clients/ruby)"
PYTHONPATH="$root/clients/python" /usr/bin/python3 -c '
import os
from chronoforge import Client
c = Client(os.environ["CHRONOFORGE_REDIS_URL"], prefix="demo")
c.enqueue("OrderProcessing", "order-py-1", {"items": [{"sku": "MUG-1", "qty": 1}]})
'
echo "   OrderProcessing order-py-1 enqueued from Python (clients/python)"
printf '\x85\xa1v\x01\xa3jid\xb8%s\xa5class\xafOrderProcessing\xa3key\xaaorder-cli1\xa6kwargs\x81\xa5items\x91\x82\xa3sku\xa3A-1\xa3qty\x01' \
  "$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')" |
  REDISCLI_AUTH=$CF_TEST_REDIS_PASSWORD redis-cli -s "$CF_TEST_REDIS_SOCK" -x LPUSH 'demo:{default}:ready' >/dev/null
echo "   OrderProcessing order-cli1 enqueued with redis-cli (raw msgpack)"

echo "== progress"
deadline=$((SECONDS + 60))
confirmed=0
while :; do
  line=$("$BIN" stats | grep '^workflows:' || true)
  echo "   $line"
  if [ $confirmed = 0 ] && "$BIN" status payment-77 | grep -q 'state=idle'; then
    echo "   payment-77 waits for its webhook (continue_if); the webhook arrives now"
    touch "$dir/payment-77.confirmed"
    "$BIN" enqueue PaymentCapture payment-77 >/dev/null
    confirmed=1
  fi
  if echo "$line" | grep -q 'idle=0 running=0' && [ $confirmed = 1 ]; then break; fi
  if [ $SECONDS -gt $deadline ]; then echo "demo: timed out waiting"; break; fi
  sleep 1
done

echo "== final states"
"$BIN" list
for key in signup-ada order-1001 payment-77 partner-sync-1 signup-ruby ada-pro import-9; do
  echo
  "$BIN" status "$key"
done
echo
"$BIN" stats
