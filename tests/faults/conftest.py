"""Fixtures of the fault tests: restartable servers and a record of figures.

Each fault test records its figures (events appended, crashes injected,
connections cut, stale rejections, events lost) with ``fault_figures``;
they are printed at the end of the run ("fault test figures") and, when
``ADK_FAULT_FIGURES`` names a file, appended to it as JSON lines, which is
where docs/reliability.md's numbers come from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ._server import RestartableRedis

_FIGURES: list[dict[str, Any]] = []

Record = Callable[..., None]


@pytest.fixture
def fault_figures(request: pytest.FixtureRequest) -> Record:
    """``record(**figures)``: keeps this test's figures for the summary."""

    def record(**figures: Any) -> None:
        entry = {
            "test": request.node.nodeid.split("::", 1)[-1],
            "server": os.path.basename(
                os.environ.get("REDIS_SERVER_BIN", "redis-server")
            ),
            **figures,
        }
        _FIGURES.append(entry)
        path = os.environ.get("ADK_FAULT_FIGURES")
        if path:
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps(entry) + "\n")

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section("fault test figures")
    for entry in _FIGURES:
        rest = ", ".join(
            f"{k}={v}" for k, v in entry.items() if k not in ("test", "server")
        )
        terminalreporter.write_line(f"{entry['test']} [{entry['server']}]: {rest}")


@pytest.fixture
def durable_redis() -> Iterator[RestartableRedis]:
    """A started server with ``appendonly yes`` + ``appendfsync always``."""
    with RestartableRedis(durable=True) as server:
        server.start()
        yield server
