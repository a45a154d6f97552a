"""Every example runs, as a user would run it, against the test redis-server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from adk_redis_session.testing import LocalRedisServer

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]


def _run(script: Path, url: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k not in ("GOOGLE_API_KEY",)} | {
        "REDIS_URL": url,
        **env,
    }
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_demo_reads_the_conversation_back_and_benchmarks(
    redis_server: LocalRedisServer,
) -> None:
    out = _run(ROOT / "examples" / "demo.py", redis_server.url)
    assert "events identical: yes, state identical: yes" in out
    assert "RedisSessionService (this package)" in out  # the quick benchmark


def test_quickstart_recalls_a_fact_from_memory(redis_server: LocalRedisServer) -> None:
    out = _run(ROOT / "examples" / "quickstart" / "main.py", redis_server.url)
    assert "recalled from memory: yes" in out
    assert "load_memory found" in out


def test_slack_bot_survives_a_restart(redis_server: LocalRedisServer) -> None:
    out = _run(
        ROOT / "examples" / "slack_bot" / "simulate.py",
        redis_server.url,
        MEMORY_BACKEND="redis",
    )
    assert "sessions: RedisSessionService, memory: RedisMemoryService" in out
    assert "user:reminders = ['renew the TLS certificate']" in out
    assert "the model saw the earlier turns after the restart: yes" in out
