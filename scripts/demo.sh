#!/usr/bin/env bash
# The main job: a scripted multi-turn ADK agent conversation stored in Redis,
# restarted and read back. Uses REDIS_URL when set, else starts its own
# redis-server on a free loopback port.
source "$(dirname "$0")/_setup.sh"
exec python examples/demo.py "$@"
