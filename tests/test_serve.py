"""The lifespan: start-up checks, background tasks, signals, secrets kept out of logs."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

import bot.serve
import handlers
from bot.respond import Responder
from bot.serve import ServeError, background_tasks, serve
from bot.settings import Settings
from tests.conftest import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET
from tests.fakes.running import wait_healthy
from tests.fakes.slack import FakeSlack


@pytest.mark.parametrize(
    ("overrides", "socket_mode", "named"),
    [
        ({"slack_bot_token": None}, False, "SLACK_BOT_TOKEN"),
        ({"slack_signing_secret": None}, False, "SLACK_SIGNING_SECRET"),
        ({"slack_app_token": None}, True, "SLACK_APP_TOKEN"),
    ],
)
async def test_missing_setting_is_named(
    make_settings: Callable[..., Settings], overrides: dict[str, Any], socket_mode: bool, named: str
) -> None:
    with pytest.raises(ServeError, match=named):
        await serve(make_settings(**overrides), socket_mode=socket_mode, stop=asyncio.Event())


async def test_refused_token_stops_start_up(
    make_settings: Callable[..., Settings], gold_extractor: Any, store_path: str
) -> None:
    async with FakeSlack(bot_token="xoxb-other") as fake:
        settings = make_settings(slack_api_url=fake.base_url)
        with pytest.raises(ServeError, match="invalid_auth"):
            await serve(
                settings,
                socket_mode=False,
                stop=asyncio.Event(),
                extractor=gold_extractor,
                listeners=handlers.register,
            )


async def test_sigterm_stops_cleanly_and_secrets_stay_out_of_logs(
    fake_slack: FakeSlack,
    make_settings: Callable[..., Settings],
    gold_extractor: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings()
    caplog.set_level(logging.DEBUG)
    task = asyncio.create_task(
        serve(
            settings, socket_mode=False, extractor=gold_extractor, listeners=handlers.register
        )
    )
    await wait_healthy(settings, timeout=30)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(task, 10)
    messages = caplog.text
    assert "starting in HTTP mode" in messages
    assert "received SIGTERM" in messages
    assert "stopped" in messages
    for secret in (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN):
        assert secret not in messages
    # the port is free again
    with pytest.raises(aiohttp.ClientError):
        async with aiohttp.ClientSession() as session:
            await session.get(f"http://127.0.0.1:{settings.port}/healthz")


async def test_crashing_job_is_logged_and_restarted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bot.serve, "RESTART_DELAY", 0.001)
    runs = 0
    third_run = asyncio.Event()

    async def flaky(services: Any) -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            raise RuntimeError("feed server down")
        third_run.set()
        await asyncio.Event().wait()  # then runs until cancelled

    with caplog.at_level(logging.ERROR):
        async with background_tasks(None, [("flaky", flaky)]) as tasks:  # type: ignore[arg-type]
            await asyncio.wait_for(third_run.wait(), 5)
            assert not tasks[0].done()
    assert tasks[0].cancelled()
    crashes = [r for r in caplog.records if "flaky crashed" in r.getMessage()]
    assert len(crashes) == 2
    assert all(r.exc_info for r in crashes)


async def test_background_jobs_follow_settings(make_settings: Callable[..., Settings]) -> None:
    names = [name for name, _ in bot.serve.background_jobs(make_settings())]
    assert names == ["digest scheduler", "re-extraction"]
    with_feeds = make_settings(feeds="https://example.org/feed.xml")
    assert [name for name, _ in bot.serve.background_jobs(with_feeds)] == [
        "digest scheduler",
        "re-extraction",
        "feed polling",
    ]


# --- the responder against the fake's response URLs -----------------------------------------


async def test_responder_honours_retry_after_then_succeeds(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("response", 429, times=1, retry_after=0)
    url = fake_slack.new_response_url()
    async with aiohttp.ClientSession() as session:
        delivery = await Responder(session, backoff=0.01).send(url, {"text": "hi"})
    assert (delivery.ok, delivery.attempts) == (True, 2)


async def test_responder_does_not_retry_a_refused_url(fake_slack: FakeSlack) -> None:
    fake_slack.fail_next("response", 404, times=1)
    url = fake_slack.new_response_url()
    async with aiohttp.ClientSession() as session:
        delivery = await Responder(session, backoff=0.01).send(url, {"text": "hi"})
    assert (delivery.ok, delivery.status, delivery.attempts) == (False, 404, 1)


async def test_responder_gives_up_and_logs(
    fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake_slack.fail_next("response", 503, times=10)
    url = fake_slack.new_response_url()
    with caplog.at_level(logging.ERROR):
        async with aiohttp.ClientSession() as session:
            delivery = await Responder(session, attempts=3, backoff=0.01).send(url, {"text": "x"})
    assert (delivery.ok, delivery.attempts) == (False, 3)
    assert len(fake_slack.responses(url, ok_only=False)) == 3
    assert "gave up posting a reply after 3 attempts" in caplog.text


async def test_responder_survives_connection_refused(caplog: pytest.LogCaptureFixture) -> None:
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/response/nobody"
    async with aiohttp.ClientSession() as session:
        delivery = await Responder(session, attempts=2, backoff=0.01).send(url, {"text": "x"})
    assert (delivery.ok, delivery.status, delivery.attempts) == (False, None, 2)


async def test_fake_refuses_oversized_messages(fake_slack: FakeSlack) -> None:
    """The fake answers as Slack does, so the end-to-end tests can trust an accepted post."""
    url = fake_slack.new_response_url()
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}
    too_many = {"text": "t", "blocks": [{"type": "divider"}] * 51}
    too_long = {"text": "t", "blocks": [section] * 5}
    no_text = {"blocks": [section]}
    async with aiohttp.ClientSession() as session:
        for payload in (too_many, too_long, no_text):
            async with session.post(url, json=payload) as response:
                assert response.status == 400
    errors = [c.error for c in fake_slack.responses(url, ok_only=False)]
    assert errors == ["invalid_blocks", "msg_blocks_too_long", "missing_text"]


async def test_shutdown_lets_an_acked_command_get_its_answer(
    fake_slack: FakeSlack,
    make_settings: Callable[..., Settings],
    gold_extractor: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Stop arrives while a card is still being built: the server stops taking requests,
    but the command it already acknowledged is answered before the store closes."""
    import urllib.parse

    import handlers.commands
    from tests.fakes.slack_payloads import sign, slash_command

    started = asyncio.Event()
    real_answer = handlers.commands.answer

    async def slow_answer(*args: Any, **kwargs: Any) -> Any:
        started.set()
        await asyncio.sleep(0.5)
        return await real_answer(*args, **kwargs)

    monkeypatch.setattr(handlers.commands, "answer", slow_answer)
    settings = make_settings()
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve(
            settings,
            socket_mode=False,
            stop=stop,
            extractor=gold_extractor,
            listeners=handlers.register,
        )
    )
    await wait_healthy(settings, timeout=30)
    url = fake_slack.new_response_url()
    body = urllib.parse.urlencode(slash_command("ukraine", response_url=url))
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SIGNING_SECRET, body)}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"http://{settings.host}:{settings.port}/slack/events", data=body, headers=headers
        ) as response,
    ):
        assert response.status == 200
    await asyncio.wait_for(started.wait(), 10)
    stop.set()
    await asyncio.wait_for(task, 30)
    [reply] = fake_slack.responses(url)
    assert reply.payload["response_type"] == "in_channel"
