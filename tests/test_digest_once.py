"""A digest whose process stopped between Slack's answer and the store's record is not posted
again: the next claim finds it in the channel's history (message metadata with its key).

Real HTTP on loopback against the fake Slack, whose message ts follow the bot's controlled
clock, and a real store (SQLite, then PostgreSQL).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.digest import send_due_digests
from bot.digest_history import EVENT_TYPE, digest_key
from bot.schedule import CLAIM_LEASE
from bot.services import Services
from tests.conftest import BOT_TOKEN
from tests.fakes.slack import FakeSlack
from tests.test_digest import (
    DUE,
    Clock,
    Waits,
    add_subscriptions,
    digest_services,
    poster_for,
    posts,
)

HISTORY = "conversations.history"


@pytest.fixture
def db(store_url: str) -> str:
    return store_url


@pytest.fixture
def clock() -> Clock:
    return Clock(DUE)


@pytest.fixture
async def fake(clock: Clock) -> AsyncIterator[FakeSlack]:
    """The fake Slack, stamping messages with the bot's wall clock."""
    async with FakeSlack(bot_token=BOT_TOKEN, clock=lambda: clock.now.timestamp()) as slack:
        yield slack


class StoppedProcess:
    """Wraps the digest client: the process stops at one post, after Slack took it
    (`after_accept`) or before the request left; nothing runs after that."""

    def __init__(self, inner: Any, *, after_accept: bool) -> None:
        self.inner = inner
        self.after_accept = after_accept
        self.stopped = asyncio.Event()

    async def chat_postMessage(self, **kw: Any) -> Any:
        if self.after_accept:
            await self.inner.chat_postMessage(**kw)
        self.stopped.set()
        await asyncio.Event().wait()  # never returns: the process is gone

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def stop_while_posting(
    services: Services, *, after_accept: bool
) -> None:
    """One run whose process stops at the post; the log row stays `posting`."""
    poster = poster_for(services, Waits())
    stopping = StoppedProcess(poster.client, after_accept=after_accept)
    poster.client = stopping  # type: ignore[assignment]
    run = asyncio.create_task(send_due_digests(services, poster=poster))
    await asyncio.wait_for(stopping.stopped.wait(), 10)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run


async def crash_then_recover(
    db: str, clock: Clock, fake: FakeSlack, *, after_accept: bool, waits: Waits | None = None
) -> tuple[int, Any, str | None, str | None]:
    """Subscribe C1, stop at its post, then run a new process once the lease has expired.
    Returns (subscription id, the second run's report, final status, recorded ts)."""
    async with digest_services(db, clock, fake) as services:
        (sid,) = await add_subscriptions(services, ["C1"])
        await stop_while_posting(services, after_accept=after_accept)
        assert await services.store.digest_status(sid, DUE.date()) == "posting"
    clock.advance(seconds=CLAIM_LEASE.total_seconds() + 60)
    async with digest_services(db, clock, fake) as services:
        report = await send_due_digests(services, poster=poster_for(services, waits or Waits()))
        status = await services.store.digest_status(sid, DUE.date())
        ts = await services.store.digest_message_ts(sid, DUE.date())
        clock.advance(hours=2)
        assert (await send_due_digests(services, poster=poster_for(services, Waits()))).claimed == 0
    return sid, report, status, ts


async def test_first_attempt_reads_no_history_and_carries_its_key(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    async with digest_services(db, clock, fake) as services:
        (sid,) = await add_subscriptions(services, ["C1"])
        report = await send_due_digests(services, poster=poster_for(services, Waits()))
        install = await services.store.install_id()
    assert report.sent == 1
    assert fake.calls(HISTORY) == [] and fake.calls("auth.test") == []
    (call,) = fake.calls("chat.postMessage")
    assert call.payload["metadata"] == {
        "event_type": EVENT_TYPE, "event_payload": {"digest": f"{install}:{sid}:{DUE.date()}"},
    }
    assert digest_key(install, sid, DUE.date()) == f"{install}:{sid}:{DUE.date().isoformat()}"


async def test_stopped_after_slack_took_the_post_is_posted_exactly_once(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    _sid, report, status, ts = await crash_then_recover(db, clock, fake, after_accept=True)
    assert posts(fake) == ["C1"]
    (message,) = fake.messages["C1"]
    assert (status, ts) == ("sent", message["ts"])
    assert (report.claimed, report.sent, report.found_in_history) == (1, 1, 1)
    (read,) = fake.calls(HISTORY)
    assert read.ok and read.payload["channel"] == "C1"
    assert read.payload["include_all_metadata"] in ("1", "true")
    # The search starts at the first attempt (a minute early for clock skew), not at the
    # takeover eleven minutes later.
    assert float(read.payload["oldest"]) <= float(message["ts"])
    assert float(read.payload["oldest"]) >= DUE.timestamp() - 120


async def test_stopped_before_slack_took_the_post_is_posted_once(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    _sid, report, status, ts = await crash_then_recover(db, clock, fake, after_accept=False)
    assert posts(fake) == ["C1"]
    (message,) = fake.messages["C1"]
    assert (status, ts) == ("sent", message["ts"])
    assert (report.sent, report.found_in_history) == (1, 0)
    assert [c.ok for c in fake.calls(HISTORY)] == [True]


async def test_found_among_many_later_messages(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    async with digest_services(db, clock, fake) as services:
        (sid,) = await add_subscriptions(services, ["C1"])
        await stop_while_posting(services, after_accept=True)
        install = await services.store.install_id()
    # A busy channel: 250 messages after the digest, one of them another app's with the
    # same event type for another date, and one carrying our key but posted by a person.
    for i in range(250):
        fake.add_message("C1", f"chatter {i}")
    other = {"event_type": EVENT_TYPE,
             "event_payload": {"digest": f"{install}:{sid}:2025-01-14"}}
    fake.add_message("C1", "yesterday", metadata=other, bot_id="B0OTHER")
    ours = {"event_type": EVENT_TYPE,
            "event_payload": {"digest": f"{install}:{sid}:{DUE.date()}"}}
    fake.add_message("C1", "a person pasting", metadata=ours)
    clock.advance(seconds=CLAIM_LEASE.total_seconds() + 60)
    async with digest_services(db, clock, fake) as services:
        report = await send_due_digests(services, poster=poster_for(services, Waits()))
        ts = await services.store.digest_message_ts(sid, DUE.date())
    assert posts(fake) == ["C1"] and report.found_in_history == 1
    assert ts == fake.messages["C1"][0]["ts"]
    assert len(fake.calls(HISTORY)) == 3  # pages of 100 until the digest


async def test_history_without_its_scope_falls_back_to_posting_with_one_log_line(
    db: str, clock: Clock, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake.without_scopes("channels:history")
    caplog.set_level(logging.INFO, logger="bot.digest")
    _sid, report, status, _ts = await crash_then_recover(db, clock, fake, after_accept=True)
    # At least once: the digest is there twice, which the scope would have prevented.
    assert posts(fake) == ["C1", "C1"] and status == "sent"
    assert (report.history_unreadable, report.found_in_history) == (1, 0)
    (read,) = fake.calls(HISTORY)
    assert read.error == "missing_scope"
    lines = [r for r in caplog.records if "could not read the history" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert "missing_scope channels:history" in lines[0].getMessage()


async def test_history_in_a_channel_the_bot_is_not_in_falls_back_to_posting(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    async with digest_services(db, clock, fake) as services:
        await add_subscriptions(services, ["C1"])
        await stop_while_posting(services, after_accept=True)
    # Posted through chat:write.public without joining: the history is closed to the bot.
    fake.not_member("C1")
    clock.advance(seconds=CLAIM_LEASE.total_seconds() + 60)
    async with digest_services(db, clock, fake) as services:
        report = await send_due_digests(services, poster=poster_for(services, Waits()))
    assert [c.error for c in fake.calls(HISTORY)] == ["not_in_channel"]
    assert report.history_unreadable == 1 and posts(fake) == ["C1", "C1"]


async def test_429_on_history_waits_for_retry_after(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    fake.fail_next(HISTORY, 429, times=1, retry_after=7)
    waits = Waits()
    _sid, report, status, _ts = await crash_then_recover(
        db, clock, fake, after_accept=True, waits=waits
    )
    assert posts(fake) == ["C1"] and status == "sent"
    assert [c.status for c in fake.calls(HISTORY)] == [429, 200]
    assert any(abs(s - 7) < 1e-6 for s in waits.slept)  # waited exactly Retry-After
    assert (report.found_in_history, report.rate_limited) == (1, 1)


async def test_history_rate_limited_past_the_longest_wait_falls_back_to_posting(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    fake.fail_next(HISTORY, 429, times=1, retry_after=600)
    waits = Waits()
    _sid, report, _status, _ts = await crash_then_recover(
        db, clock, fake, after_accept=True, waits=waits
    )
    assert posts(fake) == ["C1", "C1"]
    assert report.history_unreadable == 1
    assert 600 not in waits.slept  # not waited ten minutes holding the claim


class LostAnswer:
    """Wraps the digest client: Slack takes the first post but its answer never arrives."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0

    async def chat_postMessage(self, **kw: Any) -> Any:
        self.calls += 1
        response = await self.inner.chat_postMessage(**kw)
        if self.calls == 1:
            raise aiohttp.ServerDisconnectedError()
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_post_whose_answer_was_lost_is_found_before_the_retry(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    async with digest_services(db, clock, fake) as services:
        (sid,) = await add_subscriptions(services, ["C1"])
        poster = poster_for(services, Waits())
        poster.client = LostAnswer(poster.client)  # type: ignore[assignment]
        report = await send_due_digests(services, poster=poster)
        ts = await services.store.digest_message_ts(sid, DUE.date())
    assert posts(fake) == ["C1"] and report.sent == 1
    assert ts == fake.messages["C1"][0]["ts"]
    assert len(fake.calls(HISTORY)) == 1


async def test_the_store_keeps_the_first_post_attempt_for_later_claims(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    async with digest_services(db, clock, fake) as services:
        store = services.store
        await add_subscriptions(services, ["C1", "C2"])
        first = await store.claim_due_digests(clock(), "first")
        assert [c.posting_since for c in first] == [None, None]
        posting, _never_posted = first
        assert await store.mark_posting(posting)
        attempt = clock()
        clock.advance(seconds=30)
        assert await store.mark_posting(posting)  # a retry: the first attempt stays
        clock.advance(seconds=CLAIM_LEASE.total_seconds() + 60)
        again = {c.subscription.channel_id: c for c in
                 await store.claim_due_digests(clock(), "second")}
    assert again["C1"].posting_since == attempt
    assert again["C2"].posting_since is None  # claimed, never posted: nothing to look for
