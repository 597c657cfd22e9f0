"""Live sources: RSS/Atom feeds polled on a schedule, and article or feed URLs on demand.

Everything is fetched by `bot.fetch.SafeFetcher` (public addresses only, bounded in size and
time; robots.txt obeyed, except for the URL an admin names in `ingest`); feeds are parsed
by feedparser from bytes we fetched (it never fetches anything itself) after a defusedxml
check that refuses entity declarations; each new entry's page is read with trafilatura
(`bot.ingest.articles_from_html`), or from the entry's own summary when the page holds no
article (or robots.txt keeps us from it). Articles then take the common path
(`bot.pipeline.ingest_articles`) and are clustered into stories (`bot.clustering`).

An entry is new only when neither its GUID nor its link is known (checked in the store before
its page is fetched); the store then refuses the same URL, GUID or text, and an article from
the same outlet that is nearly the same text (an edited copy) is counted as known too.

This module holds the entry points: `ingest_urls` (on demand) and the polling loop
(`poll_feeds`, one replica at a time under the `feed-polling` lease). Parsing a feed is
`bot.feed_parse`; fetching, reading and deduplicating its entries is `bot.feed_ingest`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.clustering import cluster_pending
from bot.feed_ingest import (
    Progress,
    ProgressHook,
    article_from_document,
    ingest_batch,
    ingest_feed,
)
from bot.feed_parse import FeedProblem, loggable, normalise_url, parse_feed
from bot.fetch import SafeFetcher
from bot.fetch_content import FEED_TYPES
from bot.fetch_errors import FetchError
from bot.ingest import IngestProblem
from bot.pipeline import IngestReport

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml",
    "application/atom+xml",
    "application/xml",
    "text/xml",
    "text/html",
)


# --- on demand ------------------------------------------------------------------------


async def ingest_urls(
    services: Services, urls: Sequence[str], progress: ProgressHook | None = None
) -> IngestReport:
    """Fetch each URL (an article page or a feed) safely and ingest what it holds.

    `progress`, when given, is called with (done, total) after each page or feed entry; the
    total grows as feeds reveal their entries. Every failure is an `IngestProblem` line.
    """
    report = IngestReport()
    counter = Progress(progress, len(urls))
    async with SafeFetcher.from_settings(services.settings) as fetcher:
        for url in urls:
            report.merge(await _ingest_one_url(services, fetcher, url.strip(), counter))
            counter.advance()
        await cluster_pending(services.store)
    return report


async def _ingest_one_url(
    services: Services, fetcher: SafeFetcher, url: str, counter: Progress
) -> IngestReport:
    report = IngestReport()
    store = services.store
    link = normalise_url(url)
    if link is not None:
        _, known = await store.known_entries([], [link])
        if link in known:
            report.duplicates.append(link)
            return report
    try:
        # Asked for by name: fetched even when robots.txt says no, and the answer says so.
        refused = await fetcher.robots_verdict(url)
        doc = await fetcher.fetch(url, accept=FEED_ACCEPT, obey_robots=False)
        if refused is not None:
            report.notes.append(f"{url}: {refused.reason}; fetched anyway, as an admin asked")
        text = doc.text()
        kind = doc.kind(text)
        if kind == "feed":
            parsed = await asyncio.to_thread(parse_feed, text, doc.url)
            if parsed.warning:
                log.warning("feed %s: %s", loggable(url), parsed.warning)
            report.merge(await ingest_feed(services, fetcher, doc.url, parsed, counter))
            return report
        found = await asyncio.to_thread(
            article_from_document, text, kind, url, normalise_url(doc.url) or doc.url, None
        )
    except (FetchError, FeedProblem) as error:
        report.problems.append(IngestProblem(url, error.reason))
        return report
    report.merge(await ingest_batch(services, [found], url))
    return report


# --- polling --------------------------------------------------------------------------


@dataclass
class FeedPoll:
    """What one poll of one feed did, and the one line the log gets for it."""

    report: IngestReport
    not_modified: bool = False
    warning: str | None = None

    def line(self) -> str:
        if self.not_modified:
            return "not modified"
        text = self.report.summary()
        return f"{text}; {self.warning}" if self.warning else text


async def poll_feed(services: Services, fetcher: SafeFetcher, feed_url: str) -> FeedPoll:
    """One conditional GET of one feed and the ingestion of its new entries. Raises
    `FetchError` or `FeedProblem` when the feed itself cannot be read."""
    store = services.store
    state = await store.feed_state(feed_url)
    try:
        doc = await fetcher.fetch(
            feed_url,
            etag=state.etag if state else None,
            last_modified=state.last_modified if state else None,
            accept=FEED_ACCEPT,
        )
        if doc.not_modified:
            await store.save_feed_state(feed_url, keep_validators=True)
            return FeedPoll(IngestReport(), not_modified=True)
        text = doc.text()
        if doc.kind(text) != "feed" and doc.media_type not in FEED_TYPES:
            raise FeedProblem("not an RSS or Atom feed")
        parsed = await asyncio.to_thread(parse_feed, text, doc.url)
    except (FetchError, FeedProblem) as error:
        await store.save_feed_state(feed_url, error=error.reason)
        raise
    report = await ingest_feed(services, fetcher, doc.url, parsed)
    # Validators are saved only once the entries are in: a crash mid-way refetches the feed.
    await store.save_feed_state(feed_url, etag=doc.etag, last_modified=doc.last_modified)
    return FeedPoll(report, warning=parsed.warning)


async def poll_once(services: Services, fetcher: SafeFetcher | None = None) -> IngestReport:
    """Poll every configured feed once; one log line per feed, whatever happens to it."""
    report = IngestReport()
    async with contextlib.AsyncExitStack() as stack:
        if fetcher is None:
            fetcher = await stack.enter_async_context(SafeFetcher.from_settings(services.settings))
        for feed_url in services.settings.feeds:
            shown = loggable(feed_url)
            try:
                one = await poll_feed(services, fetcher, feed_url)
            except (FetchError, FeedProblem) as error:
                log.warning("feed %s skipped: %s", shown, error.reason)
                report.problems.append(IngestProblem(feed_url, error.reason))
                continue
            except asyncio.CancelledError:
                raise
            except Exception as error:  # one bad feed must never stop the others
                log.error("feed %s failed: %s: %s", shown, type(error).__name__, error)
                log.debug("feed %s traceback", shown, exc_info=True)
                report.problems.append(
                    IngestProblem(feed_url, f"internal error ({type(error).__name__})")
                )
                continue
            (log.warning if one.warning else log.info)("feed %s: %s", shown, one.line())
            report.merge(one.report)
        await cluster_pending(services.store)
    return report


FEED_LEASE = "feed-polling"


async def poll_feeds(
    services: Services, *, interval: float | None = None, holder: str | None = None
) -> None:
    """Poll `FEEDS` every `FEED_POLL_MINUTES` until cancelled. Never raises for a bad feed;
    with no feeds configured it logs that once and idles until cancelled.

    Only one replica polls at a time: the one holding the `feed-polling` lease in the store
    (FEED_LEASE_SECONDS long, renewed every third of it while held). The others try for it
    as often; when the holder dies its lease runs out and one of them takes over and polls
    at once."""
    settings = services.settings
    if not settings.feeds:
        log.info("no FEEDS configured: feed polling is idle")
        await asyncio.Event().wait()
        return
    every = interval if interval is not None else settings.feed_poll_minutes * 60.0
    lease = timedelta(seconds=settings.feed_lease_seconds)
    tick = min(every, lease.total_seconds() / 3)
    holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    store = services.store
    log.info("polling %d feed(s) every %g minutes", len(settings.feeds), every / 60)
    async with SafeFetcher.from_settings(settings) as fetcher:
        next_poll = 0.0
        holding = False
        while True:
            try:
                held = await store.acquire_lease(FEED_LEASE, holder, lease)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database is briefly away: try next tick
                log.error("feed lease check failed: %s: %s", type(error).__name__, error)
                held = False
            if held != holding:
                log.info("feed polling %s here (%s)", "taken" if held else "held elsewhere",
                         holder)
                holding = held
            if held and time.monotonic() >= next_poll:
                await _poll_holding_lease(services, fetcher, holder, lease, tick)
                next_poll = time.monotonic() + every
            elif not held:
                next_poll = 0.0  # if it comes to us, the last holder may be long gone
            await asyncio.sleep(tick)


async def _poll_holding_lease(
    services: Services, fetcher: SafeFetcher, holder: str, lease: timedelta, tick: float
) -> None:
    """One poll of every feed, renewing the lease meanwhile; a lost lease stops it."""
    poll = asyncio.create_task(poll_once(services, fetcher))
    try:
        while not poll.done():
            await asyncio.wait({poll}, timeout=tick)
            if not poll.done() and not await _renew(services, holder, lease):
                log.warning("feed lease lost mid-poll: stopping this poll")
                poll.cancel()
        [outcome] = await asyncio.gather(poll, return_exceptions=True)
    finally:
        if not poll.done():
            poll.cancel()
            await asyncio.gather(poll, return_exceptions=True)
    if isinstance(outcome, Exception):  # e.g. the store is briefly locked: try next round
        log.error("feed poll failed: %s: %s", type(outcome).__name__, outcome)


async def _renew(services: Services, holder: str, lease: timedelta) -> bool:
    try:
        return await services.store.acquire_lease(FEED_LEASE, holder, lease)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # a database hiccup is not a lost lease
        log.warning("feed lease renewal failed: %s: %s", type(error).__name__, error)
        return True


__all__ = [
    "FeedPoll",
    "ingest_urls",
    "poll_feed",
    "poll_feeds",
    "poll_once",
]
