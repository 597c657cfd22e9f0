"""robots.txt and the egress proxy, against servers on loopback: what is disallowed is never
requested, robots.txt is read once per host and cached, errors disallow for a while, an
admin's explicit ingest overrides and says so; behind a proxy the target is still checked
before the proxy is asked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.__main__ import main
from bot.commands import answer
from bot.feeds import ingest_urls, poll_once
from bot.fetch import SafeFetcher
from bot.fetch_errors import ForbiddenAddress
from bot.replies import CommandContext
from bot.robots import RobotsDisallowed, RobotsPolicy
from bot.services import Services
from bot.settings import Settings, SettingsError, load_settings
from bot.store import open_store
from tests.fakes.proxy import ForwardProxy
from tests.fixtures.feeds.localsite import (
    Item,
    KeywordExtractor,
    LocalSite,
    article_page,
    rss,
    story,
)
from tests.test_fetch import FakeDNS

BOUND = 20.0
UA = "TestReader/2.0 (+https://example.org/bot)"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def site() -> AsyncIterator[LocalSite]:
    async with LocalSite() as running:
        yield running


def robots_fetcher(policy: RobotsPolicy | None = None, **options: Any) -> SafeFetcher:
    values: dict[str, Any] = {
        "allow_loopback": True,
        "timeout": 2.0,
        "robots": policy or RobotsPolicy(UA),
        "user_agent": UA,
    }
    values.update(options)
    return SafeFetcher(**values)


async def get(fetcher: SafeFetcher, url: str, **kw: Any) -> str:
    doc = await asyncio.wait_for(fetcher.fetch(url, **kw), BOUND)
    return doc.text()


def robots(site: LocalSite, text: str) -> None:
    site.serve("/robots.txt", text, "text/plain")


# --- the fetcher ------------------------------------------------------------------------


async def test_disallowed_path_is_never_requested_and_robots_is_read_once(
    site: LocalSite,
) -> None:
    robots(site, "User-agent: *\nDisallow: /private\n")
    site.serve("/public", "<p>open</p>")
    site.serve("/private/x", "<p>closed</p>")
    async with robots_fetcher() as f:
        assert await get(f, site.url("/public")) == "<p>open</p>"
        assert await get(f, site.url("/public")) == "<p>open</p>"
        with pytest.raises(RobotsDisallowed, match="disallows /private/x") as refused:
            await get(f, site.url("/private/x"))
    assert not refused.value.temporary
    assert site.paths() == ["/robots.txt", "/public", "/public"]


async def test_our_user_agent_from_settings_picks_its_group(site: LocalSite) -> None:
    robots(site, "User-agent: *\nDisallow: /\n\nUser-agent: TestReader\nDisallow: /secret\n")
    site.serve("/a", "<p>a</p>")
    async with robots_fetcher() as f:
        assert await get(f, site.url("/a")) == "<p>a</p>"
        with pytest.raises(RobotsDisallowed):
            await get(f, site.url("/secret"))
    assert {s.headers["User-Agent"] for s in site.seen} == {UA}
    other = RobotsPolicy("guarantees-bot/0.1 (news reader)")
    async with robots_fetcher(other) as f:
        with pytest.raises(RobotsDisallowed):
            await get(f, site.url("/a"))


async def test_missing_robots_allows_everything(site: LocalSite) -> None:
    site.serve("/a", "<p>a</p>")  # /robots.txt answers 404
    async with robots_fetcher() as f:
        assert await get(f, site.url("/a")) == "<p>a</p>"
    assert site.paths() == ["/robots.txt", "/a"]


async def test_server_error_disallows_for_a_while_then_asks_again(site: LocalSite) -> None:
    status = {"code": 503}

    async def flaky(request: web.Request) -> web.Response:
        if status["code"] != 200:
            return web.Response(status=status["code"], text="down")
        return web.Response(text="User-agent: *\nAllow: /\n", content_type="text/plain")

    site.routes["/robots.txt"] = flaky
    site.serve("/a", "<p>a</p>")
    clock = Clock()
    policy = RobotsPolicy(UA, clock=clock, error_ttl=600)
    async with robots_fetcher(policy) as f:
        with pytest.raises(RobotsDisallowed, match="unavailable") as refused:
            await get(f, site.url("/a"))
        assert refused.value.temporary
        status["code"] = 200
        clock.now += 300  # still within the error period: not asked again
        with pytest.raises(RobotsDisallowed):
            await get(f, site.url("/a"))
        clock.now += 301
        assert await get(f, site.url("/a")) == "<p>a</p>"
    assert site.paths() == ["/robots.txt", "/robots.txt", "/a"]


async def test_rules_are_cached_per_host_until_the_ttl(site: LocalSite) -> None:
    robots(site, "User-agent: *\nAllow: /\n")
    site.serve("/a", "<p>a</p>")
    clock = Clock()
    async with robots_fetcher(RobotsPolicy(UA, clock=clock, ttl=3600)) as f:
        await get(f, site.url("/a"))
        robots(site, "User-agent: *\nDisallow: /\n")
        clock.now += 3000
        await get(f, site.url("/a"))  # the cached rules still allow it
        clock.now += 601
        with pytest.raises(RobotsDisallowed):
            await get(f, site.url("/a"))
    assert site.paths().count("/robots.txt") == 2


async def test_concurrent_fetches_of_one_host_read_robots_once(site: LocalSite) -> None:
    async def slow_robots(request: web.Request) -> web.Response:
        await asyncio.sleep(0.2)
        return web.Response(text="User-agent: *\nDisallow: /x\n", content_type="text/plain")

    site.routes["/robots.txt"] = slow_robots
    for n in range(8):
        site.serve(f"/p{n}", f"<p>{n}</p>")
    async with robots_fetcher() as f:
        pages = await asyncio.gather(*(get(f, site.url(f"/p{n}")) for n in range(8)))
    assert pages == [f"<p>{n}</p>" for n in range(8)]
    assert site.paths().count("/robots.txt") == 1


async def test_a_redirect_into_a_disallowed_path_is_not_followed(site: LocalSite) -> None:
    robots(site, "User-agent: *\nDisallow: /private\n")
    site.redirect("/go", "/private/page")
    site.serve("/private/page", "<p>closed</p>")
    async with robots_fetcher() as f:
        with pytest.raises(RobotsDisallowed):
            await get(f, site.url("/go"))
        # asked for explicitly: fetched anyway
        assert await get(f, site.url("/go"), obey_robots=False) == "<p>closed</p>"
    assert site.paths().count("/private/page") == 1


async def test_robots_of_a_refused_host_is_never_fetched(site: LocalSite) -> None:
    site.serve("/p", "<p>hi</p>")
    localhost = site.url("/p").replace("127.0.0.1", "localhost")
    async with robots_fetcher(allow_loopback=False) as f:
        with pytest.raises(ForbiddenAddress, match="loopback"):
            await get(f, localhost)
    assert site.seen == []


# --- feeds and explicit ingest ------------------------------------------------------------


@pytest.fixture
async def services(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> AsyncIterator[Services]:
    settings = make_settings(
        store_path=str(tmp_path / "store.db"),
        fetch_allow_loopback=True,
        fetch_timeout_seconds=2.0,
        fetch_user_agent=UA,
        admin_user_ids="UADMIN",
    )
    async with open_store(settings.store_path) as store, aiohttp.ClientSession() as http:
        yield Services(settings, store, KeywordExtractor(), http, None)


def with_feeds(services: Services, *feeds: str) -> Services:
    settings = services.settings.model_copy(update={"feeds": feeds})
    return Services(settings, services.store, services.extractor, services.http, None)


def publish(site: LocalSite, name: str, summary: str = "A short teaser.") -> Item:
    site.serve(f"/news/{name}", article_page(f"Talks {name}", story(f"Vienna {name}")))
    return Item(f"Talks {name}", site.url(f"/news/{name}"), f"id-{name}", summary=summary)


async def test_polling_obeys_robots_for_pages_and_uses_the_summary(
    site: LocalSite, services: Services
) -> None:
    robots(site, "User-agent: *\nDisallow: /news/closed\n")
    long_summary = " ".join(story("Bern summit", 3))
    items = [publish(site, "open"), publish(site, "closed"), publish(site, "closed2", long_summary)]
    site.serve("/rss", rss(items), "application/rss+xml")
    report = await asyncio.wait_for(poll_once(with_feeds(services, site.url("/rss"))), BOUND)
    assert not any(p.startswith("/news/closed") for p in site.paths())
    assert len(report.added) == 2  # the open page, and the closed one's long summary
    [problem] = report.problems
    assert "/news/closed" in problem.where and "robots.txt" in problem.reason


async def test_polling_skips_a_disallowed_feed(site: LocalSite, services: Services) -> None:
    robots(site, "User-agent: *\nDisallow: /rss\n")
    site.serve("/rss", rss([publish(site, "a")]), "application/rss+xml")
    report = await asyncio.wait_for(poll_once(with_feeds(services, site.url("/rss"))), BOUND)
    assert report.added == []
    assert "robots.txt" in report.problems[0].reason
    assert "/rss" not in site.paths()


async def test_admin_ingest_overrides_robots_and_says_so_in_slack(
    site: LocalSite, services: Services
) -> None:
    robots(site, "User-agent: *\nDisallow: /\n")
    page = publish(site, "p")
    admin = CommandContext(user_id="UADMIN", channel_id="C1", team_id="T1")
    reply = await asyncio.wait_for(answer(services, f"ingest <{page.link}>", admin), BOUND)
    message = reply.message.to_dict()
    text = json_text(message)
    assert "1 article added" in text
    assert "robots.txt" in text and "disallows /news/p" in text and "admin asked" in text
    assert "/news/p" in site.paths()


async def test_cli_ingest_url_overrides_robots_and_says_so(
    site: LocalSite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    robots(site, "User-agent: *\nDisallow: /news/\n")
    page = publish(site, "cli")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STORE_PATH", str(tmp_path / "cli.db"))
    monkeypatch.setenv("FETCH_ALLOW_LOOPBACK", "true")
    code = await asyncio.to_thread(main, ["ingest", page.link])
    out, err = capsys.readouterr()
    assert code == 0 and "1 article added" in out
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and "robots.txt" in notes[0] and page.link in notes[0]


async def test_ingest_without_robots_restriction_has_no_note(
    site: LocalSite, services: Services
) -> None:
    page = publish(site, "free")
    report = await asyncio.wait_for(ingest_urls(services, [page.link]), BOUND)
    assert len(report.added) == 1 and report.notes == []


def json_text(node: Any) -> str:
    if isinstance(node, dict):
        return "\n".join(json_text(v) for v in node.values())
    if isinstance(node, list):
        return "\n".join(json_text(v) for v in node)
    return node if isinstance(node, str) else ""


# --- the proxy ------------------------------------------------------------------------


@pytest.fixture
async def proxy() -> AsyncIterator[ForwardProxy]:
    async with ForwardProxy() as running:
        yield running


async def test_fetches_go_through_the_proxy_with_targets_checked_first(
    site: LocalSite, proxy: ForwardProxy
) -> None:
    site.serve("/p", "<p>via proxy</p>")
    site.redirect("/inside", "http://inside.test/admin")
    port = int(site.base.rsplit(":", 1)[1])
    proxy.routes["news.test"] = ("127.0.0.1", port)
    dns = FakeDNS(
        {
            "news.test": ["93.184.216.34"],
            "inside.test": ["10.0.0.5"],
            "meta.test": ["169.254.169.254"],
            "mixed.test": ["93.184.216.34", "127.0.0.1"],
        }
    )
    # Loopback is NOT allowed: the proxy on 127.0.0.1 is trusted, targets are not.
    async with SafeFetcher(timeout=2.0, proxy=proxy.url, resolver=dns) as f:
        assert await get(f, "http://news.test/p") == "<p>via proxy</p>"
        for url, why in [
            ("http://inside.test/", "private"),
            ("http://meta.test/latest", "metadata"),
            ("http://mixed.test/", "loopback"),
            ("http://10.1.2.3/", "private"),
            (site.url("/p"), "loopback"),
            ("http://news.test/inside", "private"),  # the redirect's target, before asking
        ]:
            with pytest.raises(ForbiddenAddress, match=why):
                await get(f, url)
    assert proxy.seen == ["http://news.test/p", "http://news.test/inside"]
    assert site.paths() == ["/p", "/inside"]


async def test_robots_through_the_proxy(site: LocalSite, proxy: ForwardProxy) -> None:
    robots(site, "User-agent: *\nDisallow: /no\n")
    site.serve("/yes", "<p>yes</p>")
    port = int(site.base.rsplit(":", 1)[1])
    proxy.routes["news.test"] = ("127.0.0.1", port)
    dns = FakeDNS({"news.test": ["93.184.216.34"]})
    async with robots_fetcher(proxy=proxy.url, resolver=dns, allow_loopback=False) as f:
        assert await get(f, "http://news.test/yes") == "<p>yes</p>"
        with pytest.raises(RobotsDisallowed):
            await get(f, "http://news.test/no")
    assert proxy.seen == ["http://news.test/robots.txt", "http://news.test/yes"]


def test_proxy_and_user_agent_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FETCH_PROXY", "http://user:s3cret@proxy.internal:3128")
    monkeypatch.setenv("FETCH_USER_AGENT", UA)
    settings = load_settings(_env_file=None)
    assert "s3cret" not in repr(settings)
    fetcher = SafeFetcher.from_settings(settings)
    assert fetcher.proxy == "http://user:s3cret@proxy.internal:3128"
    assert fetcher.user_agent == UA
    assert fetcher.robots is not None and fetcher.robots.user_agent == UA
    monkeypatch.setenv("FETCH_PROXY", "socks5://proxy:1080")
    with pytest.raises(SettingsError, match=r"^FETCH_PROXY: "):
        load_settings(_env_file=None)
    monkeypatch.setenv("FETCH_PROXY", "")
    assert load_settings(_env_file=None).fetch_proxy is None
