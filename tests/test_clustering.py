"""Story clusters: MinHash estimates, clusters across outlets, "reported by N outlets"."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clustering import (
    CLUSTER_THRESHOLD,
    cluster_article,
    cluster_pending,
    fingerprint,
    jaccard,
    shingle_hashes,
)
from bot.models import Article, PositionFilter
from bot.pipeline import ingest_articles
from bot.store import Store, open_store
from tests.fixtures.feeds.localsite import KeywordExtractor

CORE = [
    "European leaders meeting in London on Sunday agreed to draw up a plan for a ceasefire"
    " in Ukraine and to present it to Washington, Prime Minister Keir Starmer said.",
    "Starmer said Britain was prepared to back a deal with boots on the ground and planes in"
    " the air, as part of a coalition of the willing that would help guarantee any peace.",
    "Ukrainian President Volodymyr Zelensky said Kyiv still needs security guarantees from"
    " the United States before it could accept a ceasefire with Russia.",
    "French President Emmanuel Macron proposed a one-month truce in the air, at sea and on"
    " energy infrastructure, which would not cover fighting on the ground.",
    "Polish Prime Minister Donald Tusk said Europe must spend more on defence, arguing that"
    " five hundred million Europeans should not be begging three hundred million Americans"
    " to defend them from one hundred forty million Russians.",
]


def outlet_version(outlet: str) -> str:
    """The same wire story as another outlet runs it: its own opening and closing lines."""
    return "\n".join(
        [f"{outlet} staff report from the London summit.", *CORE, f"Copyright {outlet}."]
    )


OTHER_STORY = (
    "The International Atomic Energy Agency said on Monday that external power to the"
    " Zaporizhzhia nuclear plant had been cut again after shelling damaged a line, and that"
    " the reactors were relying on diesel generators while repairs were attempted by staff"
    " working under difficult conditions near the front."
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def store(tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    async with open_store(str(tmp_path / "store.db"), clock=clock) as opened:
        yield opened


def article(key: str, outlet: str, text: str) -> Article:
    return Article(
        id=key, title=text.splitlines()[0], text=text, outlet=outlet, url=f"https://{outlet}/{key}"
    )


async def add(store: Store, *articles: Article) -> None:
    report = await ingest_articles(store, KeywordExtractor(), list(articles))
    assert len(report.added) == len(articles)
    for one in articles:
        await cluster_article(store, one.id, one.text)


def test_minhash_estimates_jaccard() -> None:
    a = outlet_version("bbc.co.uk")
    b = outlet_version("reuters.com")
    exact = jaccard(set(shingle_hashes(a).tolist()), set(shingle_hashes(b).tolist()))
    fa, fb, fc = fingerprint(a), fingerprint(b), fingerprint(OTHER_STORY)
    assert fa is not None and fb is not None and fc is not None
    assert fa.similarity(fa) == 1.0
    assert abs(fa.similarity(fb) - exact) < 0.2
    assert fa.similarity(fb) >= CLUSTER_THRESHOLD
    assert fa.similarity(fc) < 0.2
    assert fingerprint("") is None
    # Signatures survive the store's bytes and are stable across processes (fixed seeds).
    assert type(fa).from_bytes(fa.to_bytes()).similarity(fa) == 1.0
    assert len(fa.bands) == 16 and fa.bands == fingerprint(a).bands  # type: ignore[union-attr]


def test_long_texts_are_signed_in_bounded_blocks() -> None:
    words = " ".join(f"word{i}" for i in range(30_000))
    signed = fingerprint(words)
    assert signed is not None and signed.signature.shape == (64,)


async def test_same_story_from_three_outlets_is_one_cluster(store: Store) -> None:
    await add(
        store,
        article("bbc", "bbc.co.uk", outlet_version("BBC")),
        article("reuters", "reuters.com", outlet_version("Reuters")),
        article("iaea", "reuters.com", OTHER_STORY + " Ukraine wants security guarantees."),
        article("guardian", "theguardian.com", outlet_version("Guardian")),
    )
    assert await store.cluster_of("bbc") == ["bbc", "reuters", "guardian"]
    assert await store.cluster_of("iaea") == ["iaea"]
    positions = await store.positions(PositionFilter())
    outlets = {p.article_id: p.outlets for p in positions}
    assert outlets == {"bbc": 3, "reuters": 3, "guardian": 3, "iaea": 1}


def paragraphs(count: int) -> list[str]:
    """Distinct paragraphs of 40 words each, no 5-gram shared between two of them."""
    rng = random.Random(7)
    return [" ".join(f"w{rng.randrange(10**6)}" for _ in range(40)) for _ in range(count)]


async def test_two_clusters_bridged_by_a_new_article_merge(store: Store) -> None:
    p = paragraphs(6)
    left, right = p[:4], p[2:]  # Jaccard about 2/6 between them: two stories
    await add(
        store,
        article("x1", "x.com", "\n".join(left)),
        article("x2", "xx.com", "\n".join(["Intro by xx.", *left])),
        article("y1", "y.com", "\n".join(right)),
        article("y2", "yy.com", "\n".join([*right, "Closing by yy."])),
    )
    assert await store.cluster_of("x1") == ["x1", "x2"]
    assert await store.cluster_of("y1") == ["y1", "y2"]
    await add(store, article("z", "z.com", "\n".join(p)))  # about 4/6 like each
    assert await store.cluster_of("z") == ["x1", "x2", "y1", "y2", "z"]
    assert await store.cluster_of("y2") == ["x1", "x2", "y1", "y2", "z"]


async def test_old_articles_are_not_compared(store: Store, clock: Clock) -> None:
    await add(store, article("old", "bbc.co.uk", outlet_version("BBC")))
    clock.now += timedelta(days=45)
    await add(store, article("new", "reuters.com", outlet_version("Reuters")))
    assert await store.cluster_of("new") == ["new"]


async def test_articles_from_any_source_are_clustered_at_ingest(store: Store) -> None:
    """The pipeline clusters after every batch, so files and the demo corpus are grouped too."""
    report = await ingest_articles(
        store,
        KeywordExtractor(),
        [article("f1", "a.com", outlet_version("A")), article("f2", "b.com", outlet_version("B"))],
    )
    assert len(report.added) == 2
    assert await store.cluster_of("f1") == ["f1", "f2"]
    assert await cluster_pending(store) == 0
