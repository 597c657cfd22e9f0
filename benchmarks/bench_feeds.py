"""Feed ingest benchmark: a feed of N items and their N pages served by aiohttp on loopback,
polled end to end (fetch feed, parse, fetch pages, trafilatura, store, extract, cluster),
beside extraction alone on the very same article texts, measured in the same run.

    python benchmarks/bench_feeds.py [--articles 1000]

Also timed: the same poll with an extractor that finds nothing (the cost of the live-source
path itself) and a second poll of the unchanged feed (everything known: no page fetched).
Articles are built from the sentences of the bundled demo corpus, ten to fourteen per
article, each with its own opening line, spread over ten outlets. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.extraction import Extractor, default_extractor
from bot.feeds import poll_once
from bot.ingest import articles_from_html
from bot.models import Article, Position
from bot.pipeline import IngestReport, demo_corpus_files
from bot.services import Services
from bot.settings import Settings
from bot.store import open_store

OUTLETS = [f"Outlet {name}" for name in "ABCDEFGHIJ"]


def corpus_sentences() -> list[str]:
    sentences: list[str] = []
    for path in demo_corpus_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                text = json.loads(line)["text"]
                sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    return sentences


def build_site(count: int, base: str, first: int = 0) -> tuple[bytes, dict[str, bytes]]:
    """The feed and the pages (numbered from `first`), rendered once up front."""
    pool = corpus_sentences()
    rng = random.Random(2025 + first)
    pages: dict[str, bytes] = {}
    items = []
    start = datetime(2025, 3, 1, tzinfo=UTC)
    for number in range(first, first + count):
        picked = rng.sample(pool, rng.randint(10, 14))
        title = f"Ceasefire talks, report {number}"
        lead = f"Report {number}: diplomats in city {number % 37} met again on day {number}."
        paragraphs = [lead] + [" ".join(picked[i : i + 2]) for i in range(0, len(picked), 2)]
        body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        outlet = OUTLETS[number % len(OUTLETS)]
        pages[f"/a/{number}"] = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{title}</title><meta property='og:site_name' content='{outlet}'>"
            # News pages state their date in metadata; without it trafilatura's date search
            # falls back to dateparser over the text (about 0.1 s a page when it does).
            "<meta property='article:published_time' content='"
            f"{(start + timedelta(minutes=number)).isoformat()}'>"
            "</head><body><nav><a href='/'>Home</a></nav>"
            f"<article><h1>{title}</h1>{body}</article><footer>(c) {outlet}</footer>"
            "</body></html>"
        ).encode()
        published = format_datetime(start + timedelta(minutes=number), usegmt=True)
        items.append(
            f"<item><title>{title}</title><link>{base}/a/{number}</link>"
            f"<guid isPermaLink='false'>bench-{number}</guid><pubDate>{published}</pubDate>"
            f"<description>{html.escape(lead)}</description></item>"
        )
    feed = (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Bench</title><link>{base}/</link><description>bench</description>"
        f"{''.join(items)}</channel></rss>"
    ).encode()
    return feed, pages


class NothingExtractor:
    """Finds nothing: isolates the cost of fetching, reading, storing and clustering."""

    name = "nothing"
    version = "1"

    def extract(self, article: Article) -> list[Position]:
        return []


async def timed_poll(
    settings: Settings, extractor: Extractor, path: Path
) -> tuple[float, IngestReport, float, list[Article]]:
    async with open_store(str(path)) as store, aiohttp.ClientSession() as http:
        services = Services(settings, store, extractor, http, None)
        started = time.perf_counter()
        report = await poll_once(services)
        first = time.perf_counter() - started
        started = time.perf_counter()
        again = await poll_once(services)
        second = time.perf_counter() - started
        assert not again.added, "a second poll must add nothing"
        articles = [a for k in report.added if (a := await store.get_article(k))]
    return first, report, second, articles


async def main(count: int) -> None:
    app = web.Application()
    feed_holder: dict[str, bytes] = {}

    async def serve(request: web.Request) -> web.Response:
        if request.path == "/feed.xml":
            return web.Response(body=feed_holder["feed"], content_type="application/rss+xml")
        page = feed_holder.get(request.path)
        if page is None:
            return web.Response(status=404)
        return web.Response(body=page, content_type="text/html", charset="utf-8")

    app.router.add_get("/{tail:.*}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}"
    feed, pages = build_site(count, base)
    feed_holder.update(pages)
    feed_holder["feed"] = feed

    # Warm both sides first on other pages of the same kind, so the timings below do not
    # include one-time costs: imports, the spaCy pipeline, and dateparser (inside
    # trafilatura's date search) compiling its locale tables the first time a page has a
    # date-like phrase it cannot place (about 2 s of CPU, once per process).
    started = time.perf_counter()
    extractor = default_extractor()
    extractor.extract(Article(id="warm", title="warm", text="Kyiv seeks security guarantees."))
    _, warm_pages = build_site(min(count, 200), base, first=count)
    for path, page in warm_pages.items():
        articles_from_html(page.decode(), "warm-up", f"{base}{path}")
    warm_up = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            store_path=str(Path(folder) / "e2e.db"),
            feeds=(f"{base}/feed.xml",),
            fetch_allow_loopback=True,
        )
        e2e, report, repoll, articles = await timed_poll(
            settings, extractor, Path(folder) / "e2e.db"
        )
        bare, bare_report, _, _ = await timed_poll(
            settings, NothingExtractor(), Path(folder) / "bare.db"
        )
    await runner.cleanup()

    started = time.perf_counter()
    found = sum(len(extractor.extract(article)) for article in articles)
    alone = time.perf_counter() - started

    added = len(report.added)
    print(
        f"feed of {count} items + {count} pages on loopback; extractor {extractor.name} "
        f"{extractor.version}"
    )
    print(f"{'':44}{'seconds':>10}{'articles/s':>12}{'positions':>11}")
    rows = [
        ("extraction alone (same texts, baseline)", alone, len(articles), found),
        ("end to end: poll -> fetch -> store -> extract", e2e, added, report.positions),
        ("feed path only (extractor finds nothing)", bare, len(bare_report.added), 0),
    ]
    for label, seconds, n, positions in rows:
        print(f"{label:44}{seconds:10.2f}{n / seconds:12.1f}{positions:11d}")
    print(f"{'second poll, nothing new (no page fetched)':44}{repoll:10.2f}")
    print(f"{'one-time warm-up before timing (not counted)':44}{warm_up:10.2f}")
    print(f"problems: {len(report.problems)}; end to end / extraction alone: {e2e / alone:.2f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.articles))
