"""What several `serve` processes on one database share (issue 10).

- `deliveries`: the duplicate filter of commands, actions and events. A delivery's key is
  inserted if absent; the one insert that wins processes it, whichever replica it landed on.
  Keys expire after their window and are swept now and then.
- `leases`: a named lease (feed polling) held by one replica until it expires; the holder
  renews it, and when the holder dies another replica takes it once it has run out.
- `store_version` (PostgreSQL): a counter its statement triggers bump on every write to the
  corpus, which each replica reads to know its card caches are stale. SQLite reports other
  connections' writes itself (`PRAGMA data_version`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.store.base import StoreBase, to_db_time
from bot.store.dialect import Dialect, Migration

# Tables whose writes change what cards show. Corrections' tables get the same trigger from
# their own migration (`bot.store.corrections.OVERLAY_TABLES`), which runs after this one.
CONTENT_TABLES = ("articles", "positions", "actors")


def _store_version(dialect: Dialect) -> str:
    if not dialect.postgres:
        return "CREATE TABLE store_version (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);"
    triggers = "\n".join(
        f"CREATE TRIGGER {table}_store_version AFTER INSERT OR UPDATE OR DELETE ON {table}"
        " FOR EACH STATEMENT EXECUTE FUNCTION bump_store_version();"
        for table in CONTENT_TABLES
    )
    return f"""
        CREATE TABLE store_version (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
        INSERT INTO store_version VALUES (1, 0);
        CREATE FUNCTION bump_store_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE store_version SET n = n + 1 WHERE id = 1;
            RETURN NULL;
        END $$;
        {triggers}
    """


MIGRATIONS: list[Migration] = [
    ("replicas-1-version", _store_version),
    (
        "replicas-2-deliveries-leases",
        """
        CREATE TABLE deliveries (
            key TEXT PRIMARY KEY,
            expires_at TEXT NOT NULL
        );
        CREATE INDEX deliveries_expiry ON deliveries (expires_at);
        CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            holder TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        """,
    ),
]

SWEEP_EVERY = 500  # deliveries recorded between two sweeps of expired keys


class ReplicaStoreMixin(StoreBase):
    """The duplicate filter and leases, in the database so every replica sees them."""

    _deliveries_since_sweep = 0

    async def first_delivery(self, key: str, window: timedelta) -> bool:
        """True for the first delivery of `key` within `window` (by any replica)."""
        now = self.clock()
        now_text = to_db_time(now)
        sql = (
            "INSERT INTO deliveries (key, expires_at) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at"
            " WHERE deliveries.expires_at <= ?"
        )
        params = (key, to_db_time(now + window), now_text)
        if self.dialect.postgres:  # one statement, autocommit: one round trip before the ack
            first = (await self.db.execute(sql, params)).rowcount > 0
        else:
            async with self.transaction(changes_content=False) as db:
                first = (await db.execute(sql, params)).rowcount > 0
        self._deliveries_since_sweep += 1
        if self._deliveries_since_sweep >= SWEEP_EVERY:
            self._deliveries_since_sweep = 0
            async with self.transaction(changes_content=False) as db:
                await db.execute("DELETE FROM deliveries WHERE expires_at <= ?", (now_text,))
        return first

    async def acquire_lease(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease `name` for `ttl`; False while another holder has it."""
        now = self.clock()
        async with self.transaction(changes_content=False) as db, db.execute(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,"
            " expires_at = excluded.expires_at"
            " WHERE leases.holder = excluded.holder OR leases.expires_at <= ?"
            " RETURNING holder",
            (name, holder, to_db_time(now + ttl), to_db_time(now)),
        ) as cursor:
            row = await cursor.fetchone()
        return row is not None

    async def release_lease(self, name: str, holder: str) -> None:
        async with self.transaction(changes_content=False) as db:
            await db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder))

    async def lease_holder(self, name: str) -> tuple[str, datetime] | None:
        from bot.store.base import from_db_time

        async with self.db.execute(
            "SELECT holder, expires_at FROM leases WHERE name = ?", (name,)
        ) as cursor:
            row = await cursor.fetchone()
        return (row[0], from_db_time(row[1])) if row else None
