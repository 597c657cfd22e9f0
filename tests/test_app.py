"""The bolt app in-process: bolt's real dispatch, listeners, error tier, OAuth guard, escaping.

Requests go through `AsyncApp.async_dispatch` without signatures (no signing secret, so bolt's
verification is off) and replies are captured by a recording `Responder`; only `auth.test`
goes to the fake Slack.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import urllib.parse
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import date
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

import handlers.commands
from bot.app import CALM_ERROR, build_app
from bot.models import Article, Position
from bot.respond import Delivery, Responder
from bot.services import Services, open_services
from bot.settings import Settings
from bot.slack_requests import SslCheck, read_slack_request
from bot.vocabulary import Guarantee, Stance
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_limits import check_message
from tests.fakes.slack_payloads import slash_command


class RecordingResponder(Responder):
    """Keeps every payload instead of posting it; `arrived` is set on each one."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        super().__init__(session)
        self.sent: dict[str, list[dict[str, Any]]] = {}
        self.arrived = asyncio.Event()

    async def send(self, response_url: str, payload: dict[str, Any] | bytes) -> Delivery:
        if isinstance(payload, bytes):
            payload = json.loads(payload)
        self.sent.setdefault(response_url, []).append(payload)
        self.arrived.set()
        return Delivery(True, 200, 1)

    async def wait_for(self, count: int, timeout: float = 30.0) -> None:
        async def until() -> None:
            while sum(len(v) for v in self.sent.values()) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(until(), timeout)


def command_request(
    text: str, response_url: str, trigger_id: str | None = None
) -> AsyncBoltRequest:
    body = urllib.parse.urlencode(
        slash_command(text, response_url=response_url, trigger_id=trigger_id)
    )
    # parsed as `serve` parses it (bolt's own parser drops any body holding "payload")
    parsed = read_slack_request(
        body.encode(), headers={"Content-Type": "application/x-www-form-urlencoded"},
        query="", verifier=None,
    )
    assert not isinstance(parsed, SslCheck)
    return parsed


async def open_app(
    stack: AsyncExitStack, settings: Settings, extractor: Any
) -> tuple[AsyncApp, Services, RecordingResponder]:
    services = await stack.enter_async_context(open_services(settings, extractor=extractor))
    responder = RecordingResponder(services.http)
    app = build_app(settings, services, listeners=handlers.register, responder=responder)
    return app, services, responder


@pytest.fixture
async def wired(
    fake_slack: FakeSlack, make_settings: Callable[..., Settings], gold_extractor: Any
) -> AsyncIterator[tuple[AsyncApp, Services, RecordingResponder]]:
    async with AsyncExitStack() as stack:
        yield await open_app(stack, make_settings(slack_signing_secret=None), gold_extractor)


def all_text(payload: Any) -> str:
    if isinstance(payload, dict):
        return "\n".join(all_text(v) for v in payload.values())
    if isinstance(payload, list):
        return "\n".join(all_text(v) for v in payload)
    return payload if isinstance(payload, str) else ""


# --- generated commands through bolt's dispatch -----------------------------------------

WORDS = [
    "ukraine",
    "nato",
    "usa",
    "trump",
    "peacekeepers",
    "zelensky",
    "europe",
    "russia",
    "security",
    "membership",
    "minerals",
    "dmz",
    "air",
    "help",
    "subscribe",
    "unsubscribe",
    "subscriptions",
    "ingest",
    "08:00",
    "25:99",
    "Europe/Kyiv",
    "<!channel>",
    "<@U123>",
    "<http://x|y>",
    "&amp;",
    "https://example.org/a",
    "`",
    "*",
    "_",
    "~",
    "\u202e",
    "é",
]
command_texts = st.one_of(
    st.lists(st.sampled_from(WORDS), max_size=6).map(" ".join),
    st.text(max_size=80),
    st.text(alphabet="<>&|@!#`*_~ abcUKRnato:/.", max_size=300),
)


def test_generated_commands_are_all_answered(
    make_settings: Callable[..., Settings], gold_extractor: Any, store_path: str
) -> None:
    """2,000 generated texts through bolt's dispatch: each acked at once, each answered
    exactly once, within Slack's limits, and never by the error handler."""
    runner = asyncio.Runner()
    stack = AsyncExitStack()
    counter = iter(range(10**9))

    async def setup() -> tuple[AsyncApp, RecordingResponder]:
        fake = await stack.enter_async_context(FakeSlack())
        settings = make_settings(slack_signing_secret=None, slack_api_url=fake.base_url)
        app, _, responder = await open_app(stack, settings, gold_extractor)
        return app, responder

    async def batch(texts: list[str]) -> None:
        before = sum(len(v) for v in responder.sent.values())
        urls = []
        for text in texts:
            url = f"http://response.invalid/{next(counter)}"
            urls.append(url)
            response = await app.async_dispatch(command_request(text, url))
            assert response.status == 200, (text, response.status, response.body)
        await responder.wait_for(before + len(texts))
        for text, url in zip(texts, urls, strict=True):
            answers = responder.sent[url]
            assert len(answers) == 1, text
            assert answers[0]["text"] != CALM_ERROR, text
            assert check_message(answers[0]) is None, (text, check_message(answers[0]))

    try:
        app, responder = runner.run(setup())

        @hypothesis_settings(
            max_examples=20, deadline=None, suppress_health_check=list(HealthCheck)
        )
        @given(st.lists(command_texts, min_size=100, max_size=100))
        def check(texts: list[str]) -> None:
            runner.run(batch(texts))

        check()
        assert sum(len(v) for v in responder.sent.values()) >= 2000
    finally:
        runner.run(stack.aclose())
        runner.close()


# --- the error tier -----------------------------------------------------------------------


async def test_unexpected_error_is_logged_and_answered_calmly(
    wired: tuple[AsyncApp, Services, RecordingResponder],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, _, responder = wired

    async def broken(*args: Any) -> Any:
        raise RuntimeError("the store fell over")

    monkeypatch.setattr(handlers.commands, "answer", broken)
    with caplog.at_level(logging.ERROR):
        response = await app.async_dispatch(command_request("ukraine", "http://r.invalid/1"))
        assert response.status == 200
        await responder.wait_for(1)
    (payload,) = responder.sent["http://r.invalid/1"]
    assert payload == {
        "text": CALM_ERROR,
        "response_type": "ephemeral",
        "replace_original": False,
    }
    assert any(
        record.exc_info and "the store fell over" in str(record.exc_info[1])
        for record in caplog.records
    )


async def test_user_error_is_private(wired: tuple[AsyncApp, Services, RecordingResponder]) -> None:
    app, _, responder = wired
    await app.async_dispatch(command_request("subscribe", "http://r.invalid/2"))
    await responder.wait_for(1)
    (payload,) = responder.sent["http://r.invalid/2"]
    assert payload["response_type"] == "ephemeral"
    assert payload["text"] != CALM_ERROR


# --- wiring ---------------------------------------------------------------------------------


async def test_oauth_variables_do_not_switch_bolt_to_oauth(
    fake_slack: FakeSlack,
    make_settings: Callable[..., Settings],
    gold_extractor: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_CLIENT_ID", "111.222")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "oauth-secret")
    async with AsyncExitStack() as stack:
        app, _, responder = await open_app(
            stack, make_settings(slack_signing_secret=None), gold_extractor
        )
        assert app.oauth_flow is None
        assert app.installation_store is None
        assert os.environ["SLACK_CLIENT_ID"] == "111.222"  # put back after building
        await app.async_dispatch(command_request("help", "http://r.invalid/3"))
        await responder.wait_for(1)
    # bolt's own token check went through our client, to SLACK_API_URL
    assert [c.ok for c in fake_slack.calls("auth.test")] == [True]


async def test_app_uses_our_client(
    wired: tuple[AsyncApp, Services, RecordingResponder], fake_slack: FakeSlack
) -> None:
    app, services, _ = wired
    assert app.client is services.slack
    assert app.client.base_url == fake_slack.base_url
    kinds = {type(handler).__name__ for handler in app.client.retry_handlers}
    assert {
        "AsyncRateLimitErrorRetryHandler",
        "AsyncServerErrorRetryHandler",
        "AsyncConnectionErrorRetryHandler",
    } <= kinds


async def test_article_markup_is_escaped_on_the_card(
    wired: tuple[AsyncApp, Services, RecordingResponder],
) -> None:
    app, services, responder = wired
    hostile = "Kyiv <!channel> wants guarantees from <@U123>, see <http://x|y> & more."
    article = Article(
        id="hostile-1",
        title="Ping <!channel> <@U123>",
        text=f"Headline.\n{hostile}\n",
        url="https://example.org/hostile",
        outlet="<http://x|y> Daily",
        published=date(2031, 1, 1),
    )
    assert (await services.store.add_article(article)).added
    position = Position(
        actor="ukrainian-officials",
        party="ukr",
        stance=Stance.SEEKS,
        guarantee=Guarantee.SECURITY_GUARANTEE,
        guarantor="usa",
        beneficiary="ukr",
        evidence=hostile,
    )
    await services.store.save_positions(article.id, [position], "test", "1")
    await app.async_dispatch(command_request("ukraine", "http://r.invalid/4"))
    await responder.wait_for(1)
    (payload,) = responder.sent["http://r.invalid/4"]
    text = all_text(payload)
    assert "&lt;!channel&gt;" in text, "the hostile quote is not on the card"
    for raw in ("<!channel>", "<@U123>", "<http://x|y>"):
        assert raw not in text
    assert check_message(payload) is None
