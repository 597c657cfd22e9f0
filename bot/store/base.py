"""The connection under every part of the store: SQLite or PostgreSQL, migrations, transactions.

SQLite (a path, the default): aiosqlite runs it on its own thread, so no query blocks the event
loop; WAL; writes take an asyncio lock and `BEGIN IMMEDIATE`, so a transaction is never
interleaved with another coroutine's and a second process waits instead of failing.

PostgreSQL (a `postgresql://` URL, for several replicas on one database): an asyncpg pool;
reads run on any free connection, a transaction holds one connection until it ends, and the
mixins' queries reach it through `self.db` (a context variable knows the transaction of the
running task). Migrations run under an advisory lock, so replicas starting together apply
each one once. The SQL differences are in `bot.store.dialect`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from bot.store.dialect import POSTGRES, SQLITE, Dialect, Migration

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
T = TypeVar("T")
MEMO_SIZE = 256
OTHER_WRITERS_CHECK = 0.5  # seconds

POOL_SIZE = 10  # PostgreSQL connections per process
MIGRATION_LOCK = 0x67756172  # pg_advisory_xact_lock key while migrating ("guar")
# The transaction of the running task, per store: (store id, connection).
_TRANSACTION: ContextVar[tuple[int, Any] | None] = ContextVar("store_transaction", default=None)


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


class StoreUnavailable(Exception):
    """The store cannot be opened (PostgreSQL unreachable, refused, no such database); the
    message is one line without the URL, which may hold a password."""


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://"))


class StoreBase:
    """Owns the connection (or pool); the feature mixins of `bot.store` add the queries."""

    def __init__(self, db: Any, path: str, clock: Clock, dialect: Dialect = SQLITE) -> None:
        self._db = db
        self.path = path
        self.clock = clock
        self.dialect = dialect
        self._pool: Any = None  # the asyncpg pool, on PostgreSQL
        self._write_lock = asyncio.Lock()
        self._commits = 0  # write transactions committed through this connection
        self._data_version = 0
        self._data_version_at = -OTHER_WRITERS_CHECK
        self._memo: OrderedDict[Hashable, tuple[tuple[int, int], object]] = OrderedDict()

    @property
    def db(self) -> Any:
        """The connection for the running task: its transaction's, or the shared one (on
        PostgreSQL, the pool: each statement on a free connection)."""
        current = _TRANSACTION.get()
        if current is not None and current[0] == id(self):
            return current[1]
        return self._db

    @classmethod
    async def connect(
        cls, path: str, migrations: Sequence[Migration], clock: Clock = utc_now
    ) -> StoreBase:
        if is_postgres_url(path):
            return await cls._connect_postgres(path, migrations, clock)
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

    @classmethod
    async def _connect_postgres(
        cls, url: str, migrations: Sequence[Migration], clock: Clock
    ) -> StoreBase:
        from bot.store.pg import PgDb, create_pool

        try:
            pool = await create_pool(url, POOL_SIZE)
        except (TimeoutError, OSError, ValueError) as exc:
            raise StoreUnavailable(f"PostgreSQL (STORE_URL): {type(exc).__name__}") from None
        except Exception as exc:  # asyncpg's own errors: auth failed, no such database...
            if type(exc).__module__.startswith("asyncpg"):
                raise StoreUnavailable(
                    f"PostgreSQL (STORE_URL): {type(exc).__name__}"
                ) from None
            raise
        store = cls(PgDb(pool), url, clock, POSTGRES)
        store._pool = pool
        try:
            await store._migrate(migrations)
        except BaseException:
            await pool.close()
            raise
        return store

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        else:
            await self._db.close()

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        async with self.transaction() as db:
            if self.dialect.postgres:
                await db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
                await db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (seq BIGSERIAL,"
                    " name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
                )
            else:
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
                for statement in self.dialect.statements(self.dialect.script(script)):
                    if self.dialect.postgres:
                        await db.script(statement)
                    else:
                        await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (name, to_db_time(self.clock())),
                )

    async def version(self) -> tuple[int, int]:
        """Changes whenever the store's contents may have changed: our own commits, counted
        here at once, or another process's, which SQLite reports through `PRAGMA
        data_version` and PostgreSQL through the `store_version` row its triggers bump on
        every write to the corpus (asked at most every OTHER_WRITERS_CHECK seconds: a busy
        bot answers hundreds of commands a second and another process's write may show a
        moment late)."""
        now = time.monotonic()
        if now - self._data_version_at >= OTHER_WRITERS_CHECK:
            sql = (
                "SELECT n FROM store_version WHERE id = 1"
                if self.dialect.postgres
                else "PRAGMA data_version"
            )
            async with self._db.execute(sql) as cursor:
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
        order = "seq" if self.dialect.postgres else "rowid"
        async with self.db.execute(f"SELECT name FROM schema_migrations ORDER BY {order}") as cur:
            return [row[0] async for row in cur]

    @asynccontextmanager
    async def transaction(self, *, changes_content: bool = True) -> AsyncIterator[Any]:
        """One write transaction: committed on success, rolled back on any error.

        `changes_content=False` (duplicate filters, leases) leaves the memo of derived views
        valid.
        """
        current = _TRANSACTION.get()
        if current is not None and current[0] == id(self):
            yield current[1]  # already inside this store's transaction: join it
            return
        if self._pool is not None:
            async with self._postgres_transaction() as db:
                yield db
        else:
            async with self._sqlite_transaction() as db:
                yield db
        if changes_content:
            self._commits += 1

    @asynccontextmanager
    async def _postgres_transaction(self) -> AsyncIterator[Any]:
        from bot.store.pg import PgDb

        async with self._pool.acquire() as connection, connection.transaction():
            db = PgDb(connection)
            token = _TRANSACTION.set((id(self), db))
            try:
                yield db
            finally:
                _TRANSACTION.reset(token)

    @asynccontextmanager
    async def _sqlite_transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN, COMMIT and ROLLBACK run to completion even when the task is cancelled while
        waiting for them (aiosqlite runs them on its own thread regardless), so a cancelled
        task never leaves the shared connection inside a transaction.
        """
        db = self._db
        async with self._write_lock:
            try:
                await _uncancellable(db.execute("BEGIN IMMEDIATE"))
            except asyncio.CancelledError:
                if db.in_transaction:
                    await _uncancellable(db.execute("ROLLBACK"))
                raise
            token = _TRANSACTION.set((id(self), db))
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    await _uncancellable(db.execute("ROLLBACK"))
                raise
            else:
                await _uncancellable(db.execute("COMMIT"))
            finally:
                _TRANSACTION.reset(token)


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
