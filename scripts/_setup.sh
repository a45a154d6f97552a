# Sourced by scripts/test.sh, demo.sh and bench.sh: makes a fresh Debian
# machine that has only Python ready (a venv with the package and its test
# extras, and the redis-server and PostgreSQL binaries). Servers themselves
# are started by the programs on free loopback ports, never here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "redis-server is missing; run as root or: sudo apt-get install -y redis-server" >&2
    exit 1
  fi
  echo "==> installing redis-server (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi

# PostgreSQL server binaries: the benchmark (and its smoke test) compare
# against ADK's DatabaseSessionService on a throwaway local PostgreSQL.
bash scripts/ensure_postgres.sh

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
# Reinstall only when the dependency list changed since the last install.
stamp=.venv/.adk-redis-session-stamp
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing the package with test extras into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  echo "$want" > "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
