"""Which Slack deliveries were already handled: the duplicate filter's state and keys.

Slack delivers at least once: the Events API retries (`X-Slack-Retry-Num`, mirrored by bolt's
Socket Mode adapter), Socket Mode may re-send an envelope, and people double-click buttons.
Each delivery gets a key; a key seen within its time window is acknowledged and not processed
again. The window lives in this process's memory (`Deduplicator`): enough for one server
(Slack's retries and re-sends arrive within minutes). Several replicas behind a load balancer
share it through the database instead (`SharedDeduplicator`, on PostgreSQL), so a retry that
lands on another replica is still answered once.

The listeners' middleware and Socket Mode's envelope filter (`bot.serve`) both use these.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

# Retries and re-sends come within minutes; a double click within a few seconds.
DELIVERY_WINDOW = 30 * 60.0
CLICK_WINDOW = 5.0


class Deduplicator:
    """Remembers delivery keys for a while; bounded in size, oldest forgotten first."""

    def __init__(self, max_keys: int = 50_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock

    def first_time(self, key: str, window: float) -> bool:
        """True the first time `key` is offered within `window` seconds; records it."""
        now = self._clock()
        expires = self._seen.get(key)
        if expires is not None and expires > now:
            return False
        self._seen[key] = now + window
        self._seen.move_to_end(key)
        while len(self._seen) > self._max_keys:
            self._seen.popitem(last=False)
        return True


class DeliveryLog(Protocol):
    async def first_delivery(self, key: str, window: timedelta) -> bool: ...


class SharedDeduplicator:
    """The duplicate filter in the database: the first replica to record a key handles it."""

    def __init__(self, deliveries: DeliveryLog) -> None:
        self._deliveries = deliveries

    async def first_time(self, key: str, window: float) -> bool:
        return await self._deliveries.first_delivery(key, timedelta(seconds=window))


def delivery_key(body: dict[str, Any]) -> tuple[str, float] | None:
    """The identity of one delivery and how long to remember it, or None if it has none.

    A slash command is identified by its `trigger_id`, an event by its `event_id`, a button
    click by who clicked what on which message (two clicks carry different trigger ids).
    """
    if body.get("command") and body.get("trigger_id"):
        return f"command:{body['trigger_id']}", DELIVERY_WINDOW
    if body.get("event_id"):
        return f"event:{body['event_id']}", DELIVERY_WINDOW
    if body.get("type") == "block_actions":
        user = (body.get("user") or {}).get("id", "")
        container = body.get("container") or {}
        where = container.get("message_ts") or container.get("view_id") or ""
        actions = body.get("actions") or [{}]
        chosen = actions[0].get("value") or (actions[0].get("selected_option") or {}).get(
            "value", ""
        )
        what = f"{actions[0].get('action_id', '')}={chosen}"
        return f"click:{user}:{where}:{what}", CLICK_WINDOW
    return None
