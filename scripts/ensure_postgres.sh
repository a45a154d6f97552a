#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, pg_ctl) exist, for the
# benchmark's LocalPostgres. Installs the Debian package only when they are
# missing both on PATH and under /usr/lib/postgresql/*/bin. Idempotent and
# quiet; it never starts a server (the benchmark starts its own on a free port).
set -euo pipefail

have_postgres() {
  command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && return 0
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && return 0
  done
  return 1
}

have_postgres && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "PostgreSQL server binaries are missing; run as root or: sudo apt-get install -y postgresql" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "PostgreSQL server binaries are missing and apt-get is not available; install PostgreSQL (initdb, pg_ctl) yourself" >&2
  exit 1
fi
echo "==> installing postgresql (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Like the official postgres Docker image: install postgresql-common first and
# tell it not to create (and start) a system cluster on port 5432.
apt-get install -y -qq postgresql-common >/dev/null
conf=/etc/postgresql-common/createcluster.conf
if [ -f "$conf" ]; then
  sed -ri 's/^#?\s*(create_main_cluster)\s*=.*$/\1 = false/' "$conf"
fi
apt-get install -y -qq postgresql >/dev/null
if ! have_postgres; then
  echo "apt-get installed postgresql but initdb/pg_ctl are still not found" >&2
  exit 1
fi
