"""Recovery of a digest whose earlier attempt may have posted it: what is recorded matches
what is in the channel, only our own bot's posts of this store's digests count, and the
history search keeps its claim alive and stops in time.

Real HTTP on loopback against the fake Slack and a real store (SQLite, then PostgreSQL).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.digest import RunReport, send_due_digests
from bot.digest_history import EVENT_TYPE, SEARCH_LIMIT
from bot.models import Article, Position
from bot.schedule import CLAIM_LEASE
from bot.services import Services
from bot.store import open_store
from bot.vocabulary import Guarantee, Stance
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
from tests.test_digest_once import HISTORY, clock, db, fake, stop_while_posting

__all__ = ["clock", "db", "fake"]  # fixtures shared with test_digest_once

LATE_QUOTE = "Italy said it will provide security guarantees to Ukraine after a ceasefire."


async def add_late_position(services: object, clock: Clock) -> None:
    store = services.store  # type: ignore[attr-defined]
    await store.add_article(Article(
        id="late", title="Late report", text=LATE_QUOTE, url="https://news.example/late",
        outlet="Example News", published=clock().date(),
    ))
    await store.save_positions("late", [Position(
        actor="italy", party="italy", stance=Stance.BACKS,
        guarantee=Guarantee.SECURITY_GUARANTEE, guarantor="italy", beneficiary="ukr",
        evidence=LATE_QUOTE,
    )], "hand", "1")


async def test_positions_added_between_a_crash_and_the_found_post_go_to_the_next_digest(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    async with digest_services(db, clock, fake) as services:
        await add_subscriptions(services, ["C1"])
        await stop_while_posting(services, after_accept=True)  # covers up to DUE
        clock.advance(minutes=5)
        await add_late_position(services, clock)  # after the post Slack took: not in it
    clock.advance(seconds=CLAIM_LEASE.total_seconds() + 60)
    async with digest_services(db, clock, fake) as services:
        report = await send_due_digests(services, poster=poster_for(services, Waits()))
        assert report.found_in_history == 1
        (first,) = fake.messages["C1"]
        assert LATE_QUOTE not in str(first)
        clock.now = DUE + timedelta(days=1)
        report = await send_due_digests(services, poster=poster_for(services, Waits()))
        assert report.sent == 1
    _first, second = fake.messages["C1"]
    assert LATE_QUOTE in str(second)


async def test_a_reclaim_after_a_post_attempt_keeps_the_first_window(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    async with digest_services(db, clock, fake) as services:
        store = services.store
        await add_subscriptions(services, ["C1", "C2"])
        first = {c.subscription.channel_id: c for c in
                 await store.claim_due_digests(clock(), "first")}
        assert await store.mark_posting(first["C1"])  # C2: claimed, never posted
        clock.advance(seconds=CLAIM_LEASE.total_seconds() + 60)
        again = {c.subscription.channel_id: c for c in
                 await store.claim_due_digests(clock(), "second")}
    c1, c2 = first["C1"], first["C2"]
    assert (again["C1"].window_start, again["C1"].window_end) == (c1.window_start, c1.window_end)
    # Nothing of C2 can be in the channel: its digest is built up to the new claim.
    assert again["C2"].window_end == clock() != c2.window_end


async def recover_with(
    db: str, clock: Clock, fake: FakeSlack, digest_of: Callable[[str, int], str], bot_id: str
) -> RunReport:
    """A process stops before its post left; meanwhile a message with metadata `digest_of(
    install id, subscription)` from `bot_id` appears in the channel; a new process recovers."""
    async with digest_services(db, clock, fake) as services:
        (sid,) = await add_subscriptions(services, ["C1"])
        await stop_while_posting(services, after_accept=False)
        install = await services.store.install_id()
    metadata = {"event_type": EVENT_TYPE, "event_payload": {"digest": digest_of(install, sid)}}
    fake.add_message("C1", "a digest", metadata=metadata, bot_id=bot_id)
    clock.advance(seconds=CLAIM_LEASE.total_seconds() + 60)
    async with digest_services(db, clock, fake) as services:
        return await send_due_digests(services, poster=poster_for(services, Waits()))


async def test_another_bots_message_with_our_key_is_not_our_post(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    report = await recover_with(
        db, clock, fake, lambda install, sid: f"{install}:{sid}:{DUE.date()}", "B0STAGING"
    )
    assert (report.sent, report.found_in_history) == (1, 0)
    assert [m.get("bot_id") for m in fake.messages["C1"]] == ["B0STAGING", "B0BOT"]
    (asked,) = fake.calls("auth.test")
    assert asked.ok


async def test_our_bots_message_with_another_stores_key_is_not_our_post(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    # Another deployment's store: the same subscription id and date, another install id.
    report = await recover_with(
        db, clock, fake, lambda install, sid: f"{'0' * 16}:{sid}:{DUE.date()}", "B0BOT"
    )
    assert (report.sent, report.found_in_history) == (1, 0)
    assert len(fake.messages["C1"]) == 2


async def test_our_bots_message_with_our_key_is_found(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    report = await recover_with(
        db, clock, fake, lambda install, sid: f"{install}:{sid}:{DUE.date()}", "B0BOT"
    )
    assert (report.sent, report.found_in_history) == (1, 1)
    assert len(fake.messages["C1"]) == 1


async def test_the_install_id_is_made_once_per_store(tmp_path: Path, db: str) -> None:
    async with open_store(db) as store:
        first = await store.install_id()
    async with open_store(db) as store:
        assert await store.install_id() == first
    async with open_store(str(tmp_path / "other.db")) as other:
        assert await other.install_id() != first
    assert len(first) == 16


async def test_our_bot_id_is_asked_once_per_token(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    async with digest_services(db, clock, fake) as services:
        await add_subscriptions(services, ["C1", "C2"])
        await stop_while_posting(services, after_accept=False)
    clock.advance(seconds=CLAIM_LEASE.total_seconds() + 60)
    async with digest_services(db, clock, fake) as services:
        report = await send_due_digests(services, poster=poster_for(services, Waits()))
    assert report.sent == 2 and len(fake.calls(HISTORY)) >= 1
    assert len(fake.calls("auth.test")) == 1


async def test_the_history_search_refreshes_the_claim_between_pages(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    since = clock()
    for i in range(250):  # three pages of 100, none of them the digest
        fake.add_message("C1", f"chatter {i}")
    beats: list[int] = []

    async def heartbeat() -> bool:
        beats.append(len(fake.calls(HISTORY)))  # how many pages were read by then
        return True

    async with digest_services(db, clock, fake) as services:
        poster = poster_for(services, Waits())
        check = await poster.find_posted("C1", "k:1:2025-01-15", since, heartbeat=heartbeat)
    assert (check.ts, check.error, check.pages) == (None, None, 3)
    assert beats == [1, 2]


class TakenOverAfterFirstPage:
    """Wraps the digest client: after the first history page, another process takes the
    claim over (its token replaces ours in the log)."""

    def __init__(self, inner: Any, services: Services) -> None:
        self.inner = inner
        self.services = services

    async def conversations_history(self, **kw: Any) -> Any:
        response = await self.inner.conversations_history(**kw)
        async with self.services.store.transaction() as db:
            await db.execute("UPDATE digest_log SET claim_token = 'another-process'")
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_a_claim_lost_during_the_history_search_stops_it_without_posting(
    db: str, clock: Clock, fake: FakeSlack
) -> None:
    async with digest_services(db, clock, fake) as services:
        (sid,) = await add_subscriptions(services, ["C1"])
        await stop_while_posting(services, after_accept=False)
    for i in range(250):
        fake.add_message("C1", f"chatter {i}")
    clock.advance(seconds=CLAIM_LEASE.total_seconds() + 60)
    async with digest_services(db, clock, fake) as services:
        poster = poster_for(services, Waits())
        poster.client = TakenOverAfterFirstPage(poster.client, services)  # type: ignore[assignment]
        report = await send_due_digests(services, poster=poster)
        status = await services.store.digest_status(sid, DUE.date())
    assert len(fake.calls(HISTORY)) == 1
    assert fake.calls("chat.postMessage") == []
    assert report.outcomes[(sid, DUE.date())] == "lost" and report.sent == 0
    assert status == "claimed"  # the other process's, left to it


async def test_a_history_search_past_its_cap_falls_back_to_posting_with_one_log_line(
    db: str, clock: Clock, fake: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    # Slack's one request a minute, here 100 s a 429: the third wait would pass the cap.
    fake.fail_next(HISTORY, 429, times=5, retry_after=100)
    caplog.set_level(logging.INFO, logger="bot.digest")
    waits = Waits()
    async with digest_services(db, clock, fake) as services:
        await add_subscriptions(services, ["C1"])
        await stop_while_posting(services, after_accept=True)
    clock.advance(seconds=CLAIM_LEASE.total_seconds() + 60)
    async with digest_services(db, clock, fake) as services:
        report = await send_due_digests(services, poster=poster_for(services, waits))
    assert [c.status for c in fake.calls(HISTORY)] == [429, 429, 429]
    assert [s for s in waits.slept if s == 100] == [100, 100]
    assert 2 * 100 <= SEARCH_LIMIT < 3 * 100
    assert report.history_unreadable == 1 and posts(fake) == ["C1", "C1"]
    lines = [r for r in caplog.records if "could not read the history" in r.getMessage()]
    assert len(lines) == 1 and "the cap" in lines[0].getMessage()
