"""PostgreSQL through asyncpg, with the face the store's queries already use.

The store's mixins speak aiosqlite's small API: `await db.execute(sql, params)` or
`async with db.execute(...) as cursor`, then `fetchone`, `fetchall`, `async for`, `rowcount`,
and `executemany`. `PgDb` offers the same over an asyncpg pool (each statement on a free
connection, autocommit) or over one connection inside a transaction, and passes every SQL
text through `PostgresDialect.query` (placeholders and the few function names).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Generator, Iterable, Sequence
from typing import Any

import asyncpg

from bot.store.dialect import POSTGRES

_ROWS = re.compile(r"^\s*(SELECT|WITH|VALUES|SHOW)\b", re.IGNORECASE)
_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)


class PgCursor:
    """The result of one statement: rows (for queries and RETURNING) and a row count."""

    def __init__(self, rows: list[asyncpg.Record], rowcount: int) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount

    async def fetchone(self) -> asyncpg.Record | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchall(self) -> list[asyncpg.Record]:
        rows, self._next = self._rows[self._next :], len(self._rows)
        return rows

    def __aiter__(self) -> AsyncIterator[asyncpg.Record]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[asyncpg.Record]:
        while (row := await self.fetchone()) is not None:
            yield row


class PgStatement:
    """What `PgDb.execute` returns: awaitable, and an async context manager, like aiosqlite's."""

    def __init__(self, target: Any, sql: str, params: Sequence[Any]) -> None:
        self._target = target
        self._sql = sql
        self._params = params
        self._cursor: PgCursor | None = None

    async def _run(self) -> PgCursor:
        if self._cursor is None:
            sql = POSTGRES.query(self._sql)
            if _ROWS.match(sql) or _RETURNING.search(sql):
                rows = await self._target.fetch(sql, *self._params)
                self._cursor = PgCursor(rows, len(rows))
            else:
                status = await self._target.execute(sql, *self._params)
                self._cursor = PgCursor([], _rowcount(status))
        return self._cursor

    def __await__(self) -> Generator[Any, None, PgCursor]:
        return self._run().__await__()

    async def __aenter__(self) -> PgCursor:
        return await self._run()

    async def __aexit__(self, *exc: object) -> None:
        return None


class PgDb:
    """aiosqlite's face over an asyncpg pool or one of its connections."""

    def __init__(self, target: asyncpg.Pool | asyncpg.Connection) -> None:
        self.target = target

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgStatement:
        return PgStatement(self.target, sql, tuple(params or ()))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(row) for row in rows]
        if rows:
            await self.target.executemany(POSTGRES.query(sql), rows)

    async def script(self, statement: str) -> None:
        """One DDL statement as written (no placeholders)."""
        await self.target.execute(statement)


def _rowcount(status: str) -> int:
    """'UPDATE 3' -> 3, 'INSERT 0 1' -> 1, 'CREATE TABLE' -> 0."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


async def create_pool(url: str, size: int) -> asyncpg.Pool:
    """A pool on `url` (other query parameters are server settings, e.g. `search_path`)."""
    pool = await asyncpg.create_pool(
        dsn=url.replace("postgresql+asyncpg://", "postgresql://", 1),
        min_size=1,
        max_size=size,
        command_timeout=60,
    )
    assert pool is not None
    return pool
