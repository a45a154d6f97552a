"""SQL of ``PostgresMemoryService``: named statements over one table set.

``P`` is the table prefix (``adk_memory`` by default)::

    P_meta     name -> value: ``layout_version`` (``1``)
    P_users    one row per (app, user): memories (N) and total_length (sum
               of lengths), BM25's collection statistics
    P_entries  one row per memory: ids, ts, length, payload (the entry JSON
               of ``_memory_codec``) and terms (a ``tsvector``, GIN indexed)
    P_deleted  one row per deleted memory (a tombstone): ids and ts

Rows are keyed by digests, never by the ids themselves: ``scope`` is a
digest of (app name, user id) and ``memory_key`` a digest of the memory id
(both 16 bytes), so ids of any length fit a btree. The ids are stored in
their own columns too, and every statement also filters on ``app_name`` and
``user_id``: no id is ever part of the SQL text, and isolation does not rest
on the digests.

``terms`` holds the tokens ``_tokenize.tokenize`` produced, written as a
``tsvector`` literal (``'term':1,2,3``; the positions 1..n only count the
term, up to 256, PostgreSQL's limit). No text search configuration touches
them, so the index has exactly the Redis service's terms: CJK bigrams,
accent folding, stop words and the plural stemmer included.

Writes of one (app, user) are serialized by a transaction-level advisory
lock taken first (``LOCK_USER``); every later statement of the transaction
then sees the writes committed before it (READ COMMITTED takes a snapshot
per statement). Searches are one read-only statement: one snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "LAYOUT_VERSION",
    "MAX_POSITIONS",
    "MemorySql",
    "tsquery_literal",
    "tsvector_literal",
    "validate_table_prefix",
]

#: Version of the layout above, kept in ``P_meta``.
LAYOUT_VERSION = 1
#: PostgreSQL keeps at most this many positions per lexeme.
MAX_POSITIONS = 256
#: 63 (PostgreSQL's identifier limit) - len("_entries_terms_gin").
_MAX_PREFIX = 45
_PREFIX = re.compile(r"[a-z_][a-z0-9_]*\Z")
_POSITIONS = [
    ",".join(str(p) for p in range(1, n + 1)) for n in range(1 + MAX_POSITIONS)
]

_CREATE_META = """
CREATE TABLE IF NOT EXISTS {meta} (
    name text PRIMARY KEY,
    value text NOT NULL
)"""

_CREATE_USERS = """
CREATE TABLE IF NOT EXISTS {users} (
    scope bytea PRIMARY KEY,
    app_name text NOT NULL,
    user_id text NOT NULL,
    memories bigint NOT NULL,
    total_length bigint NOT NULL
)"""

_CREATE_ENTRIES = """
CREATE TABLE IF NOT EXISTS {entries} (
    scope bytea NOT NULL,
    memory_key bytea NOT NULL,
    app_name text NOT NULL,
    user_id text NOT NULL,
    memory_id text NOT NULL,
    ts double precision NOT NULL,
    length integer NOT NULL,
    payload text NOT NULL,
    terms tsvector NOT NULL,
    PRIMARY KEY (scope, memory_key)
)"""

_CREATE_TERMS_INDEX = """
CREATE INDEX IF NOT EXISTS {entries}_terms_gin ON {entries} USING gin (terms)"""

_CREATE_DELETED = """
CREATE TABLE IF NOT EXISTS {deleted} (
    scope bytea NOT NULL,
    memory_key bytea NOT NULL,
    app_name text NOT NULL,
    user_id text NOT NULL,
    memory_id text NOT NULL,
    ts double precision NOT NULL,
    PRIMARY KEY (scope, memory_key)
)"""

# :names  the four tables and the index.  Returns how many of them exist.
_COUNT_RELATIONS = """
SELECT count(to_regclass(name)) FROM unnest(CAST(:names AS text[])) AS name"""

# :key  the advisory lock of table creation (serializes concurrent creators:
# CREATE ... IF NOT EXISTS alone can still collide in the catalog).
_LOCK_DDL = "SELECT pg_advisory_xact_lock(:key)"

_INSERT_VERSION = """
INSERT INTO {meta} (name, value) VALUES ('layout_version', :version)
ON CONFLICT (name) DO NOTHING"""

_READ_VERSION = "SELECT value FROM {meta} WHERE name = 'layout_version'"

# :lock  the user's advisory lock; taken first by every write transaction.
_LOCK_USER = "SELECT pg_advisory_xact_lock(:lock)"

# :scope :app :user :keys (memory keys).  Which of them are stored (with
# their payload and length) or deleted (stored = false).
_STATE = """
SELECT true AS stored, memory_key, payload, length
FROM {entries}
WHERE scope = :scope AND app_name = :app AND user_id = :user
  AND memory_key = ANY(CAST(:keys AS bytea[]))
UNION ALL
SELECT false, memory_key, NULL, NULL
FROM {deleted}
WHERE scope = :scope AND app_name = :app AND user_id = :user
  AND memory_key = ANY(CAST(:keys AS bytea[]))"""

# :scope :app :user, per memory (parallel arrays) :keys :ids :ts :lengths
# :payloads :terms (tsvector literals), :revive (keys whose tombstone goes),
# :added (new memories) :length_delta (change of total_length).
# Stores the memories (replacing rows of the same key), clears tombstones and
# moves the user's statistics, in one statement. The caller decided what to
# write under the user's lock, so the arrays hold each key once.
_WRITE = """
WITH incoming AS (
    SELECT *
    FROM unnest(
        CAST(:keys AS bytea[]), CAST(:ids AS text[]), CAST(:ts AS float8[]),
        CAST(:lengths AS integer[]), CAST(:payloads AS text[]),
        CAST(:terms AS text[])
    ) AS r(memory_key, memory_id, ts, length, payload, terms)
),
stored AS (
    INSERT INTO {entries} AS e (
        scope, memory_key, app_name, user_id, memory_id, ts, length, payload, terms
    )
    SELECT CAST(:scope AS bytea), memory_key, CAST(:app AS text),
           CAST(:user AS text), memory_id, ts, length, payload,
           CAST(terms AS tsvector)
    FROM incoming
    ON CONFLICT (scope, memory_key) DO UPDATE
    SET memory_id = excluded.memory_id, ts = excluded.ts,
        length = excluded.length, payload = excluded.payload,
        terms = excluded.terms
    WHERE e.app_name = excluded.app_name AND e.user_id = excluded.user_id
    RETURNING 1
),
revived AS (
    DELETE FROM {deleted}
    WHERE scope = :scope AND app_name = :app AND user_id = :user
      AND memory_key = ANY(CAST(:revive AS bytea[]))
    RETURNING 1
)
INSERT INTO {users} AS u (scope, app_name, user_id, memories, total_length)
VALUES (:scope, :app, :user, :added, :length_delta)
ON CONFLICT (scope) DO UPDATE
SET memories = u.memories + excluded.memories,
    total_length = u.total_length + excluded.total_length
WHERE u.app_name = excluded.app_name AND u.user_id = excluded.user_id"""

# :scope :app :user :key :memory_id.  Deletes one memory, leaves a tombstone
# and lowers the user's statistics, in one statement (under the user's lock).
_DELETE = """
WITH gone AS (
    DELETE FROM {entries}
    WHERE scope = :scope AND app_name = :app AND user_id = :user
      AND memory_key = :key AND memory_id = :memory_id
    RETURNING memory_key, memory_id, ts, length
),
tombstone AS (
    INSERT INTO {deleted} (scope, memory_key, app_name, user_id, memory_id, ts)
    SELECT CAST(:scope AS bytea), memory_key, CAST(:app AS text),
           CAST(:user AS text), memory_id, ts
    FROM gone
    ON CONFLICT (scope, memory_key) DO NOTHING
)
UPDATE {users} AS u
SET memories = u.memories - g.n, total_length = u.total_length - g.total
FROM (SELECT count(*) AS n, coalesce(sum(length), 0) AS total FROM gone) AS g
WHERE u.scope = :scope AND u.app_name = :app AND u.user_id = :user AND g.n > 0"""

# :scope :app :user :query (tsquery: the terms OR-ed) :terms (text[]) :k1 :b
# :k.  The k best memories by BM25, best first; ties go to the newer memory,
# then to the smaller id (byte order, as in Redis):
#   score(d) = sum over query terms t in d of
#     idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avg len)),
#   idf(t) = max(0, ln(1 + (N - df + 0.5) / (df + 0.5)))
# N and the average length come from P_users, df from the matching rows (a
# memory holding t matches the OR query). The GIN index (or the primary
# key) finds the memories holding any query term; only theirs are read, and
# of each only the query terms' entries (setweight marks them, ts_filter
# keeps them: about twice as fast as unnesting the whole tsvector). Each
# score is summed in term order, so equal memories get bit-equal scores and
# the tie-break applies.
_SEARCH = """
WITH params AS (
    SELECT CAST(:k1 AS float8) AS k1, CAST(:b AS float8) AS b
),
stats AS (
    SELECT CAST(memories AS float8) AS n,
           CASE WHEN memories > 0 AND total_length > 0
                THEN CAST(total_length AS float8) / memories
                ELSE 1.0 END AS avgdl
    FROM {users}
    WHERE scope = :scope AND app_name = :app AND user_id = :user
),
hits AS (
    SELECT e.memory_key, e.memory_id, e.ts, e.length, t.lexeme,
           CAST(coalesce(cardinality(t.positions), 1) AS float8) AS tf
    FROM {entries} AS e
    CROSS JOIN LATERAL unnest(
        ts_filter(setweight(e.terms, 'A', CAST(:terms AS text[])), '{{a}}')
    ) AS t
    WHERE e.scope = :scope AND e.app_name = :app AND e.user_id = :user
      AND e.terms @@ CAST(:query AS tsquery)
),
idf AS (
    SELECT h.lexeme,
           greatest(0.0, ln(1.0 + (s.n - count(*) + 0.5) / (count(*) + 0.5)))
               AS idf
    FROM hits AS h CROSS JOIN stats AS s
    GROUP BY h.lexeme, s.n
),
best AS (
    SELECT h.memory_key, h.memory_id, h.ts,
           sum(
               i.idf * h.tf * (p.k1 + 1.0)
               / (h.tf + p.k1 * (1.0 - p.b + p.b * h.length / s.avgdl))
               ORDER BY h.lexeme
           ) AS score
    FROM hits AS h
    JOIN idf AS i USING (lexeme)
    CROSS JOIN stats AS s
    CROSS JOIN params AS p
    GROUP BY h.memory_key, h.memory_id, h.ts
    ORDER BY score DESC, h.ts DESC, h.memory_id COLLATE "C"
    LIMIT :k
)
SELECT b.memory_id, e.payload, b.score
FROM best AS b
JOIN {entries} AS e ON e.scope = :scope AND e.memory_key = b.memory_key
ORDER BY b.score DESC, b.ts DESC, b.memory_id COLLATE "C"
"""


def validate_table_prefix(prefix: str) -> str:
    """Returns ``prefix`` if it can name this service's tables, else raises.

    Args:
        prefix: Lowercase letters, digits and ``_``, not starting with a
            digit, at most 45 characters (PostgreSQL names stop at 63).

    Raises:
        ValueError: If it is anything else (it becomes part of the SQL).
    """
    if (
        not isinstance(prefix, str)
        or not _PREFIX.match(prefix)
        or len(prefix) > _MAX_PREFIX
    ):
        raise ValueError(
            "table_prefix must be lowercase letters, digits and '_', not "
            f"starting with a digit, at most {_MAX_PREFIX} characters; "
            f"got {prefix!r}"
        )
    return prefix


@dataclass(frozen=True)
class MemorySql:
    """Every statement of the service, with its table names filled in.

    Attributes:
        tables: The four tables: meta, users, entries, deleted.
        relations: The tables and the GIN index (for ``count_relations``).
        create: The DDL, in order; each is idempotent.
        count_relations: How many of ``relations`` exist.
        lock_ddl: The advisory lock of table creation.
        insert_version: Records the layout version (if none is).
        read_version: The recorded layout version.
        lock_user: The advisory lock of one user's writes.
        state: Which memory keys are stored or deleted.
        write: Stores memories, clears tombstones, moves statistics.
        delete: Deletes one memory, leaves a tombstone.
        search: The top k by BM25.
    """

    tables: tuple[str, str, str, str]
    relations: tuple[str, ...]
    create: tuple[str, ...]
    count_relations: str
    lock_ddl: str
    insert_version: str
    read_version: str
    lock_user: str
    state: str
    write: str
    delete: str
    search: str

    @classmethod
    def for_prefix(cls, prefix: str) -> MemorySql:
        """Builds the statements of the tables named ``<prefix>_...``.

        Args:
            prefix: A valid table prefix (see `validate_table_prefix`).
        """
        names = {
            kind: f"{validate_table_prefix(prefix)}_{kind}"
            for kind in ("meta", "users", "entries", "deleted")
        }

        def fill(template: str) -> str:
            return template.format(**names).strip()

        create = (
            _CREATE_META,
            _CREATE_USERS,
            _CREATE_ENTRIES,
            _CREATE_TERMS_INDEX,
            _CREATE_DELETED,
        )
        return cls(
            tables=(names["meta"], names["users"], names["entries"], names["deleted"]),
            relations=(*names.values(), f"{names['entries']}_terms_gin"),
            create=tuple(fill(sql) for sql in create),
            count_relations=fill(_COUNT_RELATIONS),
            lock_ddl=fill(_LOCK_DDL),
            insert_version=fill(_INSERT_VERSION),
            read_version=fill(_READ_VERSION),
            lock_user=fill(_LOCK_USER),
            state=fill(_STATE),
            write=fill(_WRITE),
            delete=fill(_DELETE),
            search=fill(_SEARCH),
        )


def _quote(term: str) -> str:
    # Terms are letters and digits only; quoting keeps any other text inert.
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(counts: Mapping[str, int]) -> str:
    """The ``tsvector`` of a memory: each term with ``count`` positions.

    Args:
        counts: Term -> how often it occurs (capped at `MAX_POSITIONS`).
    """
    return " ".join(
        f"{_quote(term)}:{_POSITIONS[max(1, min(count, MAX_POSITIONS))]}"
        for term, count in counts.items()
    )


def tsquery_literal(terms: Iterable[str]) -> str:
    """The ``tsquery`` matching a memory holding any of ``terms``."""
    return " | ".join(_quote(term) for term in terms)
