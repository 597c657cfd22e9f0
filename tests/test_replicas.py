"""Several replicas on one store: the shared duplicate filter, leases, digest claims.

Each replica is its own `Store` on the same location, as each `serve` process would open it.
Tests taking `store_url` run on SQLite and on PostgreSQL; `postgres_url` ones on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any

import aiohttp
import pytest

from bot.store import open_store
from tests.conftest import SIGNING_SECRET
from tests.fakes.running import serving
from tests.fakes.slack_payloads import sign, slash_command

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


async def test_a_delivery_is_handled_by_one_replica_within_its_window(store_url: str) -> None:
    clock = Clock(NOW)
    async with open_store(store_url, clock) as first, open_store(store_url, clock) as second:
        window = timedelta(minutes=30)
        assert await first.first_delivery("command:T1", window)
        assert not await second.first_delivery("command:T1", window)  # the retry, elsewhere
        assert not await first.first_delivery("command:T1", window)
        assert await second.first_delivery("command:T2", window)
        clock.moment += window
        assert await second.first_delivery("command:T1", window)  # expired: a new delivery


async def test_many_replicas_racing_on_one_key_let_exactly_one_through(
    postgres_url: str,
) -> None:
    clock = Clock(NOW)
    async with open_store(postgres_url, clock) as a, open_store(postgres_url, clock) as b:
        results = await asyncio.gather(
            *(s.first_delivery(f"event:E{n % 10}", timedelta(minutes=5))
              for n in range(60) for s in (a, b))
        )
    assert sum(results) == 10


async def test_a_lease_is_held_by_one_replica_until_it_runs_out(store_url: str) -> None:
    clock = Clock(NOW)
    ttl = timedelta(seconds=90)
    async with open_store(store_url, clock) as first, open_store(store_url, clock) as second:
        assert await first.acquire_lease("feed-polling", "a", ttl)
        assert not await second.acquire_lease("feed-polling", "b", ttl)
        clock.moment += timedelta(seconds=60)
        assert await first.acquire_lease("feed-polling", "a", ttl)  # renewed
        clock.moment += timedelta(seconds=60)
        assert not await second.acquire_lease("feed-polling", "b", ttl)  # still a's
        clock.moment += timedelta(seconds=31)  # a died 91 s ago
        assert await second.acquire_lease("feed-polling", "b", ttl)
        assert not await first.acquire_lease("feed-polling", "a", ttl)
        assert await first.lease_holder("feed-polling") == ("b", clock.moment + ttl)
        await second.release_lease("feed-polling", "b")
        assert await first.acquire_lease("feed-polling", "a", ttl)


async def test_three_replicas_claim_every_due_digest_exactly_once(postgres_url: str) -> None:
    due = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # 08:00 in Kyiv
    clock = Clock(due - timedelta(days=1))
    async with open_store(postgres_url, clock) as setup:
        for n in range(150):
            await setup.subscribe(
                channel_id=f"C{n:04d}", topic_words=("ukraine",), label="Ukraine",
                at=time(8, 0), zone="Europe/Kyiv", team_id="T1",
            )
    clock.moment = due
    async with (
        open_store(postgres_url, clock) as a,
        open_store(postgres_url, clock) as b,
        open_store(postgres_url, clock) as c,
    ):
        claims = await asyncio.gather(
            *(s.claim_due_digests(due, token) for s, token in ((a, "a"), (b, "b"), (c, "c")))
        )
        again = await a.claim_due_digests(due + timedelta(minutes=1), "late")
    claimed = Counter(claim.subscription.channel_id for batch in claims for claim in batch)
    assert len(claimed) == 150 and set(claimed.values()) == {1}
    assert again == []


async def test_a_retry_landing_on_another_replica_is_answered_once(
    postgres_url: str, fake_slack: Any, make_settings: Any, gold_extractor: Any
) -> None:
    """Two `serve` processes on one PostgreSQL store, over real HTTP: Slack's retry of a
    command reaches the other replica, which acknowledges it and answers nothing."""
    first = make_settings(store_url=postgres_url)
    second = make_settings(store_url=postgres_url)
    async with (
        serving(first, socket_mode=False, extractor=gold_extractor),
        serving(second, socket_mode=False, extractor=gold_extractor),
        aiohttp.ClientSession() as http,
    ):
        url = fake_slack.new_response_url()
        body = urllib.parse.urlencode(slash_command("ukraine", response_url=url))
        for settings, retry in ((first, None), (second, "1")):
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            headers |= sign(SIGNING_SECRET, body)
            if retry:
                headers |= {"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "http_timeout"}
            events = f"http://{settings.host}:{settings.port}/slack/events"
            async with http.post(events, data=body, headers=headers) as response:
                assert response.status == 200
        await fake_slack.wait_for(lambda: fake_slack.responses(url))
        await asyncio.sleep(0.5)  # time enough for a second answer to arrive, if one were sent
        assert len(fake_slack.responses(url)) == 1


async def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    from bot.store.base import StoreUnavailable

    with pytest.raises(StoreUnavailable) as raised:
        async with open_store("postgresql://bot:s3cret@127.0.0.1:1/guarantees"):
            pass
    assert "s3cret" not in str(raised.value) and "STORE_URL" in str(raised.value)
