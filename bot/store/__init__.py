"""The store: a SQLite file (WAL, aiosqlite) or a PostgreSQL database (asyncpg pool), with
one list of versioned migrations for both (see `bot.store.dialect` for how one is written).

`Store` is composed of one mixin per feature so that each keeps its tables, migrations and
queries together. Open it with `async with open_store(path_or_url) as store:`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.store.base import Clock, Migration, StoreBase, utc_now
from bot.store.corrections import MIGRATIONS as CORRECTION_MIGRATIONS
from bot.store.corrections import TEAM_MIGRATIONS, AnalystViewsMixin
from bot.store.extractions import ExtractionStoreMixin
from bot.store.feeds import MIGRATIONS as FEED_MIGRATIONS
from bot.store.feeds import FeedStoreMixin
from bot.store.llm import MIGRATIONS as LLM_MIGRATIONS
from bot.store.llm import LLMStoreMixin
from bot.store.position_queries import PositionQueryMixin
from bot.store.positions import MIGRATIONS as POSITION_MIGRATIONS
from bot.store.positions import AddResult, PositionStoreMixin, StoreStats, text_hash
from bot.store.replicas import MIGRATIONS as REPLICA_MIGRATIONS
from bot.store.replicas import ReplicaStoreMixin
from bot.store.subscriptions import MIGRATIONS as SUBSCRIPTION_MIGRATIONS
from bot.store.subscriptions import SubscriptionStoreMixin
from bot.store.workspaces import MIGRATIONS as WORKSPACE_MIGRATIONS
from bot.store.workspaces import WorkspaceStoreMixin

MIGRATIONS: list[Migration] = [
    *POSITION_MIGRATIONS,
    *SUBSCRIPTION_MIGRATIONS,
    *FEED_MIGRATIONS,
    *LLM_MIGRATIONS,
    *CORRECTION_MIGRATIONS,
    *REPLICA_MIGRATIONS,
    *WORKSPACE_MIGRATIONS,
    *TEAM_MIGRATIONS,
]


class Store(
    AnalystViewsMixin,
    PositionStoreMixin,
    PositionQueryMixin,
    SubscriptionStoreMixin,
    FeedStoreMixin,
    LLMStoreMixin,
    ExtractionStoreMixin,
    ReplicaStoreMixin,
    WorkspaceStoreMixin,
):
    """Every query of the bot. Build it with `open_store`."""


@asynccontextmanager
async def open_store(path: str, clock: Clock = utc_now) -> AsyncIterator[Store]:
    """`path`: a SQLite file (or `:memory:`), or a `postgresql://` URL."""
    store = await Store.connect(path, MIGRATIONS, clock)
    assert isinstance(store, Store)
    try:
        yield store
    finally:
        await store.close()


__all__ = ["AddResult", "Store", "StoreBase", "StoreStats", "open_store", "text_hash"]
