"""Subscribing a channel: the command, the briefing card's Subscribe button, permissions."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import aiohttp
from slack_bolt.request.async_request import AsyncBoltRequest

import handlers
from bot.app import build_app
from bot.cards.common import ACTION_SUBSCRIBE, button_value
from bot.commands import answer
from bot.replies import CommandContext, Reply
from bot.respond import Delivery, Responder
from bot.services import Services, build_slack_client
from bot.settings import Settings
from bot.store import open_store
from bot.subscriptions import first_digest_at
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_payloads import block_action

NOW = datetime(2025, 1, 15, 9, tzinfo=UTC)  # 11:00 in Kyiv
CTX = CommandContext(user_id="U1", channel_id="C1", team_id="T1")


@asynccontextmanager
async def services_for(tmp_path: Path, **settings: Any) -> AsyncIterator[Services]:
    config = Settings(  # type: ignore[call-arg]
        _env_file=None, slack_bot_token="xoxb-test", store_path=str(tmp_path / "s.db"),
        digest_timezone="Europe/Kyiv", **settings,
    )
    async with open_store(config.store_path, clock=lambda: NOW) as store, \
            aiohttp.ClientSession() as http:
        slack = build_slack_client(config, http)
        yield Services(config, store, None, http, slack, lambda: NOW)  # type: ignore[arg-type]


def text_of(reply: Reply) -> str:
    return json.dumps(reply.message.to_dict())


async def test_subscribe_list_resubscribe_unsubscribe(tmp_path: Path) -> None:
    async with services_for(tmp_path) as services:
        reply = await answer(services, "subscribe ukraine", CTX)
        assert reply.public and "Subscribed" in text_of(reply)
        (sub,) = await services.store.list_subscriptions("C1")
        assert (sub.channel_id, sub.topic_words, sub.at, sub.zone) == (
            "C1", ("ukraine",), time(8), "Europe/Kyiv"
        )
        assert sub.created_by == "U1" and sub.team_id == "T1"
        # Again, with a time and zone: the same subscription, updated.
        reply = await answer(services, "subscribe Ukraine 07:30 America/New_York", CTX)
        assert "Updated" in text_of(reply)
        (updated,) = await services.store.list_subscriptions("C1")
        assert (updated.id, updated.at, updated.zone) == (sub.id, time(7, 30), "America/New_York")
        assert not updated.skip_when_empty
        # `quiet`, anywhere among the words: no message on a day with nothing new.
        await answer(services, "subscribe ukraine quiet 07:30 America/New_York", CTX)
        (quiet,) = await services.store.list_subscriptions("C1")
        assert (quiet.id, quiet.skip_when_empty, quiet.at) == (sub.id, True, time(7, 30))
        listing = await answer(services, "subscriptions", CTX)
        assert not listing.public and "07:30" in text_of(listing)
        assert await services.store.list_subscriptions("C2") == []
        gone = await answer(services, "unsubscribe ukraine", CTX)
        assert "Unsubscribed" in text_of(gone)
        assert await services.store.list_subscriptions() == []
        missing = await answer(services, "unsubscribe ukraine", CTX)
        assert not missing.public and "no digest" in text_of(missing)


async def test_only_admins_may_change_when_so_configured(tmp_path: Path) -> None:
    async with services_for(
        tmp_path, subscription_managers="admins", admin_user_ids="UADMIN"
    ) as services:
        refused = await answer(services, "subscribe ukraine", CTX)
        assert not refused.public and "admins" in text_of(refused)
        assert await services.store.list_subscriptions() == []
        admin = CommandContext(user_id="UADMIN", channel_id="C1")
        assert (await answer(services, "subscribe ukraine", admin)).public
        assert not (await answer(services, "subscriptions", CTX)).public  # listing is open


def test_first_digest_is_today_only_if_its_time_is_still_ahead() -> None:
    from bot.models import Subscription

    sub = Subscription(1, "C1", ("ukraine",), "Ukraine", time(8), "Europe/Kyiv")
    assert first_digest_at(sub, NOW) == datetime(2025, 1, 16, 6, tzinfo=UTC)
    early = datetime(2025, 1, 15, 5, tzinfo=UTC)
    assert first_digest_at(sub, early) == datetime(2025, 1, 15, 6, tzinfo=UTC)


class Recorder(Responder):
    def __init__(self, session: aiohttp.ClientSession) -> None:
        super().__init__(session)
        self.sent: list[tuple[str, Reply]] = []

    async def send_reply(self, response_url: str, reply: Reply) -> Delivery:
        self.sent.append((response_url, reply))
        return Delivery(True, 200, 1)


async def test_subscribe_button_subscribes_the_channel_and_answers_privately(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    async with services_for(tmp_path, slack_api_url=fake_slack.base_url) as services:
        responder = Recorder(services.http)
        app = build_app(
            services.settings, services, listeners=handlers.register, responder=responder
        )
        payload = block_action(
            ACTION_SUBSCRIBE, button_value("ukraine"), response_url="http://r.invalid/1",
            channel_id="C9", user_id="U9",
        )
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        request = AsyncBoltRequest(
            body=body, headers={"content-type": ["application/x-www-form-urlencoded"]}
        )
        response = await app.async_dispatch(request)
        assert response.status == 200
        for _ in range(200):  # the listener runs after the ack
            if responder.sent:
                break
            await asyncio.sleep(0.01)
        (sub,) = await services.store.list_subscriptions("C9")
    assert sub.created_by == "U9" and sub.topic_words == ("ukraine",)
    (url, reply) = responder.sent[0]
    assert url == "http://r.invalid/1" and not reply.public
