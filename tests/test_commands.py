"""`answer`: parse, dispatch and render, against a real store; Slack-only features faked."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.cards.common import Message
from bot.cards.messages import notice_message
from bot.commands import answer, evidence_reply, evidence_view, home_view
from bot.ingest import IngestProblem
from bot.pipeline import IngestReport
from bot.query import SubscribeRequest, UserError
from bot.replies import CommandContext, Reply
from bot.services import Services
from bot.settings import Settings
from bot.store import open_store
from tests.briefing_fixtures import fill

SLACK = CommandContext(user_id="U1", channel_id="C1", team_id="T1")
ADMIN = CommandContext(user_id="UADMIN", channel_id="C1", team_id="T1")
TERMINAL = CommandContext.terminal()


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, store_path=str(tmp_path / "s.db"), admin_user_ids="UADMIN"
    )
    async with open_store(settings.store_path) as store:
        await fill(store)
        # Only settings and store are used by these paths; nothing here reaches the network.
        yield Services(settings, store, None, None, None)  # type: ignore[arg-type]


def body(message: Message) -> str:
    return json.dumps(message.to_dict(), ensure_ascii=False)


async def test_briefing_is_public(services: Services) -> None:
    reply = await answer(services, "ukraine", SLACK)
    assert reply.public
    assert reply.message.to_dict()["blocks"][0]["text"]["text"] == "Security guarantees · Ukraine"


async def test_help_and_empty_text_are_private(services: Services) -> None:
    for text in ("", "help", "  HELP  "):
        reply = await answer(services, text, SLACK)
        assert not reply.public and "/guarantees TOPIC" in body(reply.message)


async def test_unknown_topic_is_private_with_suggestions(services: Services) -> None:
    reply = await answer(services, "ukrane", SLACK)
    assert not reply.public
    assert "I don't know the topic “ukrane”" in body(reply.message)
    assert "`ukraine`" in body(reply.message)


async def test_mention_is_refused_and_never_echoed_raw(services: Services) -> None:
    reply = await answer(services, "<!channel>", SLACK)
    assert not reply.public and "<!channel>" not in body(reply.message)


async def test_subscriptions_on_the_terminal_are_refused(services: Services) -> None:
    reply = await answer(services, "subscribe ukraine 08:00", TERMINAL)
    assert not reply.public and "managed in Slack" in body(reply.message)


async def test_subscriptions_in_slack_go_to_the_feature(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    async def handle_request(services: Services, request: Any, ctx: CommandContext) -> Reply:
        seen.append(request)
        if request.topic.label == "Russia":
            raise UserError("Already subscribed.")
        return Reply(notice_message(f"Subscribed to {request.topic.label}."))

    monkeypatch.setattr("bot.subscriptions.handle_request", handle_request)
    reply = await answer(services, "subscribe ukraine 07:15 Europe/Kyiv", SLACK)
    assert "Subscribed to Ukraine." in body(reply.message)
    assert isinstance(seen[0], SubscribeRequest) and seen[0].zone == "Europe/Kyiv"
    refused = await answer(services, "subscribe russia", SLACK)
    assert not refused.public and "Already subscribed." in body(refused.message)


async def test_ingest_needs_an_admin(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    reply = await answer(services, "ingest https://example.com/a", SLACK)
    assert not reply.public and "ADMIN_USER_IDS" in body(reply.message)

    async def ingest_urls(services: Services, urls: list[str]) -> IngestReport:
        return IngestReport(
            added=["x"], positions=3, problems=[IngestProblem(urls[1], "<!channel> refused")]
        )

    monkeypatch.setattr("bot.feeds.ingest_urls", ingest_urls)
    reply = await answer(
        services, "ingest <https://example.com/a> <https://example.com/b|b>", ADMIN
    )
    text = body(reply.message)
    assert "1 article added, 3 positions found, 1 skipped" in text
    assert "https://example.com/b: &lt;!channel&gt; refused" in text


async def test_other_errors_propagate(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any) -> None:
        raise RuntimeError("store fell over")

    monkeypatch.setattr(services.store, "summary", broken)
    with pytest.raises(RuntimeError):
        await answer(services, "ukraine", SLACK)


async def test_evidence_reply_and_view(services: Services) -> None:
    message = await evidence_reply(services, "ukraine", "peacekeeping_force")
    assert "3 of 3, freshest first" in body(message)
    view = await evidence_view(services, "ukraine", "peacekeeping_force")
    assert view["type"] == "modal" and "Peacekeeping force · Ukraine" in json.dumps(
        view, ensure_ascii=False
    )
    with pytest.raises(UserError):
        await evidence_view(services, "ukraine", "not_a_guarantee")
    with pytest.raises(UserError):
        await evidence_view(services, "zzzz", "peacekeeping_force")


async def test_home_view(services: Services) -> None:
    view = await home_view(services, "U1")
    assert view["type"] == "home"
    assert "*Latest positions*" in json.dumps(view)
