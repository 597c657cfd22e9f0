"""Listener middleware: acknowledge at once, and drop deliveries we have already handled.

Slack delivers at least once: the Events API retries (`X-Slack-Retry-Num`, mirrored by bolt's
Socket Mode adapter), Socket Mode may re-send an envelope, and people double-click buttons.
Each delivery gets a key; a key seen within its time window is acknowledged and not processed
again. The window lives in this process's memory (`Deduplicator`): enough for one server
(Slack's retries and re-sends arrive within minutes). Several replicas behind a load balancer
share it through the database instead (`SharedDeduplicator`, on PostgreSQL), so a retry that
lands on another replica is still answered once.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, Protocol

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)

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


def build_dedupe_middleware(
    dedupe: Deduplicator | SharedDeduplicator,
) -> Callable[..., Awaitable[BoltResponse | None]]:
    """Listener middleware answering 200 to a delivery already handled, without running it."""

    async def drop_duplicates(
        body: dict[str, Any], request: AsyncBoltRequest, next: Callable[[], Awaitable[Any]]
    ) -> BoltResponse | None:
        found = delivery_key(body)
        if found is None:
            return await next()
        first = dedupe.first_time(*found)
        if inspect.isawaitable(first):
            first = await first
        if first:
            return await next()
        retry = request.headers.get("x-slack-retry-num", [None])[0]
        log.info("ignored a duplicate delivery (%s, retry %s)", found[0].split(":")[0], retry)
        return BoltResponse(status=200, body="")

    return drop_duplicates


async def ack_first(ack: AsyncAck, next: Callable[[], Awaitable[Any]]) -> Any:
    """Acknowledge before the listener is even scheduled.

    With `process_before_response=False` bolt starts the listener as a task and polls for its
    ack every 10 ms; acking here means the first poll already finds it, so Slack's HTTP answer
    (or the Socket Mode ack) leaves at once. The listener still calls `ack()` itself, which is
    then a no-op, so it stays correct without this middleware.
    """
    await ack()
    return await next()
