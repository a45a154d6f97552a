"""Benchmark helpers that need no server: session planning, stats, events."""

from __future__ import annotations

import pytest

from adk_redis_session.bench.config import BenchConfig
from adk_redis_session.bench.counting import rewrite_url
from adk_redis_session.bench.events import Conversation
from adk_redis_session.bench.pool import SessionPool, slack_for
from adk_redis_session.bench.stats import percentile, summarize


def test_reserve_keeps_every_session_within_its_slack() -> None:
    pool = SessionPool("app")
    plans = [pool.reserve(100, 7, 2), pool.reserve(100, 4, 2), pool.reserve(100, 9, 1)]
    assert [len(p) for p in plans] == [7, 4, 9]
    limit = 100 + slack_for(100)
    for ref in pool.refs:
        assert 100 <= ref.planned <= limit
    # Consecutive operations stay on one session until it is full.
    first = plans[0]
    assert first[:5] == [first[0]] * 5 and first[5] is not first[0]


def test_reserve_read_only_uses_one_session_and_rejects_oversized_ops() -> None:
    pool = SessionPool("app")
    plan = pool.reserve(1000, 5, 0)
    assert len(plan) == 5 and len({id(r) for r in plan}) == 1
    with pytest.raises(ValueError):
        pool.reserve(10, 1, 3)  # slack at 10 events is 2


def test_conversations_are_deterministic_and_realistically_sized() -> None:
    a, b = Conversation(7), Conversation(7)
    events_a = [a.history_event() for _ in range(40)]
    events_b = [b.history_event() for _ in range(40)]
    dump = [e.model_dump(exclude={"timestamp"}) for e in events_a]
    assert dump == [e.model_dump(exclude={"timestamp"}) for e in events_b]
    stamps = [e.timestamp for e in events_a]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert any(e.get_function_calls() for e in events_a)
    assert any(e.get_function_responses() for e in events_a)
    user, model = a.chat_turn()
    assert user.content and user.content.parts and model.content
    assert model.content.parts
    assert 90 <= len(user.content.parts[0].text or "") <= 100
    assert 1400 <= len(model.content.parts[0].text or "") <= 1500
    assert model.actions.state_delta["user:turns_total"] >= 1


def test_percentiles_and_summary() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([3.0], 99) == 3.0
    summary = summarize([1.0, 1.0, 2.0], wall_s=1.0)
    assert summary.ops_per_s == 3.0 and summary.p50_ms == 1.0
    assert summarize([2.0, 2.0]).ops_per_s == pytest.approx(500.0)


def test_rewrite_url_keeps_credentials_and_path() -> None:
    assert (
        rewrite_url("postgresql+asyncpg://u:p@db.example:5432/bench?ssl=off", 9)
        == "postgresql+asyncpg://u:p@127.0.0.1:9/bench?ssl=off"
    )
    assert rewrite_url("redis://10.0.0.1:6379/2", 7) == "redis://127.0.0.1:7/2"


def test_config_sizes() -> None:
    config = BenchConfig()
    assert config.append_at() == (10, 1000) and config.recent_at() == (1000,)
    assert config.ops_for("append", 1000, delayed=False) == 2 * config.ops_large
    assert config.ops_for("chat_turn", 100, delayed=True) == config.delay_ops
    assert BenchConfig.quick().histories == (10, 100)
    with pytest.raises(ValueError):
        BenchConfig(backends=("nope",))


def test_cli_rejects_unknown_backends(capsys: pytest.CaptureFixture[str]) -> None:
    from adk_redis_session.cli import main

    assert main(["bench", "--backends", "redis,nope"]) == 2
    assert "unknown backend" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--histories", "10,x"])
