"""The store: one SQLite file (WAL), versioned migrations, async access through aiosqlite.

`Store` is composed of one mixin per feature so that each keeps its tables, migrations and
queries together. Open it with `async with open_store(path) as store:`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.store.base import Clock, Migration, StoreBase, utc_now
from bot.store.corrections import MIGRATIONS as CORRECTION_MIGRATIONS
from bot.store.corrections import AnalystViewsMixin
from bot.store.extractions import ExtractionStoreMixin
from bot.store.feeds import MIGRATIONS as FEED_MIGRATIONS
from bot.store.feeds import FeedStoreMixin
from bot.store.llm import MIGRATIONS as LLM_MIGRATIONS
from bot.store.llm import LLMStoreMixin
from bot.store.positions import MIGRATIONS as POSITION_MIGRATIONS
from bot.store.positions import AddResult, PositionStoreMixin, StoreStats, text_hash
from bot.store.subscriptions import MIGRATIONS as SUBSCRIPTION_MIGRATIONS
from bot.store.subscriptions import SubscriptionStoreMixin

MIGRATIONS: list[Migration] = [
    *POSITION_MIGRATIONS,
    *SUBSCRIPTION_MIGRATIONS,
    *FEED_MIGRATIONS,
    *LLM_MIGRATIONS,
    *CORRECTION_MIGRATIONS,
]


class Store(AnalystViewsMixin, PositionStoreMixin, SubscriptionStoreMixin, FeedStoreMixin,
            LLMStoreMixin, ExtractionStoreMixin):
    """Every query of the bot. Build it with `open_store`."""


@asynccontextmanager
async def open_store(path: str, clock: Clock = utc_now) -> AsyncIterator[Store]:
    store = await Store.connect(path, MIGRATIONS, clock)
    assert isinstance(store, Store)
    try:
        yield store
    finally:
        await store.close()


__all__ = ["AddResult", "Store", "StoreBase", "StoreStats", "open_store", "text_hash"]
