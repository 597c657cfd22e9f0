"""Bringing stored articles up to the current extractor version, in the background.

A new extractor version must not keep the bot from answering: `serve` opens the store and
answers at once with the positions it has, while this task re-extracts the articles whose
positions came from another version (or that have none), oldest row first:

- a page of `batch_size` articles at a time (keyset pagination over article ids), so memory
  stays bounded whatever the size of the store, and the next page is extracted while the
  current one is being saved;
- each article's positions switched in one transaction (`Store.save_positions`), which also
  records the version in `extractions`: that row is the checkpoint, so a crash or a restart
  resumes with the first article not yet switched and never redoes a finished one;
- extraction (CPU-bound) in worker processes (`REEXTRACT_WORKERS`, default 1), so the event
  loop keeps its core and its GIL for acks; `0` runs it in a thread of the bot's own process;
- progress in the log (every LOG_EVERY_ARTICLES articles or LOG_EVERY_SECONDS seconds) and in
  a `ReextractProgress` that `/healthz` shows.

An article whose extraction raises is logged, counted as failed and left at its old version;
the next run (the periodic re-check, or a restart) tries it again.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import pickle
import time
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.extraction import Extractor
from bot.models import Article, Position

if TYPE_CHECKING:
    from bot.services import Services
    from bot.store import Store

log = logging.getLogger(__name__)

BATCH_SIZE = 32
LOG_EVERY_ARTICLES = 5000
LOG_EVERY_SECONDS = 30.0
# After catching up, look again this often (articles that failed, another process's writes).
RECHECK_SECONDS = 3600.0

# What extracting one article gave: its positions, or the error (as text) that stopped it.
Outcome = list[Position] | str


@dataclass
class ReextractProgress:
    """Where the catch-up stands; shown on `/healthz` and in the log."""

    extractor: str = ""
    version: str = ""
    pending: int | None = None  # None until counted
    done: int = 0
    failed: int = 0
    positions: int = 0
    running: bool = False
    started_at: float = field(default=0.0, repr=False)  # time.monotonic()
    seconds: float = 0.0  # of the current or last run

    def as_dict(self) -> dict[str, object]:
        return {
            "extractor": f"{self.extractor} {self.version}".strip(),
            "running": self.running,
            "pending": self.pending,
            "done": self.done,
            "failed": self.failed,
            "seconds": round(self.seconds, 1),
        }


def extract_all(extractor: Extractor, articles: Sequence[Article]) -> list[Outcome]:
    """Each article's positions, or the error that one article raised (the others go on)."""
    outcomes: list[Outcome] = []
    for article in articles:
        try:
            outcomes.append(extractor.extract(article))
        except Exception as exc:  # one bad article must not stop the catch-up
            outcomes.append(f"{type(exc).__name__}: {exc}")
    return outcomes


# The extractor of a worker process, set once by the pool's initializer.
_worker_extractor: Extractor | None = None


def _init_worker(extractor: Extractor) -> None:
    global _worker_extractor
    _worker_extractor = extractor


def _extract_in_worker(articles: Sequence[Article]) -> list[Outcome]:
    assert _worker_extractor is not None, "worker started without an extractor"
    return extract_all(_worker_extractor, articles)


class _Runner:
    """Hands pages of articles to an executor: worker processes, or one thread."""

    def __init__(self, extractor: Extractor, workers: int) -> None:
        self.extractor = extractor
        self.workers = workers
        self.executor: Executor
        if workers > 0:
            self.executor = ProcessPoolExecutor(
                max_workers=workers,
                # spawn, not fork: the bot's process has threads (aiosqlite) and a running loop
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(extractor,),
            )
        else:
            self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reextract")

    def start(self, articles: Sequence[Article]) -> asyncio.Future[list[Outcome]]:
        loop = asyncio.get_running_loop()
        if self.workers == 0:
            return loop.run_in_executor(self.executor, extract_all, self.extractor, articles)
        # Split the page between the workers; the outcomes come back in article order.
        share = -(-len(articles) // self.workers)
        parts = [
            loop.run_in_executor(self.executor, _extract_in_worker, articles[i : i + share])
            for i in range(0, len(articles), share)
        ]

        async def joined() -> list[Outcome]:
            return [outcome for part in await asyncio.gather(*parts) for outcome in part]

        return asyncio.ensure_future(joined())

    def close(self) -> None:
        # The page being extracted now is abandoned; its articles stay pending (checkpoint).
        self.executor.shutdown(wait=False, cancel_futures=True)


def _workers_for(extractor: Extractor, workers: int) -> int:
    if workers > 0:
        try:
            pickle.dumps(extractor)
        except Exception as exc:
            log.warning(
                "re-extraction runs in a thread: the %s extractor cannot be sent to a worker"
                " process (%s)",
                extractor.name,
                type(exc).__name__,
            )
            return 0
    return workers


class _Reporter:
    """A progress line every `articles` articles or `seconds` seconds, whichever comes first."""

    def __init__(self, progress: ReextractProgress, articles: int, seconds: float) -> None:
        self.progress = progress
        self.every_articles = articles
        self.every_seconds = seconds
        self.last_count = 0
        self.last_at = time.monotonic()

    def tick(self) -> None:
        p = self.progress
        now = time.monotonic()
        p.seconds = now - p.started_at
        handled = p.done + p.failed
        few = handled - self.last_count < self.every_articles
        if few and now - self.last_at < self.every_seconds:
            return
        self.last_count, self.last_at = handled, now
        rate = handled / p.seconds if p.seconds > 0 else 0.0
        left = f", about {p.pending / rate:.0f} s left" if rate > 0 and p.pending else ""
        log.info(
            "re-extraction: %d done, %d pending, %d failed, %d positions (%.0f articles/s%s)",
            p.done,
            p.pending or 0,
            p.failed,
            p.positions,
            rate,
            left,
        )


async def catch_up(
    store: Store,
    extractor: Extractor,
    progress: ReextractProgress | None = None,
    *,
    workers: int = 1,
    batch_size: int | None = None,
    log_every_articles: int = LOG_EVERY_ARTICLES,
    log_every_seconds: float = LOG_EVERY_SECONDS,
) -> ReextractProgress:
    """Re-extract every stored article this extractor version has not seen; safe to cancel
    at any point and to run again (it resumes where the last run stopped)."""
    progress = progress or ReextractProgress()
    batch_size = batch_size or BATCH_SIZE
    name, version = extractor.name, extractor.version
    progress.extractor, progress.version = name, version
    progress.done = progress.failed = progress.positions = 0
    progress.started_at, progress.seconds = time.monotonic(), 0.0
    progress.pending = await store.count_articles_to_extract(name, version)
    if not progress.pending:
        return progress
    workers = _workers_for(extractor, workers)
    log.info(
        "re-extraction: %d articles to bring up to %s %s (%s); answering meanwhile from the"
        " positions the store has",
        progress.pending,
        name,
        version,
        f"{workers} worker process{'es' if workers > 1 else ''}" if workers else "in a thread",
    )
    progress.running = True
    reporter = _Reporter(progress, log_every_articles, log_every_seconds)
    runner = _Runner(extractor, workers)
    job: asyncio.Future[list[Outcome]] | None = None
    try:
        page = await store.articles_to_extract_after(name, version, 0, batch_size)
        job = runner.start([article for _, article in page]) if page else None
        while page and job is not None:
            outcomes = await job
            following = await store.articles_to_extract_after(
                name, version, page[-1][0], batch_size
            )
            job = runner.start([article for _, article in following]) if following else None
            for (_, article), outcome in zip(page, outcomes, strict=True):
                await _switch(store, extractor, article, outcome, progress)
                reporter.tick()
            page = following
    finally:
        if job is not None and not job.done():
            job.cancel()
        runner.close()
        progress.running = False
        progress.seconds = time.monotonic() - progress.started_at
    log.info(
        "re-extraction finished in %.1f s: %d articles, %d positions, %d failed",
        progress.seconds,
        progress.done,
        progress.positions,
        progress.failed,
    )
    return progress


async def _switch(
    store: Store,
    extractor: Extractor,
    article: Article,
    outcome: Outcome,
    progress: ReextractProgress,
) -> None:
    if isinstance(outcome, str):
        log.warning("re-extraction of article %s failed: %s", article.id, outcome)
        progress.failed += 1
    else:
        try:
            await store.save_positions(article.id, outcome, extractor.name, extractor.version)
        except KeyError:
            pass  # deleted meanwhile: nothing to switch
        else:
            progress.done += 1
            progress.positions += len(outcome)
    progress.pending = max(0, (progress.pending or 0) - 1)


async def pending_count(store: Store, extractor: Extractor) -> int:
    """How many stored articles still carry positions from another extractor version."""
    return await store.count_articles_to_extract(extractor.name, extractor.version)


async def run_reextraction(services: Services) -> None:
    """The background job of `serve`: catch up, then look again every RECHECK_SECONDS. A model
    extractor waits on its endpoint, not on a core: its articles go through the pipeline's
    overlapping requests (and its retry queue) instead of worker processes."""
    from bot.extraction import AsyncExtractor
    from bot.pipeline import extract_pending

    while True:
        if isinstance(services.extractor, AsyncExtractor):
            await extract_pending(services.store, services.extractor)
            await asyncio.sleep(RECHECK_SECONDS)
            continue
        await catch_up(
            services.store,
            services.extractor,
            services.reextract,
            workers=services.settings.reextract_workers,
        )
        await asyncio.sleep(RECHECK_SECONDS)
