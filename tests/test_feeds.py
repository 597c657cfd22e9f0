"""Feeds and on-demand URLs against a news site on loopback: ingested once, 304 honoured,
re-dated and re-GUIDed items not taken twice, bad feeds one line each, nothing hangs."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.feed_parse import normalise_url, parse_feed
from bot.feeds import ingest_urls as ingest_urls_
from bot.feeds import poll_feeds, poll_once
from bot.models import PositionFilter
from bot.pipeline import IngestReport
from bot.services import Services
from bot.settings import Settings
from bot.store import open_store
from tests.fixtures.feeds.localsite import (
    Item,
    KeywordExtractor,
    LocalSite,
    article_page,
    atom,
    rss,
    story,
)

BOUND = 20.0  # no test waits longer than this for anything

MakeServices = Callable[..., Any]


@pytest.fixture
async def site() -> AsyncIterator[LocalSite]:
    async with LocalSite() as running:
        yield running


@pytest.fixture
async def open_services(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[MakeServices]:
    """`await open_services(feeds=[...])`: services over a fresh store, loopback allowed."""
    stack: list[Any] = []

    async def build(**overrides: Any) -> Services:
        values: dict[str, Any] = {
            "store_path": str(tmp_path / f"store{len(stack)}.db"),
            "fetch_allow_loopback": True,
            "fetch_timeout_seconds": 2.0,
        }
        values.update(overrides)
        settings = make_settings(**values)
        store_cm = open_store(settings.store_path)
        store = await store_cm.__aenter__()
        http = aiohttp.ClientSession()
        stack.append((store_cm, http))
        return Services(settings, store, KeywordExtractor(), http, None)

    yield build
    for store_cm, http in reversed(stack):
        await http.close()
        await store_cm.__aexit__(None, None, None)


def publish(site: LocalSite, name: str, topic: str, site_name: str = "Local News") -> Item:
    """Serve an article page and return the feed item pointing at it."""
    site.serve(f"/news/{name}", article_page(f"Talks on {topic}", story(topic), site_name))
    return Item(title=f"Talks on {topic}", link=site.url(f"/news/{name}"), guid=f"id-{name}")


async def poll(services: Services) -> IngestReport:
    return await asyncio.wait_for(poll_once(services), BOUND)


async def ingest_urls(services: Services, urls: list[str], **kw: Any) -> IngestReport:
    return await asyncio.wait_for(ingest_urls_(services, urls, **kw), BOUND)


def page_requests(site: LocalSite) -> list[str]:
    return [p for p in site.paths() if p.startswith("/news/")]


# --- good feeds, ingested once --------------------------------------------------------


async def test_rss_feed_is_ingested_once_and_304_is_honoured(
    site: LocalSite, open_services: MakeServices
) -> None:
    items = [publish(site, f"r{i}", f"Geneva round {i}") for i in range(3)]
    site.serve("/rss", rss(items), "application/rss+xml; charset=utf-8", etag='"v1"')
    services = await open_services(feeds=(site.url("/rss"),))

    first = await poll(services)
    assert len(first.added) == 3 and not first.problems
    assert first.positions == 3  # the keyword extractor finds one per article
    stored = await services.store.get_article(first.added[0])
    assert stored is not None and stored.guid is not None and stored.url is not None
    assert stored.url.startswith(site.url("/news/"))
    assert stored.source == site.url("/rss")

    second = await poll(services)
    assert second.added == [] and second.positions == 0
    feed_requests = [s for s in site.seen if s.path == "/rss"]
    assert feed_requests[1].headers.get("If-None-Match") == '"v1"'
    assert sorted(page_requests(site)) == sorted(f"/news/r{i}" for i in range(3))  # once each
    positions = await services.store.positions(PositionFilter())
    assert len(positions) == 3


async def test_atom_feed_with_last_modified_is_ingested_once(
    site: LocalSite, open_services: MakeServices
) -> None:
    items = [publish(site, f"a{i}", f"Paris summit {i}") for i in range(2)]
    stamp = datetime(2025, 3, 2, 9, 30, tzinfo=UTC)
    site.serve("/atom", atom(items), "application/atom+xml", last_modified=stamp)
    services = await open_services(feeds=(site.url("/atom"),))

    assert len((await poll(services)).added) == 2
    assert (await poll(services)).added == []
    feed_requests = [s for s in site.seen if s.path == "/atom"]
    assert feed_requests[1].headers.get("If-Modified-Since") == "Sun, 02 Mar 2025 09:30:00 GMT"
    assert len(page_requests(site)) == 2


async def test_known_entries_are_skipped_before_their_page_is_fetched(
    site: LocalSite, open_services: MakeServices
) -> None:
    # A server without validators: every poll gets the whole feed again.
    first_items = [publish(site, f"k{i}", f"Kyiv briefing {i}") for i in range(2)]
    site.serve("/rss", rss(first_items), "application/rss+xml")
    services = await open_services(feeds=(site.url("/rss"),))
    assert len((await poll(services)).added) == 2

    later = publish(site, "k2", "Kyiv briefing 2")
    redated = [
        Item(i.title, i.link, i.guid, published=datetime(2025, 4, 1, tzinfo=UTC))
        for i in first_items
    ]
    site.serve("/rss", rss([later, *redated]), "application/rss+xml")
    report = await poll(services)
    assert len(report.added) == 1  # only the new story
    assert page_requests(site) == ["/news/k0", "/news/k1", "/news/k2"]


async def test_new_guid_same_link_or_same_text_is_not_new(
    site: LocalSite, open_services: MakeServices
) -> None:
    item = publish(site, "g", "Brussels meeting")
    site.serve("/rss", rss([item]), "application/rss+xml")
    services = await open_services(feeds=(site.url("/rss"),))
    assert len((await poll(services)).added) == 1

    # 1. Same link, new GUID: known before fetching.
    regid = Item(item.title, item.link + "?utm_source=rss#top", "id-g-v2")
    # 2. New GUID and new link, same page text: the store refuses the same text.
    site.serve("/news/g-copy", article_page(item.title, story("Brussels meeting")))
    moved = Item(item.title, site.url("/news/g-copy"), "id-g-v3")
    # 3. New GUID and new link, text edited by a few words: a near-copy from the same outlet.
    edited = story("Brussels meeting")
    edited[-1] = edited[-1].replace("who attended them", "who attended them on Tuesday")
    site.serve("/news/g-edited", article_page(item.title + " (updated)", edited))
    updated = Item(item.title, site.url("/news/g-edited"), "id-g-v4")
    site.serve("/rss", rss([regid, moved, updated]), "application/rss+xml")

    report = await poll(services)
    assert report.added == []
    assert len(report.duplicates) == 3
    assert page_requests(site) == ["/news/g", "/news/g-copy", "/news/g-edited"]
    assert await services.store.count_articles() == 1
    # And none of them comes back on the next poll, nor are their pages fetched again.
    assert (await poll(services)).added == []
    assert page_requests(site) == ["/news/g", "/news/g-copy", "/news/g-edited"]


async def test_entry_without_article_page_falls_back_to_a_long_summary(
    site: LocalSite, open_services: MakeServices
) -> None:
    long_summary = " ".join(story("Warsaw talks", 3))
    site.serve("/news/menu", "<html><body><nav>Home | World</nav></body></html>")
    site.serve("/news/menu2", "<html><body><nav>Home | World</nav></body></html>")
    items = [
        Item("Warsaw talks", site.url("/news/menu"), "id-w1", summary=long_summary),
        Item("Short teaser", site.url("/news/menu2"), "id-w2", summary="Too short."),
    ]
    site.serve("/rss", rss(items), "application/rss+xml")
    services = await open_services(feeds=(site.url("/rss"),))

    report = await poll(services)
    assert len(report.added) == 1
    article = await services.store.get_article(report.added[0])
    assert article is not None and "Warsaw talks" in article.text
    assert [p.reason for p in report.problems] == ["page holds no article text; summary too short"]
    # The hopeless entry is not fetched again at the next poll.
    await poll(services)
    assert page_requests(site).count("/news/menu2") == 1


async def test_transient_page_failures_are_retried_then_given_up(
    site: LocalSite, open_services: MakeServices
) -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=503, text="busy")

    site.routes["/news/busy"] = broken
    site.serve(
        "/rss", rss([Item("Busy", site.url("/news/busy"), "id-busy")]), "application/rss+xml"
    )
    services = await open_services(feeds=(site.url("/rss"),))
    for _ in range(5):
        report = await poll(services)
        assert report.added == []
    assert page_requests(site) == ["/news/busy"] * 3  # three attempts, then given up


# --- bad feeds: one clear line each, the rest goes on ------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>{link}</link><guid>laughs</guid></item>
</channel></rss>"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title>
<item><title>&xxe;</title><link>{link}</link><guid>xxe</guid></item></channel></rss>"""

EMPTY_RSS = (
    "<?xml version='1.0'?><rss version='2.0'><channel><title>Quiet</title>"
    "<link>http://example.invalid/</link><description>nothing</description></channel></rss>"
)


async def test_bad_feeds_each_give_one_line_and_the_good_one_still_comes_in(
    site: LocalSite, open_services: MakeServices, caplog: pytest.LogCaptureFixture
) -> None:
    good = publish(site, "ok", "Rome conference")
    site.serve("/good", rss([good]), "application/rss+xml")
    bait = site.url("/news/bait")
    site.serve("/news/bait", article_page("Bait", story("bait")))
    site.serve("/laughs", BILLION_LAUGHS.format(link=bait), "application/rss+xml")
    site.serve("/xxe", XXE.format(link=bait), "application/rss+xml")
    site.serve("/garbage", "<<<this is not xml at all>>> &&&", "application/rss+xml")
    site.serve("/empty", EMPTY_RSS, "application/rss+xml")
    site.serve("/blank", b"", "application/rss+xml")
    site.serve("/html", "<!DOCTYPE html><html><body><p>a web page</p></body></html>")
    site.serve("/png", b"\x89PNG....", "image/png")
    with_closed_port = "http://127.0.0.1:9/feed"
    bad = ["/laughs", "/xxe", "/garbage", "/empty", "/blank", "/html", "/png"]
    feeds = (
        *(site.url(p) for p in bad),
        with_closed_port,
        "ftp://127.0.0.1/feed",
        site.url("/good"),
    )
    services = await open_services(feeds=feeds)

    with caplog.at_level(logging.INFO, logger="bot.feeds"):
        report = await poll(services)

    assert len(report.added) == 1  # the good feed, last in the list
    reasons = {p.where.removeprefix(site.base): p.reason for p in report.problems}
    assert "entit" in reasons["/laughs"] and "entit" in reasons["/xxe"]
    assert reasons["/garbage"].startswith("malformed feed (not well-formed")
    assert reasons["/empty"] == "empty feed (no entries)"
    assert reasons["/blank"] == "empty answer"
    assert reasons["/html"] == "not an RSS or Atom feed"
    assert reasons["/png"] == "unsupported content type image/png"
    assert "cannot connect" in reasons[with_closed_port]
    assert "only http and https" in reasons["ftp://127.0.0.1/feed"]
    assert "/news/bait" not in site.paths()  # nothing behind a refused feed is fetched
    per_feed = [r for r in caplog.records if r.name == "bot.feeds" and "feed " in r.message]
    assert len(per_feed) == len(feeds)  # exactly one line per feed
    stored = await services.store.feed_state(site.url("/laughs"))
    assert stored is not None and stored.failures == 1 and "entit" in (stored.last_error or "")


async def test_malformed_feed_with_readable_entries_is_read_leniently(
    site: LocalSite, open_services: MakeServices
) -> None:
    item = publish(site, "m", "Ankara talks")
    broken = rss([item]).replace("</channel></rss>", "<item><title>cut off")  # never closed
    site.serve("/broken", broken, "application/rss+xml")
    services = await open_services(feeds=(site.url("/broken"),))
    report = await poll(services)
    assert len(report.added) == 1 and not report.problems


async def test_non_utf8_feed_and_page_are_decoded(
    site: LocalSite, open_services: MakeServices
) -> None:
    title = "Гарантії безпеки для України"
    page = article_page(title, story("Київ"), "Новини").replace("charset='utf-8'", "")
    site.serve("/news/ua", page.encode("cp1251"), "text/html; charset=windows-1251")
    item = Item(title, site.url("/news/ua"), "id-ua")
    feed = rss([item], encoding="windows-1251").encode("cp1251")
    site.serve("/ua", feed, "application/rss+xml")  # charset only in the XML declaration
    latin = rss([publish(site, "fr", "Sécurité européenne")]).replace("utf-8", "iso-8859-1")
    site.serve("/fr", latin.encode("latin-1"), "text/xml")
    services = await open_services(feeds=(site.url("/ua"), site.url("/fr")))

    report = await poll(services)
    assert len(report.added) == 2 and not report.problems
    texts = [await services.store.get_article(key) for key in report.added]
    assert sorted(a.title for a in texts if a) == ["Talks on Sécurité européenne", title]


async def test_feed_parsing_never_reads_a_url_or_file_itself() -> None:
    # feedparser given a str or bytes would treat it as a URL or a file name.
    with pytest.raises(Exception, match=r"not an RSS or Atom feed|malformed"):
        parse_feed("/etc/passwd", "http://127.0.0.1/")
    with pytest.raises(Exception, match=r"not an RSS or Atom feed|malformed"):
        parse_feed("http://127.0.0.1:9/feed", "http://127.0.0.1/")


def test_urls_are_normalised_for_comparison() -> None:
    assert normalise_url("HTTPS://News.Example/a?utm_source=x&id=3#frag") == (
        "https://news.example/a?id=3"
    )
    assert normalise_url("ftp://news.example/a") is None
    assert normalise_url("javascript:alert(1)") is None


# --- the polling loop --------------------------------------------------------------------


async def test_poll_loop_survives_bad_feeds_and_stops_when_cancelled(
    site: LocalSite, open_services: MakeServices
) -> None:
    item = publish(site, "loop", "Istanbul round")
    site.serve("/good", rss([item]), "application/rss+xml")

    async def explode(request: web.Request) -> web.Response:
        return web.Response(status=500, text="oops")

    site.routes["/bad"] = explode
    services = await open_services(feeds=(site.url("/bad"), site.url("/good")))
    task = asyncio.create_task(poll_feeds(services, interval=0.05))
    try:
        async with asyncio.timeout(BOUND):
            while [s.path for s in site.seen].count("/good") < 3:  # three rounds
                await asyncio.sleep(0.02)
        assert not task.done()
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await services.store.count_articles() == 1
    assert page_requests(site) == ["/news/loop"]


async def test_poll_loop_idles_without_feeds(open_services: MakeServices) -> None:
    services = await open_services(feeds=())
    task = asyncio.create_task(poll_feeds(services))
    await asyncio.sleep(0.05)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- on demand ------------------------------------------------------------------------


async def test_ingest_urls_takes_pages_and_feeds_and_reports_progress(
    site: LocalSite, open_services: MakeServices
) -> None:
    page = publish(site, "p", "Berlin statement")
    items = [publish(site, f"f{i}", f"London meeting {i}") for i in range(3)]
    site.serve("/feed", rss(items), "text/html")  # mislabelled: sniffed as a feed
    site.serve("/plain", "Plain report\n" + " ".join(story("Madrid")), "text/plain")
    services = await open_services()
    calls: list[tuple[int, int]] = []

    report = await ingest_urls(
        services,
        [page.link, site.url("/feed"), site.url("/plain"), "file:///etc/passwd", "ftp://x/y"],
        progress=lambda done, total: calls.append((done, total)),
    )
    assert len(report.added) == 5
    assert [p.reason for p in report.problems] == [
        "only http and https URLs are fetched, not file",
        "only http and https URLs are fetched, not ftp",
    ]
    assert calls[-1] == (8, 8)  # five URLs, three of them feed entries more
    assert all(a <= b for (a, _), (b, _) in itertools.pairwise(calls))
    plain = [
        a
        for k in report.added
        if (a := await services.store.get_article(k)) and a.url == site.url("/plain")
    ]
    assert plain and plain[0].title == "Plain report"

    again = await ingest_urls(services, [page.link, site.url("/feed")])
    assert again.added == [] and len(again.duplicates) == 4
    assert page_requests(site).count("/news/p") == 1  # a known URL is not fetched again


async def test_ingest_urls_turns_every_failure_into_a_problem_line(
    site: LocalSite, open_services: MakeServices
) -> None:
    site.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/")
    site.serve("/menu", "<html><body><nav>Home</nav></body></html>")
    services = await open_services()
    report = await ingest_urls(
        services, [site.url("/to-metadata"), site.url("/menu"), site.url("/missing")]
    )
    assert report.added == []
    assert [p.reason for p in report.problems] == [
        "refused cloud metadata address 169.254.169.254",
        "page holds no article text",
        "HTTP 404",
    ]


async def test_ingest_urls_refuses_loopback_without_the_test_switch(
    site: LocalSite, open_services: MakeServices
) -> None:
    page = publish(site, "x", "Oslo forum")
    services = await open_services(fetch_allow_loopback=False)
    report = await ingest_urls(services, [page.link])
    assert report.added == [] and "loopback" in report.problems[0].reason
    assert site.seen == []
