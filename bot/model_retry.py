"""The queue of articles waiting for the model, worked through in the background by `serve`.

An article lands in the queue when the rules stood in for the model (budget spent, endpoint
down, an answer cut off or not JSON). Each due article is extracted again through the usual
path; a usable answer replaces the rules' positions and leaves the queue, another failure
queues it again later (up to a cap, see `bot.extraction.llm.extractor`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from bot.extraction import Extractor
from bot.pipeline import extract_article
from bot.services import Services
from bot.store import Store

log = logging.getLogger(__name__)

POLL_SECONDS = 60.0
BATCH = 20


async def retry_due(store: Store, extractor: Extractor, now: datetime, limit: int = BATCH
                    ) -> int:
    """Extract the queued articles due by `now`; returns how many were tried."""
    due = await store.queued_for_model(due_by=now, limit=limit)
    for item in due:
        await extract_article(store, extractor, item.article)
    if due:
        left = len(await store.queued_for_model(limit=10_000))
        log.info("model queue: retried %d article(s), %d waiting", len(due), left)
    return len(due)


async def run_model_retries(services: Services, poll: float = POLL_SECONDS) -> None:
    """Forever: retry what is due, then wait. Supervised by `serve` (restarted on a crash)."""
    while True:
        await retry_due(services.store, services.extractor, services.clock())
        await asyncio.sleep(poll)
