#!/usr/bin/env bash
# System packages the test suite and the benchmark need beyond Python: PgBouncer (the
# transaction-pooling test) and wrk (the load generator of `make bench`). Idempotent: installs
# only what is missing. Needs root (or sudo) and Debian's apt.
set -euo pipefail

missing=()
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: apt-get not found; install ${missing[*]} by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "install-system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; then
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts a pgbouncer service on install; tests start their own on a free port.
if [[ " ${missing[*]} " == *" pgbouncer "* ]] && command -v service >/dev/null 2>&1; then
  $SUDO service pgbouncer stop >/dev/null 2>&1 || true
fi
