#!/usr/bin/env bash
# The servers the test suite talks to: PostgreSQL at 127.0.0.1:5432 (user postgres, trust auth)
# and Redis at 127.0.0.1:6379. Starts each one that is installed but not running; stops at once,
# with one line naming what to install, when one is missing. Idempotent.
set -euo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; }

wait_for() {
  for _ in $(seq 1 30); do "$1" && return 0; sleep 1; done
  return 1
}

if ! command -v pg_isready >/dev/null 2>&1; then
  echo "start-services: PostgreSQL is not installed: install it (Debian: apt-get install postgresql) and allow trust auth for user postgres on 127.0.0.1:5432" >&2
  exit 1
fi
if ! pg_up; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
    echo "start-services: PostgreSQL is not running at 127.0.0.1:5432 and no Debian cluster was found to start: start it yourself" >&2
    exit 1
  fi
  echo "start-services: starting PostgreSQL"
  version="$(ls /etc/postgresql | sort -V | tail -n 1)"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for pg_up || { echo "start-services: PostgreSQL did not come up at 127.0.0.1:5432" >&2; exit 1; }
fi

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "start-services: Redis is not installed: install it (Debian: apt-get install redis-server)" >&2
  exit 1
fi
if ! redis_up; then
  echo "start-services: starting Redis"
  workdir="${TMPDIR:-/tmp}/product-partners-redis"
  mkdir -p "$workdir"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir "$workdir" --logfile "$workdir/redis.log" || true
  wait_for redis_up || { echo "start-services: Redis did not come up at 127.0.0.1:6379" >&2; exit 1; }
fi
