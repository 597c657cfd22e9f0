"""Socket Mode end to end: envelopes through the fake's websocket, acks and answers recorded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import APP_TOKEN
from tests.fakes.running import serving
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_payloads import event_callback, slash_command

# Short, so reconnection after a lost network is noticed within a second or two.
PING_INTERVAL = 0.2


@pytest.fixture
async def fake(
    fake_slack: FakeSlack, make_settings: Any, gold_extractor: Any
) -> AsyncIterator[FakeSlack]:
    settings = make_settings(slack_app_token=APP_TOKEN, slack_signing_secret=None)
    async with serving(
        settings,
        socket_mode=True,
        extractor=gold_extractor,
        fake=fake_slack,
        ping_interval=PING_INTERVAL,
    ):
        yield fake_slack


async def command(fake: FakeSlack, text: str, **kwargs: Any) -> tuple[str, str]:
    url = fake.new_response_url()
    envelope = await fake.push("slash_commands", slash_command(text, response_url=url, **kwargs))
    return envelope, url


async def test_command_is_acked_and_card_posted(fake: FakeSlack) -> None:
    assert fake.calls("apps.connections.open"), "the websocket URL came through SLACK_API_URL"
    envelope, url = await command(fake, "ukraine")
    acks = await fake.wait_for(lambda: fake.acks.get(envelope))
    assert acks[0]["envelope_id"] == envelope
    reply = (await fake.wait_for(lambda: fake.responses(url)))[0].payload
    assert reply["response_type"] == "in_channel"
    assert "Ukraine" in reply["text"] or "Ukraine" in str(reply["blocks"])


@pytest.mark.parametrize("text", ["help", "ukraine nato", "trump peacekeepers", "zzzz"])
async def test_other_commands_are_answered(fake: FakeSlack, text: str) -> None:
    envelope, url = await command(fake, text)
    await fake.wait_for(lambda: fake.acks.get(envelope))
    reply = (await fake.wait_for(lambda: fake.responses(url)))[0].payload
    expected = "in_channel" if text in {"ukraine nato", "trump peacekeepers"} else "ephemeral"
    assert reply["response_type"] == expected


async def test_resent_envelope_is_acked_but_not_posted_twice(fake: FakeSlack) -> None:
    url = fake.new_response_url()
    payload = slash_command("ukraine", response_url=url)
    envelope = await fake.push("slash_commands", payload)
    await fake.push("slash_commands", payload, envelope_id=envelope)
    # An events_api retry carries a new envelope but the same event_id.
    event = event_callback({"type": "app_home_opened", "user": "U0USER", "tab": "home"})
    first = await fake.push("events_api", event)
    retry = await fake.push("events_api", event, retry_attempt=1)
    await fake.wait_for(lambda: len(fake.acks.get(envelope, [])) == 2)
    await fake.wait_for(lambda: fake.acks.get(first) and fake.acks.get(retry))
    await fake.wait_for(lambda: fake.responses(url) and fake.calls("views.publish"))
    # Something later is answered, so a duplicate would have arrived by now.
    _, later = await command(fake, "help")
    await fake.wait_for(lambda: fake.responses(later))
    assert len(fake.responses(url)) == 1
    assert len(fake.calls("views.publish")) == 1


async def test_reconnects_after_disconnect_message(fake: FakeSlack) -> None:
    await fake.send_disconnect()
    await fake.wait_connected(hellos=2)
    assert len(fake.calls("apps.connections.open")) >= 2
    envelope, url = await command(fake, "help")
    await fake.wait_for(lambda: fake.acks.get(envelope))
    await fake.wait_for(lambda: fake.responses(url))


async def test_reconnects_after_network_loss(fake: FakeSlack) -> None:
    await fake.drop_connections()
    await fake.wait_connected(hellos=2, timeout=20)
    envelope, url = await command(fake, "ukraine")
    await fake.wait_for(lambda: fake.acks.get(envelope))
    await fake.wait_for(lambda: fake.responses(url))


async def test_connections_open_is_retried_after_rate_limit(
    fake_slack: FakeSlack, make_settings: Any, gold_extractor: Any
) -> None:
    fake_slack.fail_next("apps.connections.open", 429, times=1, retry_after=0)
    settings = make_settings(slack_app_token=APP_TOKEN, slack_signing_secret=None)
    async with serving(
        settings,
        socket_mode=True,
        extractor=gold_extractor,
        fake=fake_slack,
        ping_interval=PING_INTERVAL,
    ):
        statuses = [c.status for c in fake_slack.calls("apps.connections.open")]
        assert statuses[:2] == [429, 200]
