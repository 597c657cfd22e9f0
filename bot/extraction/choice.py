"""Which extractor runs, from the settings: `EXTRACTOR=rules|llm|hybrid`.

The model extractors need the store (cache, token counts, queue) and an HTTP session, so they
are opened and closed with it; the rules need neither.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.extraction import Extractor, default_extractor
from bot.settings import Settings
from bot.store import Store


@asynccontextmanager
async def open_extractor(
    settings: Settings,
    store: Store,
    kind: str | None = None,
    *,
    queue_fallbacks: bool = True,
) -> AsyncIterator[Extractor]:
    """The extractor named by `kind` (default: EXTRACTOR). `queue_fallbacks=False` for
    articles that are not in the store (eval files): a fallback is then only counted."""
    kind = kind or settings.extractor
    if kind == "rules":
        yield default_extractor()
        return
    from bot.extraction.llm.client import ChatClient
    from bot.extraction.llm.extractor import LLMExtractor
    from bot.extraction.llm.hybrid import HybridExtractor

    if not settings.llm_base_url or not settings.llm_model:
        raise ValueError(f"EXTRACTOR={kind} needs LLM_BASE_URL and LLM_MODEL set")
    client = ChatClient(
        settings.llm_base_url,
        settings.llm_model,
        settings.llm_api_key,
        max_concurrency=settings.llm_max_concurrency,
        timeout=settings.llm_timeout_seconds,
    )
    try:
        llm = LLMExtractor(client, store, daily_budget=settings.llm_daily_token_budget,
                           queue_fallbacks=queue_fallbacks, clock=store.clock)
        yield HybridExtractor(llm) if kind == "hybrid" else llm
    finally:
        await client.close()
