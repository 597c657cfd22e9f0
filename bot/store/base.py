"""The SQLite connection under every part of the store: WAL, migrations, write transactions.

All access goes through aiosqlite, which runs SQLite on its own thread, so no query blocks the
event loop. Writes take an asyncio lock and `BEGIN IMMEDIATE`, so a transaction is never
interleaved with another coroutine's and a second process waits instead of failing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar, cast

import aiosqlite

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
T = TypeVar("T")
MEMO_SIZE = 256
OTHER_WRITERS_CHECK = 0.5  # seconds

# A migration is (name, SQL script). Names are applied once each, in the order given.
Migration = tuple[str, str]


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_db_time(moment: datetime) -> str:
    """Timestamps are stored as UTC ISO text, which sorts as time does."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_db_time(text: str) -> datetime:
    # fromisoformat reads the trailing Z as UTC (Python 3.11+), ~50x faster than strptime:
    # it is called once per position read, a million times in an export.
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class StoreBase:
    """Owns the connection; the feature mixins of `bot.store` add the queries."""

    def __init__(self, db: aiosqlite.Connection, path: str, clock: Clock) -> None:
        self.db = db
        self.path = path
        self.clock = clock
        self._write_lock = asyncio.Lock()
        self._commits = 0  # write transactions committed through this connection
        self._data_version = 0
        self._data_version_at = -OTHER_WRITERS_CHECK
        self._memo: OrderedDict[Hashable, tuple[tuple[int, int], object]] = OrderedDict()

    @classmethod
    async def connect(
        cls, path: str, migrations: Sequence[Migration], clock: Clock = utc_now
    ) -> StoreBase:
        if path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None, uri=path.startswith("file:"))
        db.row_factory = aiosqlite.Row
        await db.execute("PRAGMA busy_timeout = 10000")
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.execute("PRAGMA foreign_keys = ON")
        store = cls(db, path, clock)
        await store._migrate(migrations)
        return store

    async def close(self) -> None:
        await self.db.close()

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        async with self.transaction() as db:
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            async with db.execute("SELECT name FROM schema_migrations") as cursor:
                applied = {row[0] async for row in cursor}
            for name, script in migrations:
                if name in applied:
                    continue
                log.info("applying store migration %s", name)
                for statement in _split_script(script):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (name, to_db_time(self.clock())),
                )

    async def version(self) -> tuple[int, int]:
        """Changes whenever the store's contents may have changed: our own commits, counted
        here at once, or another process's, which SQLite reports through `PRAGMA
        data_version` (asked at most every OTHER_WRITERS_CHECK seconds: a busy bot answers
        hundreds of commands a second and another process's write may show a moment late)."""
        now = time.monotonic()
        if now - self._data_version_at >= OTHER_WRITERS_CHECK:
            async with self.db.execute("PRAGMA data_version") as cursor:
                row = await cursor.fetchone()
            self._data_version = int(row[0]) if row else 0
            self._data_version_at = now
        return (self._commits, self._data_version)

    async def memo(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """`compute()`'s result, reused until the store changes (a small LRU of MEMO_SIZE).

        For derived views that many commands share between writes: the topic index, the
        briefing card of a topic during the morning rush."""
        version = await self.version()
        hit = self._memo.get(key)
        if hit is not None and hit[0] == version:
            self._memo.move_to_end(key)
            return cast(T, hit[1])
        value = await compute()
        self._memo[key] = (version, value)
        self._memo.move_to_end(key)
        while len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)
        return value

    async def applied_migrations(self) -> list[str]:
        async with self.db.execute("SELECT name FROM schema_migrations ORDER BY rowid") as cur:
            return [row[0] async for row in cur]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction: committed on success, rolled back on any error.

        BEGIN, COMMIT and ROLLBACK run to completion even when the task is cancelled while
        waiting for them (aiosqlite runs them on its own thread regardless), so a cancelled
        task never leaves the shared connection inside a transaction.
        """
        async with self._write_lock:
            try:
                await _uncancellable(self.db.execute("BEGIN IMMEDIATE"))
            except asyncio.CancelledError:
                if self.db.in_transaction:
                    await _uncancellable(self.db.execute("ROLLBACK"))
                raise
            try:
                yield self.db
            except BaseException:
                if self.db.in_transaction:
                    await _uncancellable(self.db.execute("ROLLBACK"))
                raise
            else:
                await _uncancellable(self.db.execute("COMMIT"))
                self._commits += 1


async def _uncancellable(step: Awaitable[object]) -> None:
    """Await `step` to the end; if we were cancelled meanwhile, raise that afterwards."""
    task = asyncio.ensure_future(step)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            cancelled = True
    task.result()
    if cancelled:
        raise asyncio.CancelledError


def _split_script(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (BEGIN ... END;) whole."""
    statements: list[str] = []
    current: list[str] = []
    in_trigger = False
    for line in script.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        current.append(line)
        upper = stripped.upper()
        if upper.startswith("CREATE TRIGGER"):
            in_trigger = True
        if in_trigger:
            if upper == "END;":
                statements.append("\n".join(current))
                current, in_trigger = [], False
        elif stripped.endswith(";"):
            statements.append("\n".join(current))
            current = []
    if current:
        statements.append("\n".join(current))
    return statements
