"""Redis session storage for Google's Agent Development Kit (ADK)."""

from .errors import (
    CorruptedDataError,
    EventIdConflictError,
    EventTooLargeError,
    RedisSessionError,
    StoreUnavailableError,
)
from .memory_service import RedisMemoryService
from .session_service import RedisSessionService

__all__ = [
    "CorruptedDataError",
    "EventIdConflictError",
    "EventTooLargeError",
    "RedisMemoryService",
    "RedisSessionError",
    "RedisSessionService",
    "StoreUnavailableError",
    "__version__",
]

__version__ = "0.1.0"
