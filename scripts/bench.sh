#!/usr/bin/env bash
# The full benchmark: RedisSessionService vs ADK's DatabaseSessionService on
# PostgreSQL and SQLite, InMemorySessionService and ADK's built-in Redis
# service, at loopback and behind a simulated network. Starts its own
# redis-server and PostgreSQL unless REDIS_URL / DATABASE_URL are set.
# Arguments go to `adk-redis-session bench` (e.g. --quick, --out DIR).
source "$(dirname "$0")/_setup.sh"
exec adk-redis-session bench "$@"
