"""Watches the garbage collector's pauses during a timed run.

A full (generation 2) collection walks every tracked object of the process
and stalls whatever operation is running; with a large heap that is tens to
hundreds of milliseconds, which shows up in p99. Recording the pauses lets a
reader tell interpreter pauses from the service's own cost.
"""

from __future__ import annotations

import gc
import time
from types import TracebackType
from typing import Any

__all__ = ["GcWatch"]


class GcWatch:
    """Context manager recording every collection's pause while active.

    Attributes:
        full_pauses_ms: Pauses of full (generation 2) collections.
        young_total_ms: Total pause of generation 0 and 1 collections.
    """

    def __init__(self) -> None:
        self.full_pauses_ms: list[float] = []
        self.young_total_ms = 0.0
        self._start = 0.0

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
            return
        pause = (time.perf_counter() - self._start) * 1000.0
        if info.get("generation") == 2:
            self.full_pauses_ms.append(pause)
        else:
            self.young_total_ms += pause

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        gc.callbacks.remove(self._callback)
