"""Channel subscriptions to daily digests (issue 4). Placeholder until that work lands."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.query import ListSubscriptionsRequest, SubscribeRequest, UnsubscribeRequest
    from bot.replies import CommandContext, Reply
    from bot.services import Services


async def handle_request(
    services: Services,
    request: SubscribeRequest | UnsubscribeRequest | ListSubscriptionsRequest,
    ctx: CommandContext,
) -> Reply:
    """Subscribe, unsubscribe or list this channel's digests; answer the caller."""
    raise NotImplementedError("subscriptions are not built yet")
