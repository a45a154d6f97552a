"""Small helpers shared by the memory tests."""

from __future__ import annotations

from collections.abc import Sequence

from google.adk.memory.memory_entry import MemoryEntry


def texts(memories: Sequence[MemoryEntry]) -> list[str]:
    """The text of each memory entry, in order."""
    return [" ".join(p.text for p in m.content.parts or [] if p.text) for m in memories]
