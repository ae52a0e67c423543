#!/usr/bin/env bash
# System packages the test suite and the benchmark need beyond Python: PgBouncer (the
# transaction-pooling test), wrk (the load generator of `make bench`), PostgreSQL's server
# binaries (initdb and pg_ctl: the restart tests start clusters of their own) and client tools
# (pg_dump and pg_restore: the backup tests), and Chromium (the dashboard's browser tests drive
# Debian's build through Playwright; no browser is downloaded). Idempotent: installs only what is missing, with
# Debian's apt (as root, or through sudo). Without apt or the rights to use it, stops at once
# with one line naming what to install.
set -euo pipefail

have_postgres_server() {
  local bindir
  if bindir=$(pg_config --bindir 2>/dev/null) && [ -x "$bindir/initdb" ]; then
    return 0
  fi
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

missing=()
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || missing+=(pgbouncer)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
have_postgres_server || missing+=(postgresql)
{ command -v pg_dump && command -v pg_restore; } >/dev/null 2>&1 || missing+=(postgresql-client)
[ -x /usr/bin/chromium ] || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
  else
    echo "install-system-deps: missing ${missing[*]}: install them as root (Debian: apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: missing ${missing[*]} and apt-get is not available: install them with your package manager" >&2
  exit 1
fi
echo "install-system-deps: installing ${missing[*]} (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -q >/dev/null
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian starts a pgbouncer service on install; tests start their own on a free port.
if [[ " ${missing[*]} " == *" pgbouncer "* ]] && command -v service >/dev/null 2>&1; then
  $SUDO service pgbouncer stop >/dev/null 2>&1 || true
fi
