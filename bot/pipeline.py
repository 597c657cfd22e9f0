"""Articles into the store, then positions out of them: the one path every source takes.

Extraction is CPU-bound (spaCy), so it runs in a worker thread and never blocks the event
loop that answers Slack.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from bot.clustering import cluster_pending
from bot.extraction import AsyncExtractor, Extractor
from bot.ingest import IngestProblem, ReadResult, read_paths
from bot.models import Article
from bot.store import Store

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
ASYNC_CHUNK = 32


@dataclass
class IngestReport:
    """What one batch did: counted for the command line, the Slack answer and the logs."""

    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    problems: list[IngestProblem] = field(default_factory=list)
    positions: int = 0
    # Things the caller should know that are not problems ("robots.txt disallows ...").
    notes: list[str] = field(default_factory=list)

    def merge(self, other: IngestReport) -> None:
        self.notes += other.notes
        self.added += other.added
        self.duplicates += other.duplicates
        self.problems += other.problems
        self.positions += other.positions

    def summary(self) -> str:
        parts = [
            f"{len(self.added)} article{'s' if len(self.added) != 1 else ''} added",
            f"{self.positions} position{'s' if self.positions != 1 else ''} found",
        ]
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} already known")
        if self.problems:
            parts.append(f"{len(self.problems)} skipped")
        return ", ".join(parts)


async def ingest_articles(
    store: Store,
    extractor: Extractor,
    items: Iterable[ReadResult],
    progress: Progress | None = None,
    *,
    cluster: bool = True,
) -> IngestReport:
    """Add each article (deduplicated by the store) and extract the new ones; then cluster
    them with near-copies, unless the caller clusters them itself (`cluster=False`)."""
    report = IngestReport()
    waiting: list[Article] = []
    for item in items:
        if isinstance(item, IngestProblem):
            log.warning("skipped %s", item)
            report.problems.append(item)
        else:
            result = await store.add_article(item)
            if result.added:
                report.added.append(result.key)
                if isinstance(extractor, AsyncExtractor):
                    waiting.append(item)  # a model takes them below, several at once
                else:
                    report.positions += await extract_article(store, extractor, item)
            else:
                report.duplicates.append(result.key)
        if progress:
            progress(1)
    # Requests to a model overlap (the client caps how many are in flight), in chunks.
    for start in range(0, len(waiting), ASYNC_CHUNK):
        chunk = waiting[start:start + ASYNC_CHUNK]
        report.positions += sum(await asyncio.gather(
            *(extract_article(store, extractor, article) for article in chunk)))
    if cluster and report.added:
        # Group the new articles with near-copies from other outlets ("reported by N").
        await cluster_pending(store)
    return report


# Extractors that stand in for each other (EXTRACTOR=rules|llm|hybrid; the offline tier is the
# rules alone or the rules with the learned stage, "combined"): the last to run takes
# over an article's positions, so switching never shows them twice.
INTERCHANGEABLE = ("rules", "combined", "llm", "hybrid")


async def extract_article(store: Store, extractor: Extractor, article: Article) -> int:
    version = extractor.version
    answered = False  # a model's usable answer: the article leaves the model queue
    if isinstance(extractor, AsyncExtractor):  # a model endpoint: awaited, not a thread
        extraction = await extractor.extract_async(article)
        positions, version = extraction.positions, extraction.version
        answered = extraction.complete
    else:
        positions = await asyncio.to_thread(extractor.extract, article)
    replaces = INTERCHANGEABLE if extractor.name in INTERCHANGEABLE else ()
    await store.save_positions(article.id, positions, extractor.name, version,
                               replaces=replaces)
    if answered:
        # After the write, not before: a stop in between leaves the article queued and a
        # retry replaces the same positions, where the other order would lose the retry.
        await store.dequeue_for_model(article.id)
    return len(positions)


async def extract_pending(store: Store, extractor: Extractor) -> int:
    """Extract every stored article this extractor version has not seen; returns positions."""
    found = 0
    pending = await store.articles_to_extract(extractor.name, extractor.version)
    if isinstance(extractor, AsyncExtractor):
        # Articles queued for the model are the background retry's (bot/model_retry.py).
        waiting = await store.queued_article_keys()
        pending = [article for article in pending if article.id not in waiting]
        # Requests to a model overlap (the client caps how many are in flight); in chunks,
        # so a large backlog does not hold every article in memory at once.
        for start in range(0, len(pending), ASYNC_CHUNK):
            chunk = pending[start:start + ASYNC_CHUNK]
            found += sum(await asyncio.gather(
                *(extract_article(store, extractor, article) for article in chunk)))
        return found
    for article in pending:
        found += await extract_article(store, extractor, article)
    return found


async def ingest_paths(
    store: Store, extractor: Extractor, paths: Iterable[Path], progress: Progress | None = None
) -> IngestReport:
    return await ingest_articles(store, extractor, read_paths(paths), progress)


def demo_corpus_files() -> list[Path]:
    """The bundled demo corpus (the annotated seed and dev articles)."""
    folder = resources.files("bot.corpus")
    return sorted(
        Path(str(folder.joinpath(name)))
        for name in ("seed_gold.jsonl", "dev_gold.jsonl")
    )


async def ensure_demo_corpus(store: Store, extractor: Extractor) -> IngestReport | None:
    """Fill an empty store from the demo corpus so a fresh clone has something to show.

    The corpus is a handful of articles, extracted here before anything is served. A store
    that has articles is left as it is: articles from an older extractor version are brought
    up to date in the background by `bot.reextract`, never while the caller waits."""
    if await store.count_articles() > 0:
        return None
    log.info("store is empty: loading the bundled demo corpus")
    return await ingest_paths(store, extractor, demo_corpus_files())
