#!/usr/bin/env bash
# Runs lint, type check and the whole test suite. Starts its own redis-server
# on a free loopback port (from the test session) and stops it afterwards.
source "$(dirname "$0")/_setup.sh"

echo "==> ruff"
ruff check .
ruff format --check .
echo "==> mypy"
mypy
echo "==> pytest"
set +e
pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$rc"
