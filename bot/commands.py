"""`/guarantees TEXT` answered: parse, dispatch, render. Shared by Slack and `python -m bot ask`.

A `UserError` (from the parser or a feature) becomes a private answer with the closest known
topics; any other exception propagates so the app's error handler logs it and answers calmly.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from bot.briefing import Briefing, build_briefing, build_evidence, latest_positions
from bot.cards.briefing import briefing_message
from bot.cards.common import Message
from bot.cards.compare import comparison_message
from bot.cards.digest import render_changes
from bot.cards.evidence import evidence_message, evidence_modal
from bot.cards.home import home_tab
from bot.cards.messages import error_message, help_message, ingest_message, notice_message
from bot.compare import build_comparison
from bot.corrections import reading_team
from bot.digest import find_changes
from bot.models import DateWindow, PositionFilter
from bot.query import (
    MAX_TOPIC_WORDS,
    BriefingRequest,
    ChangesRequest,
    CompareRequest,
    ExportRequest,
    HelpRequest,
    HistoryRequest,
    IngestRequest,
    ListSubscriptionsRequest,
    MatrixRequest,
    Request,
    SubscribeRequest,
    Topic,
    UnsubscribeRequest,
    UserError,
    for_team,
    local_today,
    parse_command,
)
from bot.questions import describe, question_text
from bot.replies import CommandContext, Reply
from bot.services import Services
from bot.topics import TopicIndex, load_topic_index
from bot.vocabulary import Guarantee

__all__ = ["CommandContext", "Reply", "answer", "evidence_reply", "evidence_view", "home_view"]

log = logging.getLogger(__name__)

# Nearby questions tried (each a cached briefing) before a card says "nothing known".
MAX_NEAREST_TRIED = 8


async def answer(services: Services, text: str, ctx: CommandContext) -> Reply:
    """The reply to `/guarantees TEXT` from this caller, with its workspace's corrections."""
    try:
        request = for_team(await parsed(services, text), await reading_team(services, ctx.team_id))
        log.info("command %s from %s", type(request).__name__, ctx.user_id or "terminal")
        return await dispatch(services, request, ctx)
    except UserError as error:
        return Reply(error_message(error.message, error.suggestions), public=False)


async def parsed(services: Services, text: str) -> Request:
    """The request a text stands for; the same text is parsed once per store version and
    local day (words resolve against the store's actors, so a write may change the answer;
    time words count from today in DIGEST_TIMEZONE)."""
    zone = services.settings.digest_timezone
    now = services.clock()
    today = local_today(now, zone)

    async def parse() -> Request:
        index = await load_topic_index(services.store)
        return parse_command(text, index, now=now, zone=zone)

    return await services.store.memo(("request", " ".join(text.split()), today), parse)


async def dispatch(services: Services, request: Request, ctx: CommandContext) -> Reply:
    if isinstance(request, HelpRequest):
        return Reply(help_message(), public=False)
    if isinstance(request, BriefingRequest):
        return Reply(await question_card(services, request), public=True)
    if isinstance(request, CompareRequest):
        comparison = await build_comparison(services.store, request)
        return Reply(comparison_message(comparison), public=True)
    if isinstance(request, ChangesRequest):
        changes = await find_changes(services.store, request.topic.filter, window=request.window)
        return Reply(render_changes(changes, request.topic, request.window), public=True)
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
    if isinstance(request, HistoryRequest | MatrixRequest | ExportRequest):
        from bot.analysts import answer_analyst

        return await answer_analyst(services, request, ctx)
    raise AssertionError(f"unhandled request {request!r}")


async def briefing_card(
    services: Services, topic: Topic, window: DateWindow | None = None
) -> Message:
    """The briefing card of a topic, built once per store change and shared until the next:
    the same card asked for again costs a version check, not a query and a render."""
    return await question_card(services, BriefingRequest(topic, window))


async def _briefing(services: Services, topic: Topic, window: DateWindow | None) -> Briefing:
    store = services.store

    async def build() -> Briefing:
        return await build_briefing(store, topic, window)

    return await store.memo(("briefing", topic.filter, topic.label, window), build)


async def question_card(services: Services, request: BriefingRequest) -> Message:
    """The card for a question. Of the readings of ambiguous words (`hungary eu`) the first
    with positions is shown, saying how it was read when that is not the usual one; when none
    has any, the card says what was understood and offers the nearest question that has."""

    async def build() -> Message:
        readings = (request.topic, *request.alternatives)
        for i, topic in enumerate(readings):
            briefing = await _briefing(services, topic, request.window)
            if not briefing.is_empty:
                return briefing_message(
                    replace(
                        briefing,
                        read_as=describe(topic) if i else None,
                        question=question_text(topic, request.window),
                    )
                ).freeze()
        first = await _briefing(services, request.topic, request.window)
        suggestion = await _nearest(services, request)
        read_as = describe(request.topic, request.window) if (
            suggestion or request.alternatives
        ) else None
        return briefing_message(
            replace(first, read_as=read_as, suggestion=suggestion)
        ).freeze()

    key = ("question-card", request.topic, request.window, request.alternatives, request.nearby)
    return await services.store.memo(key, build)


async def _nearest(services: Services, request: BriefingRequest) -> str | None:
    """The nearest question with positions: the same without its window, without its stance
    words, then with one word left out (each with and without the window)."""
    topic, window = request.topic, request.window
    candidates: list[tuple[Topic, DateWindow | None]] = []
    if window is not None:
        candidates += [(t, None) for t in (topic, *request.alternatives)]
    if topic.filter.stances:
        candidates.append((_without_stances(topic), window))
    for near in request.nearby:
        candidates.append((near, window))
        if window is not None:
            candidates.append((near, None))
    for near, near_window in candidates[:MAX_NEAREST_TRIED]:
        if near.filter.is_empty:
            continue
        if not (await _briefing(services, near, near_window)).is_empty:
            return question_text(near, near_window)
    return None


def _without_stances(topic: Topic) -> Topic:
    label = topic.label.rsplit(" · who ", 1)[0]
    return Topic(topic.words, label, replace(topic.filter, stances=frozenset()))


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


async def _resolve(
    services: Services, topic_words: str, guarantee: str
) -> tuple[Topic, Guarantee, DateWindow | None]:
    """A button's words (a topic, or a whole question with stance and window words) and
    guarantee, read again."""
    index: TopicIndex = await load_topic_index(services.store)
    words = topic_words.split()[: MAX_TOPIC_WORDS * 2]
    try:
        wanted = Guarantee(guarantee)
    except ValueError:
        raise UserError("That button no longer matches a guarantee I know.") from None
    try:
        request = parse_command(
            " ".join(words), index, now=services.clock(), zone=services.settings.digest_timezone
        )
    except UserError:
        request = None
    if isinstance(request, BriefingRequest):
        return request.topic, wanted, request.window
    return index.resolve(words[:MAX_TOPIC_WORDS]), wanted, None


async def evidence_reply(
    services: Services, topic_words: str, guarantee: str, team_id: str | None = None
) -> Message:
    """All evidence for one guarantee under a topic, as a message to send privately.

    Raises `UserError` when the words or the guarantee no longer resolve."""
    topic, wanted, window = await _resolve(services, topic_words, guarantee)
    topic = topic.for_team(await reading_team(services, team_id))
    evidence = await build_evidence(services.store, topic, wanted, window=window)
    return evidence_message(evidence)


async def evidence_view(
    services: Services, topic_words: str, guarantee: str, team_id: str | None = None
) -> dict[str, Any]:
    """The same evidence as a modal view dict for `views.open` (callback_id `evidence_view`).

    Raises `UserError` when the words or the guarantee no longer resolve."""
    topic, wanted, window = await _resolve(services, topic_words, guarantee)
    topic = topic.for_team(await reading_team(services, team_id))
    evidence = await build_evidence(services.store, topic, wanted, window=window)
    return evidence_modal(evidence)


async def home_view(
    services: Services, user_id: str, team_id: str | None = None
) -> dict[str, Any]:
    """The App Home tab: this workspace's digests and the latest positions."""
    from bot.subscriptions import team_scope

    store = services.store
    ctx = CommandContext(user_id=user_id, team_id=team_id)
    subscriptions = await store.list_subscriptions(team_id=team_scope(services, ctx))
    team = await reading_team(services, team_id)
    latest = await latest_positions(store, team=team)
    stats = await store.stats(PositionFilter(team=team))
    return home_tab(subscriptions, latest, stats.positions, stats.sources, stats.latest_published)
