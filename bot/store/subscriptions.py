"""Channel subscriptions and the digest log (owned by the digest work, issue 4)."""

from __future__ import annotations

from bot.models import Subscription
from bot.store.base import Migration, StoreBase

MIGRATIONS: list[Migration] = []


class SubscriptionStoreMixin(StoreBase):
    """Queries for subscriptions and the exactly-once digest log."""

    async def list_subscriptions(self, channel_id: str | None = None) -> list[Subscription]:
        """Every subscription, or those of one channel."""
        return []
