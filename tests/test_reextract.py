"""Re-extraction after an extractor upgrade: in the background, paged, resumable, visible.

The stores here are filled by the gold extractor (`gold` version 1); the "upgraded"
extractors below carry version 2 and count what they are asked to extract.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import urllib.parse
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from bot.models import Article, Position, PositionFilter, StoredPosition
from bot.reextract import ReextractProgress, catch_up
from bot.settings import Settings
from bot.store import Store, open_store
from tests.conftest import SIGNING_SECRET
from tests.fakes.extractor import GoldExtractor, GoldExtractorV2
from tests.fakes.running import serving
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_payloads import sign, slash_command


class Upgraded(GoldExtractor):
    """Version 2 of the gold extractor: finds nothing, so a switched article is visible (its
    positions are gone), records what it extracted, and can be held at a gate after
    `free` articles (in a thread: these tests run re-extraction with `workers=0`)."""

    version = "2"

    def __init__(self, free: int | None = None, fail_on: str | None = None) -> None:
        super().__init__()
        self.seen: list[str] = []
        self.free = free
        self.fail_on = fail_on
        self.gate = threading.Event()

    def extract(self, article: Article) -> list[Position]:
        if self.free is not None and len(self.seen) >= self.free:
            self.gate.wait(10)
        self.seen.append(article.id)
        if article.id == self.fail_on:
            raise ValueError("cannot parse this one")
        return []


def key(p: StoredPosition) -> tuple[str, ...]:
    return (p.article_id, p.party, str(p.stance), str(p.guarantee), p.evidence)


async def add_articles(store: Store, count: int) -> None:
    """`count` more articles at the gold extractor's version 1 (with no positions)."""
    for n in range(count):
        article = Article(id=f"extra-{n}", title=f"Story {n}", text=f"Nothing to see, {n}.")
        await store.add_article(article)
        await store.save_positions(article.id, [], "gold", "1")


async def pending_keys(store: Store, version: str = "2") -> set[str]:
    pages = await store.articles_to_extract_after("gold", version, 0, 10_000)
    return {article.id for _, article in pages}


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def test_catch_up_pages_through_old_articles_by_id(store_path: str) -> None:
    async with open_store(store_path) as store:
        await add_articles(store, 11)
        old = await store.count_positions()
        assert old > 0
        all_keys = await pending_keys(store)
        assert len(all_keys) == 20
        pages: list[tuple[int, int]] = []
        read_page = store.articles_to_extract_after

        async def recording(*args: Any) -> list[tuple[int, Article]]:
            page = await read_page(*args)
            pages.append((args[2], len(page)))
            return page

        store.articles_to_extract_after = recording  # type: ignore[method-assign]
        upgraded = Upgraded()
        progress = await catch_up(store, upgraded, workers=0, batch_size=3)
        assert (progress.done, progress.failed, progress.pending) == (20, 0, 0)
        assert not progress.running
        assert sorted(upgraded.seen) == sorted(all_keys)  # each once
        # Keyset pages: never more than the batch, each starting after the last one's end.
        assert all(size <= 3 for _, size in pages)
        afters = [after for after, _ in pages]
        assert afters == sorted(set(afters)) and afters[0] == 0
        assert len(pages) == 8  # 7 pages of up to 3, then the empty one
        # The old version's positions were replaced (version 2 finds nothing).
        assert await store.count_positions() == 0
        again = await catch_up(store, upgraded, workers=0, batch_size=3)
        assert (again.done, again.pending, len(upgraded.seen)) == (0, 0, 20)


async def test_cancelled_catch_up_resumes_without_redoing_articles(store_path: str) -> None:
    async with open_store(store_path) as store:
        await add_articles(store, 21)
        first = Upgraded(free=7)
        progress = ReextractProgress()
        task = asyncio.create_task(catch_up(store, first, progress, workers=0, batch_size=3))
        await wait_until(lambda: progress.done >= 3)
        task.cancel()  # as a crash or a shutdown would
        with pytest.raises(asyncio.CancelledError):
            await task
        first.gate.set()  # let the abandoned page's thread finish
        left = await pending_keys(store)
        switched = {a for a in first.seen} - left
        assert 3 <= len(switched) <= 7 and len(left) == 30 - len(switched)
        second = Upgraded()
        resumed = await catch_up(store, second, workers=0, batch_size=3)
        assert set(second.seen) == left  # nothing switched before is extracted again
        assert len(second.seen) == len(left)
        assert (resumed.done, resumed.pending) == (len(left), 0)
        assert await pending_keys(store) == set()


async def test_one_failing_article_is_logged_and_left_pending(
    store_path: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_store(store_path) as store:
        await add_articles(store, 4)
        progress = await catch_up(store, Upgraded(fail_on="extra-2"), workers=0, batch_size=2)
        assert (progress.done, progress.failed, progress.pending) == (12, 1, 0)
        assert await pending_keys(store) == {"extra-2"}
        assert "re-extraction of article extra-2 failed: ValueError" in caplog.text


async def test_catch_up_in_worker_processes(store_path: str, gold_extractor: Any) -> None:
    async with open_store(store_path) as store:
        before = sorted(map(key, await store.positions(PositionFilter())))
        progress = await catch_up(store, GoldExtractorV2(), workers=2, batch_size=4)
        assert (progress.done, progress.failed, progress.pending) == (9, 0, 0)
        assert await pending_keys(store) == set()
        after = await store.positions(PositionFilter())
        assert sorted(map(key, after)) == before  # the same gold positions, now version 2
        assert progress.positions == len(after)


async def test_progress_is_logged(store_path: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.reextract")
    async with open_store(store_path) as store:
        await catch_up(store, Upgraded(), workers=0, batch_size=2, log_every_articles=4)
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.reextract"]
    assert lines[0].startswith("re-extraction: 9 articles to bring up to gold 2")
    steps = [line for line in lines if line.startswith("re-extraction: ") and "done," in line]
    assert [line.split(" done")[0] for line in steps] == [
        "re-extraction: 4",
        "re-extraction: 8",
    ]
    assert lines[-1].startswith("re-extraction finished in")


# --- through `serve` -------------------------------------------------------------------------


async def healthz(http: aiohttp.ClientSession, settings: Settings) -> dict[str, Any]:
    async with http.get(f"http://{settings.host}:{settings.port}/healthz") as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


async def ask(
    http: aiohttp.ClientSession, settings: Settings, fake: FakeSlack, text: str
) -> dict[str, Any]:
    url = fake.new_response_url()
    body = urllib.parse.urlencode(slash_command(text, response_url=url))
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SIGNING_SECRET, body)}
    events = f"http://{settings.host}:{settings.port}/slack/events"
    async with http.post(events, data=body, headers=headers) as response:
        assert response.status == 200
    [reply] = await fake.wait_for(lambda: fake.responses(url))
    payload: dict[str, Any] = reply.payload
    return payload


async def reextract_status(
    http: aiohttp.ClientSession, settings: Settings, until: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """`/healthz`'s re-extraction entry, polled until `until` holds."""
    for _ in range(1000):
        status: dict[str, Any] = (await healthz(http, settings)).get("reextract", {})
        if status and until(status):
            return status
        await asyncio.sleep(0.01)
    raise AssertionError(f"re-extraction never reached the state wanted: {status}")


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.reextract.BATCH_SIZE", 2)


async def test_serve_answers_at_once_then_catches_up_in_the_background(
    fake_slack: FakeSlack,
    make_settings: Callable[..., Settings],
    store_path: str,
    small_pages: None,
) -> None:
    settings = make_settings(reextract_workers=0)
    upgraded = Upgraded(free=2)  # holds the catch-up after two articles until the gate opens
    async with (
        serving(settings, socket_mode=False, extractor=upgraded),
        aiohttp.ClientSession() as http,
    ):
        status = await reextract_status(http, settings, lambda s: s["done"] == 2)
        assert status["running"] is True and status["extractor"] == "gold 2"
        assert (status["pending"], status["failed"]) == (7, 0)
        # Answered meanwhile: the 7 articles not switched yet still give version 1's
        # positions (54 positions from 9 sources before anything was switched).
        before = await ask(http, settings, fake_slack, "ukraine")
        assert "45 positions from 7 sources" in before["text"]
        upgraded.gate.set()
        status = await reextract_status(http, settings, lambda s: not s["running"])
        assert (status["pending"], status["done"], status["failed"]) == (0, 9, 0)
        # Version 2 finds nothing, and the card now says so.
        after = await ask(http, settings, fake_slack, "ukraine")
        assert after["text"] == "Nothing is known yet about Ukraine."


async def test_serve_stopped_mid_way_resumes_on_restart(
    fake_slack: FakeSlack,
    make_settings: Callable[..., Settings],
    store_path: str,
    small_pages: None,
) -> None:
    settings = make_settings(reextract_workers=0)
    first = Upgraded(free=4)
    async with serving(settings, socket_mode=False, extractor=first), aiohttp.ClientSession() as h:
        await reextract_status(h, settings, lambda s: s["done"] == 4)
    first.gate.set()
    async with open_store(store_path) as store:
        left = await pending_keys(store)
    assert len(left) == 5 and not left & set(first.seen[:4])
    second = Upgraded()
    async with (
        serving(settings, socket_mode=False, extractor=second),
        aiohttp.ClientSession() as http,
    ):
        status = await reextract_status(http, settings, lambda s: not s["running"])
        assert (status["done"], status["pending"]) == (5, 0)
    assert sorted(second.seen) == sorted(left)


def test_ask_answers_at_once_and_says_what_is_pending(
    store_path: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.__main__ import main

    monkeypatch.setenv("STORE_PATH", store_path)
    root = logging.getLogger()
    monkeypatch.setattr(root, "level", root.level)  # `ask` quietens the root logger
    monkeypatch.setenv("REEXTRACT_WORKERS", "0")
    monkeypatch.setattr("bot.extraction.choice.default_extractor", Upgraded)
    assert main(["ask", "ukraine"]) == 0
    out, err = capsys.readouterr()
    assert "Ukraine" in out
    assert "note: 9 articles still carry positions from another extractor version" in err
    assert "than gold 2" in err
    assert main(["reextract"]) == 0
    out, err = capsys.readouterr()
    assert "9 articles re-extracted, 0 positions, 0 failed" in out
    assert main(["ask", "ukraine"]) == 0
    assert "note:" not in capsys.readouterr().err
