"""Operational statistics: table and index sizes, and the slowest statements.

The slowest statements come from ``pg_stat_statements`` when the extension is installed in the
database *and* loaded by the server (``shared_preload_libraries``); otherwise
:attr:`DatabaseStats.statements_note` says what is missing and the sizes are still reported.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class TableSize:
    table: str
    estimated_rows: int
    total_bytes: int
    table_bytes: int
    index_bytes: int


@dataclass(frozen=True)
class IndexSize:
    table: str
    index: str
    bytes: int
    scans: int


@dataclass(frozen=True)
class SlowStatement:
    query: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    # pg_stat_statements' hash of the normalised statement (None when the server hides it).
    queryid: int | None = None


@dataclass(frozen=True)
class DatabaseStats:
    tables: tuple[TableSize, ...]
    indexes: tuple[IndexSize, ...]
    slow_statements: tuple[SlowStatement, ...]
    statements_note: str | None


_TABLES_SQL = text("""
SELECT c.relname AS table,
       greatest(c.reltuples, 0)::bigint AS estimated_rows,
       pg_total_relation_size(c.oid) AS total_bytes,
       pg_relation_size(c.oid) AS table_bytes,
       pg_indexes_size(c.oid) AS index_bytes
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()
 ORDER BY pg_total_relation_size(c.oid) DESC, c.relname
""")

_INDEXES_SQL = text("""
SELECT relname AS table, indexrelname AS index,
       pg_relation_size(indexrelid) AS bytes, idx_scan AS scans
  FROM pg_stat_user_indexes
 WHERE schemaname = current_schema()
 ORDER BY pg_relation_size(indexrelid) DESC, indexrelname
""")

# Two fixed orders (never a column name from a caller in the SQL text).
_STATEMENTS_SQL = """
SELECT queryid, query, calls, total_exec_time AS total_ms, mean_exec_time AS mean_ms, rows
  FROM pg_stat_statements
 WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY {order} DESC
 LIMIT :limit
"""
_BY_MEAN_TIME = text(_STATEMENTS_SQL.format(order="mean_exec_time"))
_BY_TOTAL_TIME = text(_STATEMENTS_SQL.format(order="total_exec_time"))


async def collect_stats(connection: AsyncConnection, *, limit: int = 10) -> DatabaseStats:
    """Sizes of this schema's tables and indexes, and the ``limit`` slowest statements."""
    tables = tuple(
        TableSize(**row._mapping) for row in (await connection.execute(_TABLES_SQL)).all()
    )
    indexes = tuple(
        IndexSize(**row._mapping) for row in (await connection.execute(_INDEXES_SQL)).all()
    )
    slow, note = await _slow_statements(connection, limit)
    return DatabaseStats(tables, indexes, slow, note)


async def top_statements_by_total_time(
    connection: AsyncConnection, *, limit: int = 10
) -> tuple[tuple[SlowStatement, ...], str | None]:
    """The ``limit`` statements that took the most time in total (what the API exports as
    metrics), or none and a note saying why pg_stat_statements cannot be read."""
    return await _slow_statements(connection, limit, by_total_time=True)


async def _slow_statements(
    connection: AsyncConnection, limit: int, *, by_total_time: bool = False
) -> tuple[tuple[SlowStatement, ...], str | None]:
    installed = (
        await connection.execute(
            text("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'")
        )
    ).first()
    if installed is None:
        return (), (
            "pg_stat_statements is not installed in this database "
            "(CREATE EXTENSION pg_stat_statements; the server needs it in shared_preload_libraries)"
        )
    try:
        # A savepoint, so a server without the library loaded leaves the transaction usable.
        async with connection.begin_nested():
            statement = _BY_TOTAL_TIME if by_total_time else _BY_MEAN_TIME
            rows = (await connection.execute(statement, {"limit": limit})).all()
    except DBAPIError as exc:
        first_line = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        return (), f"pg_stat_statements is not usable: {first_line}"
    return tuple(SlowStatement(**row._mapping) for row in rows), None


def _size(num_bytes: int) -> str:
    value = float(num_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_stats(stats: DatabaseStats) -> str:
    """The statistics as plain aligned text for a terminal."""
    lines = [
        "Tables",
        f"  {'table':<24} {'rows (est.)':>12} {'total':>10} {'data':>10} {'indexes':>10}",
    ]
    lines += [
        f"  {t.table:<24} {t.estimated_rows:>12} {_size(t.total_bytes):>10} "
        f"{_size(t.table_bytes):>10} {_size(t.index_bytes):>10}"
        for t in stats.tables
    ]
    lines += ["", "Indexes", f"  {'index':<48} {'size':>10} {'scans':>10}"]
    lines += [f"  {i.index:<48} {_size(i.bytes):>10} {i.scans:>10}" for i in stats.indexes]
    lines += ["", "Slowest statements (mean time)"]
    if stats.statements_note:
        lines.append(f"  {stats.statements_note}")
    for s in stats.slow_statements:
        query = " ".join(s.query.split())
        lines.append(
            f"  {s.mean_ms:>9.2f} ms mean  {s.calls:>8} calls  {s.total_ms:>11.1f} ms total  "
            f"{query[:120]}"
        )
    return "\n".join(lines)
