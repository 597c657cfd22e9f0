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
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from bot.clustering import cluster_article, cluster_pending, find_same_article, fingerprint
from bot.fetch import SafeFetcher
from bot.fetch_content import FEED_TYPES, Fetched
from bot.fetch_errors import BadContent, FetchError, FetchTimeout, HTTPStatusError
from bot.ingest import (
    MIN_ARTICLE_CHARS,
    IngestProblem,
    ReadResult,
    article_from_txt,
    article_id_for,
    articles_from_html,
    clean_text,
    outlet_from_url,
)
from bot.models import Article
from bot.pipeline import IngestReport, ingest_articles
from bot.robots import RobotsDisallowed
from bot.store.feeds import MAX_ENTRY_ATTEMPTS

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

# Called with (done, total) after each URL or feed entry; total grows as feeds are read.
ProgressHook = Callable[[int, int], None]

BATCH = 16  # entries fetched concurrently, then ingested together
MIN_SUMMARY_CHARS = 200  # an entry's own summary stands in for a page only when this long
HTML_ACCEPT = ("text/html", "application/xhtml+xml", "text/plain")
FEED_ACCEPT = (
    "application/rss+xml",
    "application/atom+xml",
    "application/xml",
    "text/xml",
    "text/html",
)
_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ocid|cmpid)$", re.I)


class FeedProblem(Exception):
    """A feed could not be read; `reason` is one short line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FeedEntry:
    """One feed item, as much as we need of it."""

    key: str  # the GUID (scoped to the feed's host unless it is a URL or URN), else the link
    url: str | None
    title: str
    summary: str
    published: date | None


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: list[FeedEntry]
    warning: str | None = None  # set when the XML was malformed but entries could be read


# --- URLs -----------------------------------------------------------------------------


def normalise_url(url: str | None) -> str | None:
    """A link as compared and stored: fragment and tracking parameters dropped, scheme and
    host lower-cased. None for anything that is not http(s)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    query = urlencode(
        [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING_PARAMS.match(k)
        ]
    )
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", query, ""))


def loggable(url: str) -> str:
    """A URL fit for a log line: no credentials, and no query (private feed URLs often
    carry a token there)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(invalid URL)"
    host = (parts.hostname or "") + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", "")) + ("?…" if parts.query else "")


# --- feed parsing -----------------------------------------------------------------------

_XML_DECL_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*)["'][^"']*["']""")
_TAG = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"</(p|div|li|h\d|blockquote)\s*>|<br\s*/?>", re.I)


def _utf8_xml(text: str) -> bytes:
    """The decoded feed as UTF-8 bytes whose XML declaration says so."""
    text = text.lstrip("\ufeff")
    return _XML_DECL_ENCODING.sub(r'\1"utf-8"', text, count=1).encode("utf-8")


def _refuse_entities(data: bytes) -> None:
    """Refuse feeds that declare entities or reference external ones (billion laughs,
    XXE). Malformed XML passes here: feedparser's lenient parser gets its chance."""
    from xml.etree.ElementTree import ParseError

    import defusedxml  # type: ignore[import-untyped]
    import defusedxml.ElementTree  # type: ignore[import-untyped]

    try:
        defusedxml.ElementTree.fromstring(
            data, forbid_dtd=False, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException:
        raise FeedProblem("feed declares XML entities (refused: entity expansion)") from None
    except (ParseError, ValueError):
        if re.search(rb"<!ENTITY", data[:65536], re.I):
            raise FeedProblem("feed declares XML entities (refused: entity expansion)") from None


def html_to_text(fragment: str) -> str:
    """Plain text of an (already sanitised) HTML fragment from a feed."""
    text = _BLOCK_END.sub("\n", fragment)
    return clean_text(html.unescape(_TAG.sub(" ", text)))


def _entry_date(entry: Any) -> date | None:
    for field in ("published_parsed", "updated_parsed", "created_parsed"):
        moment = entry.get(field)
        if moment:
            with contextlib.suppress(TypeError, ValueError):
                return date(moment.tm_year, moment.tm_mon, moment.tm_mday)
    return None


def _entry_key(guid: str | None, link: str | None, host: str) -> str | None:
    if guid and guid.strip():
        guid = guid.strip()
        # A GUID that is not a URL or URN ("1234") is only unique within its site.
        return guid if ":" in guid else f"{host}#{guid}"
    return link


def parse_feed(text: str, base_url: str) -> ParsedFeed:
    """Entries of an RSS or Atom document, or `FeedProblem` with one line saying why not."""
    import feedparser  # type: ignore[import-untyped]

    data = _utf8_xml(text)
    _refuse_entities(data)
    # A file-like object: feedparser treats a str or bytes argument as a URL or file name.
    parsed = feedparser.parse(
        io.BytesIO(data),
        response_headers={
            "content-type": "application/xml; charset=utf-8",
            "content-location": base_url,
        },
        sanitize_html=True,
        resolve_relative_uris=True,
    )
    reason = None
    if parsed.get("bozo"):
        error = parsed.get("bozo_exception")
        reason = str(getattr(error, "getMessage", lambda: error)())[:120] or "malformed XML"
    if not parsed.get("version") and not parsed.entries:
        if reason:
            raise FeedProblem(f"malformed feed ({reason})")
        raise FeedProblem("not an RSS or Atom feed")
    host = (urlsplit(base_url).hostname or "").removeprefix("www.")
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    for item in parsed.entries:
        link = normalise_url(item.get("link"))
        key = _entry_key(item.get("id"), link, host)
        if key is None or key in seen:
            continue
        seen.add(key)
        content = item.get("content") or []
        body = content[0].get("value", "") if content else item.get("summary", "")
        entries.append(
            FeedEntry(
                key=key,
                url=link,
                title=html_to_text(item.get("title", ""))[:300],
                summary=html_to_text(body or ""),
                published=_entry_date(item),
            )
        )
    title = html_to_text(parsed.feed.get("title", "")) or host
    if not entries:
        if reason:
            raise FeedProblem(f"malformed feed ({reason})")
        raise FeedProblem("empty feed (no entries)")
    warning = f"malformed feed read leniently ({reason})" if reason else None
    return ParsedFeed(title=title, entries=entries, warning=warning)


# --- progress -------------------------------------------------------------------------


class _Progress:
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


async def _ingest_batch(
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
    progress: _Progress | None = None,
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
            report.merge(await _ingest_batch(services, results, feed_url))
            if progress is not None:
                progress.advance(len(batch))
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
    return report


# --- on demand ------------------------------------------------------------------------


async def ingest_urls(
    services: Services, urls: Sequence[str], progress: ProgressHook | None = None
) -> IngestReport:
    """Fetch each URL (an article page or a feed) safely and ingest what it holds.

    `progress`, when given, is called with (done, total) after each page or feed entry; the
    total grows as feeds reveal their entries. Every failure is an `IngestProblem` line.
    """
    report = IngestReport()
    counter = _Progress(progress, len(urls))
    async with SafeFetcher.from_settings(services.settings) as fetcher:
        for url in urls:
            report.merge(await _ingest_one_url(services, fetcher, url.strip(), counter))
            counter.advance()
        await cluster_pending(services.store)
    return report


async def _ingest_one_url(
    services: Services, fetcher: SafeFetcher, url: str, counter: _Progress
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
    report.merge(await _ingest_batch(services, [found], url))
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
    "FeedEntry",
    "FeedPoll",
    "FeedProblem",
    "ParsedFeed",
    "ProgressHook",
    "ingest_urls",
    "normalise_url",
    "parse_feed",
    "poll_feed",
    "poll_feeds",
    "poll_once",
]
