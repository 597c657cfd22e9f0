"""Feed polling state and story clusters (owned by the live-sources work, issue 5)."""

from __future__ import annotations

from bot.store.base import Migration, StoreBase

MIGRATIONS: list[Migration] = []


class FeedStoreMixin(StoreBase):
    """Queries for feeds: conditional-GET validators, seen GUIDs, clusters."""
