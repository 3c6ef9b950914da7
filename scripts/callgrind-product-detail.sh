#!/bin/bash
# Instructions a server build spends on N product-detail requests, counted by callgrind
# (deterministic, unlike req/s on a shared VM). The server runs the demo shop at `warn` under
# valgrind with instrumentation off until it is ready and warmed up; then N keep-alive requests
# are counted (every thread of the process), and the total printed.
#
#   scripts/callgrind-product-detail.sh BIN DIR PORT N SLUG [serve flags…]
#   e.g. scripts/callgrind-product-detail.sh target/release/rouge /tmp/cg 18110 2000 \
#          tidal-tools-cica-sunscreen-spf-50 --metrics-listen off [--no-gateway]
#
# Needs valgrind and curl. DIR receives the database, keys, log and callgrind.out.*.
set -u
BIN=$1; DIR=$2; PORT=$3; N=$4; SLUG=$5; shift 5
export ROUGE_RATE_LIMIT_READ=60000000/min,burst=4000 RUST_LOG=warn MALLOC_ARENA_MAX=2
mkdir -p "$DIR"
B=http://127.0.0.1:$PORT
cfg=$DIR/requests.cfg
: > "$cfg"
for _ in $(seq 1 "$N"); do
  printf 'url = "%s/v1/products/%s"\noutput = "/dev/null"\n' "$B" "$SLUG" >> "$cfg"
done
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$DIR/callgrind.out" \
  "$BIN" serve --demo --listen "127.0.0.1:$PORT" --database-url "sqlite://$DIR/shop.db" \
  --key-dir "$DIR/keys" "$@" > "$DIR/server.log" 2>&1 &
VPID=$!
for _ in $(seq 1 600); do curl -s -o /dev/null "$B/readyz" && break; sleep 1; done
echo "product page: $(curl -s -o /dev/null -w '%{http_code}, %{size_download} bytes' "$B/v1/products/$SLUG")"
curl -s -K "$cfg"                        # warm-up, not counted
callgrind_control -i on "$VPID" >/dev/null
curl -s -K "$cfg"                        # counted
callgrind_control -d "$VPID" >/dev/null
callgrind_control -i off "$VPID" >/dev/null
kill "$VPID"; wait "$VPID" 2>/dev/null
total=$(callgrind_annotate "$DIR"/callgrind.out.* 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",","",$1); print $1}')
echo "instructions: $total for $N requests, $((total / N)) per request"
