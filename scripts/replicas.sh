#!/bin/sh
# Two `rouge serve` replicas on one PostgreSQL, with Redis and RabbitMQ, behind HAProxy
# (deploy/haproxy/rouge.cfg), on this machine: the shop answers on http://127.0.0.1:8080.
# Ctrl-C stops all three. Needs a release build (cargo build --release) and haproxy.
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/rouge scripts/replicas.sh
set -eu
cd "$(dirname "$0")/.."
BIN=${ROUGE_BIN:-target/release/rouge}
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/rouge}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
export AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}
export ROUGE_KEY_DIR=${ROUGE_KEY_DIR:-rouge-data/keys}
export ROUGE_TRUSTED_PROXIES=127.0.0.1
export ROUGE_LB_LISTEN=127.0.0.1:8080 ROUGE_REPLICA_1=127.0.0.1:8081 ROUGE_REPLICA_2=127.0.0.1:8082
pids=""
trap 'kill $pids 2>/dev/null' INT TERM EXIT
"$BIN" migrate
# The first replica makes the keys (if the directory is new) before the second reads them.
"$BIN" serve --listen "$ROUGE_REPLICA_1" --metrics-listen 127.0.0.1:9465 & pids="$pids $!"
until curl -sf "http://$ROUGE_REPLICA_1/readyz" >/dev/null; do sleep 0.2; done
"$BIN" serve --listen "$ROUGE_REPLICA_2" --metrics-listen 127.0.0.1:9466 & pids="$pids $!"
until curl -sf "http://$ROUGE_REPLICA_2/readyz" >/dev/null; do sleep 0.2; done
haproxy -db -f deploy/haproxy/rouge.cfg & pids="$pids $!"
echo "the shop: http://$ROUGE_LB_LISTEN (replicas on $ROUGE_REPLICA_1 and $ROUGE_REPLICA_2)"
wait
