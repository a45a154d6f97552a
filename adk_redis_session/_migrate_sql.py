"""The database end of a migration: ADK's ``DatabaseSessionService`` and its rows.

Besides the service, `DatabaseStore` writes state and the last update time
through ADK's own ORM classes (``sessions``, ``app_states``,
``user_states``), whichever schema version the database uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from google.adk.sessions.session import Session

from ._migrate_stores import MigrationSetupError, Store, redact_url

if TYPE_CHECKING:
    from google.adk.sessions.database_session_service import DatabaseSessionService

__all__ = ["DatabaseStore"]


class DatabaseStore(Store):
    """ADK's ``DatabaseSessionService`` and its ORM rows.

    Args:
        url: An async SQLAlchemy URL (``postgresql+asyncpg://``,
            ``sqlite+aiosqlite://``...).
    """

    kind = "database"

    def __init__(self, url: str) -> None:
        from google.adk.sessions.database_session_service import (
            DatabaseSessionService,
        )

        try:
            service = DatabaseSessionService(url)
        except ValueError as exc:  # ADK's messages redact the URL
            raise MigrationSetupError(str(exc)) from None
        self._db: DatabaseSessionService = service
        # SQLite takes one writer at a time: copy one session after another.
        sqlite = service.db_engine.dialect.name == "sqlite"
        super().__init__(service, redact_url(url), 1 if sqlite else 8)
        #: True for a read-only target without ADK's tables: reads find
        #: nothing, and the tables are not created.
        self.absent = False

    async def get_session(
        self, app_name: str, user_id: str, session_id: str, *, events: bool = True
    ) -> Session | None:
        """Reads a session (None from an absent store)."""
        if self.absent:
            return None
        return await super().get_session(app_name, user_id, session_id, events=events)

    async def read_user_state(self, app_name: str, user_id: str) -> dict[str, Any]:
        """Returns a user's state ({} from an absent store)."""
        if self.absent:
            return {}
        return await super().read_user_state(app_name, user_id)

    async def has_session_tables(self) -> bool:
        """Whether the database holds ADK's tables (checked without creating)."""
        from sqlalchemy import inspect
        from sqlalchemy.engine import Connection

        def names(conn: Connection) -> list[str]:
            return list(inspect(conn).get_table_names())

        async with self._db.db_engine.connect() as conn:
            tables = await conn.run_sync(names)
        return {"sessions", "events", "app_states", "user_states"} <= set(tables)

    async def _schema(self) -> Any:
        # The ORM classes of the schema version in use (v1, or legacy v0).
        await self._db.prepare_tables()
        return self._db._get_schema_classes()

    def _db_time(self, timestamp: float) -> datetime:
        value = datetime.fromtimestamp(timestamp, timezone.utc)
        return value.replace(tzinfo=None) if self._db._uses_naive_datetime() else value

    async def users_with_state(self, app_name: str) -> list[str]:
        """Lists the users with a ``user_states`` row in the app."""
        from sqlalchemy import select

        schema = await self._schema()
        table = schema.StorageUserState
        async with self._db.database_session_factory() as sql:
            result = await sql.execute(
                select(table.user_id).where(table.app_name == app_name)
            )
            return sorted(str(u) for u in result.scalars().all())

    async def read_app_state(self, app_name: str) -> dict[str, Any]:
        """Returns the app's ``app_states`` row, or nothing."""
        if self.absent:
            return {}
        schema = await self._schema()
        async with self._db.database_session_factory() as sql:
            row = await sql.get(schema.StorageAppState, app_name)
            return dict(row.state or {}) if row is not None else {}

    async def _update_state(
        self, model: Any, key: Any, defaults: dict[str, Any], values: Mapping[str, Any]
    ) -> bool:
        async with self._db.database_session_factory() as sql:
            row = await sql.get(model, key)
            if row is None:
                if not defaults:
                    return False
                sql.add(model(**defaults, state=dict(values)))
            else:
                row.state.update(values)  # a MutableDict: flags the change
            await sql.commit()
        return True

    async def write_app_state(self, app_name: str, values: Mapping[str, Any]) -> None:
        """Updates (or creates) the app's ``app_states`` row."""
        schema = await self._schema()
        await self._update_state(
            schema.StorageAppState, app_name, {"app_name": app_name}, values
        )

    async def write_user_state(
        self, app_name: str, user_id: str, values: Mapping[str, Any]
    ) -> None:
        """Updates (or creates) the user's ``user_states`` row."""
        schema = await self._schema()
        await self._update_state(
            schema.StorageUserState,
            (app_name, user_id),
            {"app_name": app_name, "user_id": user_id},
            values,
        )

    async def write_session_state(
        self, app_name: str, user_id: str, session_id: str, values: Mapping[str, Any]
    ) -> bool:
        """Updates the ``sessions`` row's state."""
        schema = await self._schema()
        return await self._update_state(
            schema.StorageSession, (app_name, user_id, session_id), {}, values
        )

    async def set_last_update_time(
        self, app_name: str, user_id: str, session_id: str, timestamp: float
    ) -> bool:
        """Sets the ``sessions`` row's ``update_time`` (microseconds)."""
        schema = await self._schema()
        async with self._db.database_session_factory() as sql:
            row = await sql.get(schema.StorageSession, (app_name, user_id, session_id))
            if row is None:
                return False
            row.update_time = self._db_time(timestamp)
            await sql.commit()
        return True

    async def aclose(self) -> None:
        """Disposes the engine."""
        await self._db.close()
