"""Listener middleware: acknowledge at once, and drop deliveries we have already handled.

Which deliveries count as the same one, and where the filter remembers them (this process's
memory, or the database when several replicas serve), is `bot.deliveries`.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.deliveries import Deduplicator, SharedDeduplicator, delivery_key

log = logging.getLogger(__name__)


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
