"""Feed entries into articles: fetch each new entry's page, read it, skip what is known, ingest.

An entry is new only when neither its key nor its link is known (checked in the store before
its page is fetched). Pages are fetched by `SafeFetcher` a batch at a time, read with
trafilatura (or the entry's own summary stands in when the page holds no article, or
robots.txt keeps us from it) and go through the common pipeline (`bot.pipeline`); an article
from the same outlet that is nearly the same text (an edited copy) counts as known too, and
the new ones are clustered into stories. A transient failure leaves the entry to the next
poll, up to `MAX_ENTRY_ATTEMPTS`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bot.clustering import cluster_article, find_same_article, fingerprint
from bot.feed_parse import FeedEntry, ParsedFeed, loggable, normalise_url
from bot.fetch import SafeFetcher
from bot.fetch_content import Fetched
from bot.fetch_errors import BadContent, FetchError, FetchTimeout, HTTPStatusError
from bot.ingest import (
    MIN_ARTICLE_CHARS,
    IngestProblem,
    ReadResult,
    article_from_txt,
    article_id_for,
    articles_from_html,
    outlet_from_url,
)
from bot.models import Article
from bot.pipeline import IngestReport, ingest_articles
from bot.robots import RobotsDisallowed
from bot.store.feeds import MAX_ENTRY_ATTEMPTS

if TYPE_CHECKING:
    from bot.services import Services

# Called with (done, total) after each URL or feed entry; total grows as feeds are read.
ProgressHook = Callable[[int, int], None]

BATCH = 16  # entries fetched concurrently, then ingested together
MIN_SUMMARY_CHARS = 200  # an entry's own summary stands in for a page only when this long
HTML_ACCEPT = ("text/html", "application/xhtml+xml", "text/plain")


# --- progress -------------------------------------------------------------------------


class Progress:
    """Counts done and total entries for a `ProgressHook`; the total grows as feeds are read."""

    def __init__(self, hook: ProgressHook | None, total: int) -> None:
        self.hook = hook
        self.done = 0
        self.total = total

    def grow(self, more: int) -> None:
        self.total += more
        self._tell()

    def advance(self, count: int = 1) -> None:
        self.done += count
        self._tell()

    def _tell(self) -> None:
        if self.hook is not None:
            self.hook(self.done, max(self.total, self.done))


# --- articles from documents ----------------------------------------------------------


def article_from_document(
    text: str, kind: str, where: str, url: str, guid: str | None
) -> ReadResult:
    """An article from a fetched page (HTML via trafilatura, or plain text)."""
    if kind == "text":
        found = article_from_txt(text, where)
        if isinstance(found, IngestProblem):
            return found
        return replace(
            found,
            id=article_id_for(url, found.text),
            url=url,
            outlet=outlet_from_url(url),
            guid=guid,
        )
    return articles_from_html(text, where, url, guid)


def _summary_article(entry: FeedEntry, feed_url: str, guid: str) -> Article | None:
    if len(entry.summary) < MIN_SUMMARY_CHARS:
        return None
    title = entry.title or entry.summary.splitlines()[0][:300]
    text = entry.summary if entry.summary.startswith(title) else f"{title}\n{entry.summary}"
    if len(text) < MIN_ARTICLE_CHARS:
        return None
    return Article(
        id=article_id_for(entry.url, text),
        title=title,
        text=text,
        url=entry.url,
        outlet=outlet_from_url(entry.url or feed_url),
        published=entry.published,
        source=feed_url,
        guid=guid,
    )


def _is_transient(error: FetchError) -> bool:
    if isinstance(error, RobotsDisallowed):
        return error.temporary
    if isinstance(error, HTTPStatusError):
        return error.status >= 500 or error.status == 429
    return isinstance(error, FetchTimeout) or type(error) is FetchError


@dataclass
class _EntryResult:
    entry: FeedEntry
    result: ReadResult
    retry: bool = False  # a transient failure: try this entry again at the next poll


@dataclass
class _Page:
    """An entry's page as fetched (network only), or why it could not be."""

    entry: FeedEntry
    doc: Fetched | None = None
    error: FetchError | None = None


async def _fetch_entry(fetcher: SafeFetcher, entry: FeedEntry) -> _Page:
    if not entry.url:
        return _Page(entry)
    try:
        return _Page(entry, doc=await fetcher.fetch(entry.url, accept=HTML_ACCEPT))
    except FetchError as error:
        return _Page(entry, error=error)


def _read_page(page: _Page, feed_url: str, attempts: int) -> _EntryResult:
    """The entry's article: its page (decoded, read by trafilatura), else its summary; or
    the problem. CPU work, run in a worker thread."""
    entry = page.entry
    where = entry.url or f"{loggable(feed_url)} entry {entry.key[:80]}"
    page_problem = "entry has no link"
    error = page.error
    found: ReadResult | None = None
    if page.doc is not None:
        try:
            text = page.doc.text()
            kind = page.doc.kind(text)
            if kind == "feed":
                raise BadContent("entry links to a feed, not an article")
            url = normalise_url(page.doc.url) or page.doc.url
            found = article_from_document(text, kind, where, url, entry.key)
        except FetchError as problem:
            error = problem
    if error is not None:
        last_try = attempts + 1 >= MAX_ENTRY_ATTEMPTS
        if _is_transient(error) and not last_try:
            return _EntryResult(entry, IngestProblem(where, error.reason), retry=True)
        page_problem = error.reason
    elif isinstance(found, Article):
        if found.published is None and entry.published is not None:
            found = replace(found, published=entry.published)
        return _EntryResult(entry, replace(found, source=feed_url))
    elif isinstance(found, IngestProblem):
        page_problem = found.reason
    fallback = _summary_article(entry, feed_url, entry.key)
    if fallback is not None:
        return _EntryResult(entry, fallback)
    return _EntryResult(entry, IngestProblem(where, f"{page_problem}; summary too short"))


def _read_pages(
    pages: Sequence[_Page], feed_url: str, attempts: Sequence[int]
) -> list[_EntryResult]:
    return [_read_page(p, feed_url, n) for p, n in zip(pages, attempts, strict=True)]


async def ingest_batch(
    services: Services, results: Sequence[_EntryResult] | Sequence[ReadResult], feed_url: str
) -> IngestReport:
    """Ingest fetched articles: near-copies from the same outlet are counted as known, the
    rest go through the common pipeline, and the new ones are clustered."""
    store = services.store
    report = IngestReport()
    items: list[ReadResult] = []
    prints = {}
    stored_as: dict[str, str] = {}  # article id -> key of the stored article it is
    for one in results:
        item = one.result if isinstance(one, _EntryResult) else one
        if isinstance(item, Article):
            print_ = fingerprint(item.text)
            same = await find_same_article(store, item.text, item.outlet, print_)
            if same is not None:
                report.duplicates.append(same)
                stored_as[item.id] = same
                continue
            prints[item.id] = print_
        if not (isinstance(one, _EntryResult) and one.retry):
            items.append(item)
    # Clustered just below, with the fingerprints already computed for the dedup check.
    report.merge(await ingest_articles(store, services.extractor, items, cluster=False))
    added = set(report.added)
    for item in items:
        if isinstance(item, Article) and item.id in added:
            stored_as[item.id] = item.id
            await cluster_article(store, item.id, item.text, prints.get(item.id))
    outcomes: list[tuple[str, str | None, str, str | None]] = []
    for one in results:
        if not isinstance(one, _EntryResult):
            continue
        if one.retry:
            report.problems.append(one.result)  # type: ignore[arg-type]
            outcomes.append((one.entry.key, one.entry.url, "failed", None))
        elif isinstance(one.result, Article):
            key = stored_as.get(one.result.id)  # None when the store knew it already
            outcomes.append((one.entry.key, one.entry.url, "done", key))
        else:
            outcomes.append((one.entry.key, one.entry.url, "gave_up", None))
    if outcomes:
        await store.record_entries(outcomes, feed_url=feed_url)
    return report


async def ingest_feed(
    services: Services,
    fetcher: SafeFetcher,
    feed_url: str,
    parsed: ParsedFeed,
    progress: Progress | None = None,
) -> IngestReport:
    """Fetch and ingest every entry of a parsed feed that is not known yet."""
    store = services.store
    report = IngestReport()
    known_keys, known_urls = await store.known_entries(
        [e.key for e in parsed.entries], [e.url for e in parsed.entries if e.url]
    )
    fresh: list[FeedEntry] = []
    for entry in parsed.entries:
        if entry.key in known_keys:
            report.duplicates.append(entry.key)
        elif entry.url is not None and entry.url in known_urls:
            # Same link under a new GUID: remember the GUID so it is skipped faster next time.
            report.duplicates.append(entry.key)
            await store.record_entry(entry.key, feed_url=feed_url, url=entry.url, status="done")
        else:
            fresh.append(entry)
    if progress is not None:
        progress.grow(len(fresh))
    batches = [fresh[i : i + BATCH] for i in range(0, len(fresh), BATCH)]

    async def fetch_batch(batch: list[FeedEntry]) -> list[_Page]:
        return list(await asyncio.gather(*(_fetch_entry(fetcher, e) for e in batch)))

    # The next batch's pages are fetched (network only) while this batch is read and
    # extracted; the CPU work (trafilatura, then the extractor) runs one step at a time in
    # worker threads, since threads doing CPU work at once only fight over the GIL.
    pending: asyncio.Task[list[_Page]] | None = None
    try:
        for number, batch in enumerate(batches):
            pages = await (pending or fetch_batch(batch))
            pending = (
                asyncio.create_task(fetch_batch(batches[number + 1]))
                if number + 1 < len(batches)
                else None
            )
            tried = await store.entry_attempts([e.key for e in batch])
            attempts = [tried.get(e.key, 0) for e in batch]
            results = await asyncio.to_thread(_read_pages, pages, feed_url, attempts)
            report.merge(await ingest_batch(services, results, feed_url))
            if progress is not None:
                progress.advance(len(batch))
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
    return report
