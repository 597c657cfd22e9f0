"""`/guarantees TEXT` answered: parse, dispatch, render. Shared by Slack and `python -m bot ask`.

A `UserError` (from the parser or a feature) becomes a private answer with the closest known
topics; any other exception propagates so the app's error handler logs it and answers calmly.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.briefing import build_briefing, build_evidence, latest_positions
from bot.cards.briefing import briefing_message
from bot.cards.common import Message
from bot.cards.evidence import evidence_message, evidence_modal
from bot.cards.home import home_tab
from bot.cards.messages import error_message, help_message, ingest_message, notice_message
from bot.models import PositionFilter
from bot.query import (
    MAX_TOPIC_WORDS,
    BriefingRequest,
    HelpRequest,
    IngestRequest,
    ListSubscriptionsRequest,
    Request,
    SubscribeRequest,
    Topic,
    UnsubscribeRequest,
    UserError,
    parse_command,
)
from bot.replies import CommandContext, Reply
from bot.services import Services
from bot.topics import TopicIndex, load_topic_index
from bot.vocabulary import Guarantee

__all__ = ["CommandContext", "Reply", "answer", "evidence_reply", "evidence_view", "home_view"]

log = logging.getLogger(__name__)


async def answer(services: Services, text: str, ctx: CommandContext) -> Reply:
    """The reply to `/guarantees TEXT` from this caller."""
    try:
        request = await parsed(services, text)
        log.info("command %s from %s", type(request).__name__, ctx.user_id or "terminal")
        return await dispatch(services, request, ctx)
    except UserError as error:
        return Reply(error_message(error.message, error.suggestions), public=False)


async def parsed(services: Services, text: str) -> Request:
    """The request a text stands for; the same text is parsed once per store version (words
    resolve against the store's actors, so a write may change the answer)."""

    async def parse() -> Request:
        return parse_command(text, await load_topic_index(services.store))

    return await services.store.memo(("request", " ".join(text.split())), parse)


async def dispatch(services: Services, request: Request, ctx: CommandContext) -> Reply:
    if isinstance(request, HelpRequest):
        return Reply(help_message(), public=False)
    if isinstance(request, BriefingRequest):
        return Reply(await briefing_card(services, request.topic), public=True)
    if isinstance(request, SubscribeRequest | UnsubscribeRequest | ListSubscriptionsRequest):
        if not ctx.in_slack:
            return Reply(
                notice_message(
                    "Digests are managed in Slack: type `/guarantees subscribe ukraine` in the"
                    " channel that should receive them."
                )
            )
        from bot.subscriptions import handle_request

        return await handle_request(services, request, ctx)
    if isinstance(request, IngestRequest):
        return await _ingest(services, request, ctx)
    raise AssertionError(f"unhandled request {request!r}")


async def briefing_card(services: Services, topic: Topic) -> Message:
    """The briefing card of a topic, built once per store change and shared until the next:
    the same card asked for again costs a version check, not a query and a render."""
    store = services.store

    async def build() -> Message:
        return briefing_message(await build_briefing(store, topic)).freeze()

    return await store.memo(("briefing-card", topic.filter, topic.label), build)


async def _ingest(services: Services, request: IngestRequest, ctx: CommandContext) -> Reply:
    if not ctx.in_slack:
        return Reply(notice_message("On the command line use `python -m bot ingest URL ...`."))
    from bot.subscriptions import is_admin

    if not await is_admin(services, ctx):
        return Reply(
            notice_message(
                "Only admins can ingest. An operator can add your Slack user id to"
                " `ADMIN_USER_IDS` (comma-separated) and restart the bot."
            )
        )
    from bot.feeds import ingest_urls

    report = await ingest_urls(services, list(request.urls))
    return Reply(ingest_message(report.summary(), report.problems, report.notes))


async def _resolve(services: Services, topic_words: str, guarantee: str) -> tuple[Topic, Guarantee]:
    index: TopicIndex = await load_topic_index(services.store)
    topic = index.resolve(topic_words.split()[:MAX_TOPIC_WORDS])
    try:
        return topic, Guarantee(guarantee)
    except ValueError:
        raise UserError("That button no longer matches a guarantee I know.") from None


async def evidence_reply(services: Services, topic_words: str, guarantee: str) -> Message:
    """All evidence for one guarantee under a topic, as a message to send privately.

    Raises `UserError` when the words or the guarantee no longer resolve."""
    topic, wanted = await _resolve(services, topic_words, guarantee)
    evidence = await build_evidence(services.store, topic, wanted)
    return evidence_message(evidence)


async def evidence_view(services: Services, topic_words: str, guarantee: str) -> dict[str, Any]:
    """The same evidence as a modal view dict for `views.open` (callback_id `evidence_view`).

    Raises `UserError` when the words or the guarantee no longer resolve."""
    topic, wanted = await _resolve(services, topic_words, guarantee)
    evidence = await build_evidence(services.store, topic, wanted)
    return evidence_modal(evidence)


async def home_view(
    services: Services, user_id: str, team_id: str | None = None
) -> dict[str, Any]:
    """The App Home tab: this workspace's digests and the latest positions."""
    from bot.subscriptions import team_scope

    store = services.store
    ctx = CommandContext(user_id=user_id, team_id=team_id)
    subscriptions = await store.list_subscriptions(team_id=team_scope(services, ctx))
    latest = await latest_positions(store)
    stats = await store.stats(PositionFilter())
    return home_tab(subscriptions, latest, stats.positions, stats.sources, stats.latest_published)
