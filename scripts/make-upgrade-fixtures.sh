#!/bin/sh
# Makes the databases the upgrade test (crates/store-tests/tests/upgrade.rs) starts from: a
# demo shop with an owner, an API key, a registered customer and the README tour's order, made
# by a release binary BIN on SQLite and on PostgreSQL (a scratch database at PG, dropped after).
# Run it with the release before a schema change; the test then migrates copies of the result.
#   scripts/make-upgrade-fixtures.sh BIN NAME [PG]   e.g. ./rouge-0.1.0 v0.1
set -eu
BIN=$(realpath "$1"); NAME=$2; PG=${3:-postgres://postgres@127.0.0.1:5432}
OUT=$(cd "$(dirname "$0")/../crates/store-tests/fixtures" && pwd)
WORK=$(mktemp -d); DB=rouge_fixture_$$
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"; psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true' EXIT
export ROUGE_KEY_DIR="$WORK/keys" ROUGE_LISTEN=127.0.0.1:18931 ROUGE_METRICS_LISTEN=127.0.0.1:18932
ROUGE=http://$ROUGE_LISTEN
shop() { # the shop on DATABASE_URL, as the README and its tour use it
  ROUGE_OWNER_PASSWORD='a long passphrase' "$BIN" admin create-owner --email owner@shop.example --name 'Olga Owner'
  "$BIN" serve --demo >"$WORK/log" 2>&1 & PID=$!
  until curl -sf "$ROUGE/readyz" >/dev/null; do sleep 0.2; done
  TOKEN=$(curl -sS -X POST "$ROUGE/v1/admin/auth/login" -H 'content-type: application/json' \
    -d '{"email": "owner@shop.example", "password": "a long passphrase"}' | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  curl -sSf -X POST "$ROUGE/v1/admin/api-keys" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d '{"name": "ERP sync", "permissions": ["catalog:write"]}' >/dev/null
  curl -sSf -X POST "$ROUGE/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email": "ines@example.com", "password": "another long passphrase", "name": "Inès"}' >/dev/null
  ROUGE=$ROUGE sh "$(dirname "$0")/tour.sh" >/dev/null
  sleep 1 # the relay's deliveries
  kill "$PID"; wait "$PID" || true
}
DATABASE_URL="sqlite://$WORK/shop.db" shop
sqlite3 "$WORK/shop.db" "VACUUM INTO '$WORK/$NAME.sqlite'"
gzip -9 -c "$WORK/$NAME.sqlite" >"$OUT/$NAME.sqlite.gz"
psql -q "$PG/postgres" -c "CREATE DATABASE $DB"
DATABASE_URL="$PG/$DB" shop
pg_dump --inserts --no-owner --no-privileges "$PG/$DB" | grep -v '^\\' | gzip -9 >"$OUT/$NAME.postgres.sql.gz"
echo "made $OUT/$NAME.sqlite.gz and $OUT/$NAME.postgres.sql.gz"
