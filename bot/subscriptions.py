"""Channel subscriptions to daily digests: subscribe, unsubscribe, list (issue 4).

Subscriptions are kept per channel id (never a name), with the topic words as typed so they
are resolved again at each digest. Re-subscribing a topic updates its time (and resumes it if
it was paused). Who may change a channel's subscriptions is `SUBSCRIPTION_MANAGERS`:
`members` (anyone who can run the command there) or `admins` (`ADMIN_USER_IDS` only); a refusal
and the list go only to the caller, changes are announced in the channel.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.cards.digest import (
    not_in_channel_message,
    refusal_message,
    subscribed_message,
    subscriptions_message,
    unsubscribed_message,
)
from bot.models import Subscription
from bot.query import ListSubscriptionsRequest, SubscribeRequest, UnsubscribeRequest
from bot.replies import CommandContext, Reply
from bot.schedule import local_today, scheduled_instant
from bot.store.subscriptions import ForeignChannelError

if TYPE_CHECKING:
    from bot.services import Services


def team_scope(services: Services, ctx: CommandContext) -> str | None:
    """The workspace whose subscriptions a request may see and change: its own, when many
    workspaces install the app (OAuth); None (no narrowing) for a single workspace."""
    if not services.settings.oauth:
        return None
    return ctx.team_id or "-"  # no team in the request: a workspace that matches nothing


async def is_admin(services: Services, ctx: CommandContext) -> bool:
    """`ADMIN_USER_IDS` names the admins: `U123` (any workspace it belongs to) or
    `T123:U123` (one workspace). With OAuth, whoever installed the app in a workspace is an
    admin of that workspace."""
    user, admins = ctx.user_id, services.settings.admin_user_ids
    if user is None:
        return False
    if services.settings.oauth:
        if ctx.team_id is None:
            return False
        if f"{ctx.team_id}:{user}" in admins or user in admins:
            return True
        return await services.store.installer(ctx.team_id) == user
    return user in admins or (ctx.team_id is not None and f"{ctx.team_id}:{user}" in admins)


async def may_manage(services: Services, ctx: CommandContext) -> bool:
    """Whether the caller may change this channel's subscriptions."""
    if services.settings.subscription_managers == "members":
        return True
    return await is_admin(services, ctx)


def first_digest_at(sub: Subscription, now: datetime) -> datetime:
    """When a subscription changed at `now` fires first: today if its time is still ahead."""
    today = local_today(sub.zone, now)
    at = scheduled_instant(sub.at, sub.zone, today)
    return at if at >= now else scheduled_instant(sub.at, sub.zone, today + timedelta(days=1))


async def subscribe(
    services: Services, request: SubscribeRequest, ctx: CommandContext
) -> Reply:
    assert ctx.channel_id is not None
    settings = services.settings
    try:
        result = await services.store.subscribe(
            channel_id=ctx.channel_id,
            topic_words=request.topic.words,
            label=request.topic.label,
            at=request.at or settings.digest_time,
            zone=request.zone or settings.digest_timezone,
            team_id=ctx.team_id,
            created_by=ctx.user_id,
            skip_when_empty=request.quiet,
        )
    except ForeignChannelError:
        return Reply(refusal_message())
    sub = result.subscription
    message = subscribed_message(
        sub,
        created=result.created,
        resumed=result.resumed,
        user_id=ctx.user_id,
        first=first_digest_at(sub, services.clock()),
    )
    return Reply(message, public=True)


async def handle_request(
    services: Services,
    request: SubscribeRequest | UnsubscribeRequest | ListSubscriptionsRequest,
    ctx: CommandContext,
) -> Reply:
    """Subscribe, unsubscribe or list this channel's digests; answer the caller."""
    if ctx.channel_id is None:
        return Reply(not_in_channel_message())
    if isinstance(request, ListSubscriptionsRequest):
        subs = await services.store.list_subscriptions(
            ctx.channel_id, team_id=team_scope(services, ctx)
        )
        return Reply(subscriptions_message(subs))
    if not await may_manage(services, ctx):
        return Reply(refusal_message())
    if isinstance(request, SubscribeRequest):
        return await subscribe(services, request, ctx)
    removed = await services.store.unsubscribe(
        ctx.channel_id, request.topic.words, team_id=team_scope(services, ctx)
    )
    message = unsubscribed_message(request.topic.label, removed=removed, user_id=ctx.user_id)
    return Reply(message, public=removed)
