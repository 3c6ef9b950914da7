#!/usr/bin/env bash
# PostgreSQL failover drill.
#
# Makes a primary and a streaming standby (pg_basebackup, synchronous replication) on two
# scratch clusters, puts HAProxy in front of them (the primary first, the standby as backup,
# health-checked every half second), and runs `rouge drill failover` through HAProxy: shoppers
# check out without pause while this script stops the primary (immediate: as if its machine
# died) and promotes the standby. Rouge reaches the new primary without restarting. Prints the
# failover time and the acknowledged orders lost (must be 0).
#
#   scripts/failover-drill.sh            # 30 s of checkouts, the primary stopped after ~8 s
#
# Settings (environment): ROUGE (the binary; target/release/rouge, else target/debug/rouge),
# PGBIN (PostgreSQL's bin directory; the newest under /usr/lib/postgresql), PRIMARY_PORT
# (5433), STANDBY_PORT (5434), FRONT_PORT (5440), DRILL_SECONDS (30), FAIL_AFTER (8).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUGE=${ROUGE:-$( [ -x target/release/rouge ] && echo target/release/rouge || echo target/debug/rouge )}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
PRIMARY_PORT=${PRIMARY_PORT:-5433}
STANDBY_PORT=${STANDBY_PORT:-5434}
FRONT_PORT=${FRONT_PORT:-5440}
DRILL_SECONDS=${DRILL_SECONDS:-30}
FAIL_AFTER=${FAIL_AFTER:-8}

[ -x "$ROUGE" ] || { echo "failover drill: build rouge first (cargo build --release)" >&2; exit 2; }
[ -x "$PGBIN/initdb" ] || { echo "failover drill: PostgreSQL's server programs are not in PGBIN=$PGBIN" >&2; exit 2; }
command -v haproxy >/dev/null || { echo "failover drill: haproxy is not installed" >&2; exit 2; }

work=$(mktemp -d /tmp/rouge-failover.XXXXXX)
chmod 755 "$work"
# PostgreSQL refuses to run as root: its clusters belong to the postgres user then.
if [ "$(id -u)" = 0 ]; then
  chown postgres "$work"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi
say() { printf 'failover drill: %s\n' "$*" >&2; }

cleanup() {
  [ -n "${drill_pid:-}" ] && kill "$drill_pid" 2>/dev/null || true
  [ -f "$work/haproxy.pid" ] && kill "$(cat "$work/haproxy.pid")" 2>/dev/null || true
  for c in primary standby; do
    [ -d "$work/$c" ] && as_pg "$PGBIN/pg_ctl" -D "$work/$c" stop -m immediate >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

say "primary on $PRIMARY_PORT"
as_pg "$PGBIN/initdb" -D "$work/primary" -U postgres --auth=trust >/dev/null
cat >>"$work/primary/postgresql.conf" <<EOF
port = $PRIMARY_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
wal_level = replica
max_wal_senders = 4
synchronous_commit = on
EOF
as_pg "$PGBIN/pg_ctl" -D "$work/primary" -l "$work/primary.log" -w start >/dev/null
as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -qc 'CREATE DATABASE rouge'

say "standby on $STANDBY_PORT (pg_basebackup, synchronous)"
as_pg "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -D "$work/standby" -R -X stream --checkpoint=fast
cat >>"$work/standby/postgresql.auto.conf" <<EOF
port = $STANDBY_PORT
primary_conninfo = 'host=127.0.0.1 port=$PRIMARY_PORT user=postgres application_name=standby'
EOF
as_pg "$PGBIN/pg_ctl" -D "$work/standby" -l "$work/standby.log" -w start >/dev/null
# From now on a commit is acknowledged once the standby has it on disk: a failover loses no
# acknowledged order. (Set only now: with no standby yet, every commit would wait.)
as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -qc "ALTER SYSTEM SET synchronous_standby_names = 'standby'"
as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -qAtc "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 1 100); do
  state=$(as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -Atc \
    "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'")
  [ "$state" = sync ] && break
  sleep 0.1
done
[ "$state" = sync ] || { say "the standby did not become synchronous"; exit 1; }

say "HAProxy on $FRONT_PORT in front of both"
cat >"$work/haproxy.cfg" <<EOF
global
  pidfile $work/haproxy.pid
defaults
  mode tcp
  timeout connect 1s
  timeout client 1h
  timeout server 1h
listen postgres
  bind 127.0.0.1:$FRONT_PORT
  option pgsql-check user postgres
  default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
  server primary 127.0.0.1:$PRIMARY_PORT check
  server standby 127.0.0.1:$STANDBY_PORT check backup
EOF
haproxy -f "$work/haproxy.cfg" -D

say "rouge checks out through HAProxy for $DRILL_SECONDS s"
"$ROUGE" --database-url "postgres://postgres@127.0.0.1:$FRONT_PORT/rouge" drill failover \
  --seconds "$DRILL_SECONDS" >"$work/report.txt" 2>"$work/drill.log" &
drill_pid=$!
until grep -q "fail the database over now" "$work/drill.log"; do
  kill -0 "$drill_pid" 2>/dev/null || { cat "$work/drill.log" >&2; exit 1; }
  sleep 0.2
done
sleep "$FAIL_AFTER"

say "the primary stops (immediate) and the standby is promoted"
t0=$(date +%s.%N)
as_pg "$PGBIN/pg_ctl" -D "$work/primary" stop -m immediate >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$work/standby" promote -w >/dev/null
t1=$(date +%s.%N)
say "standby promoted $(echo "$t1 - $t0" | bc -l | xargs printf '%.1f') s after the primary stopped"

status=0
wait "$drill_pid" || status=$?
drill_pid=
grep -E "^drill: t=" "$work/drill.log" >&2 || true
cat "$work/report.txt"
exit "$status"
