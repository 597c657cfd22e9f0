"""Live sources: RSS/Atom feeds and article URLs (issue 5). Placeholder until that work lands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.pipeline import IngestReport
    from bot.services import Services


async def ingest_urls(services: Services, urls: Sequence[str]) -> IngestReport:
    """Fetch each URL (an article page or a feed) safely and ingest what it holds."""
    raise NotImplementedError("fetching URLs is not built yet")


async def poll_feeds(services: Services) -> None:
    """Poll `FEEDS` every `FEED_POLL_MINUTES` until cancelled."""
    raise NotImplementedError("feed polling is not built yet")
