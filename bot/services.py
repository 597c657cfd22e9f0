"""Everything a listener or background task needs, opened and closed in one place.

Handlers receive `Services` through bolt's context (key `services`); the command line builds
one too. Nothing here is global: tests build their own with a temporary store and a fake Slack.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.extraction import Extractor
from bot.extraction.choice import open_extractor
from bot.reextract import ReextractProgress
from bot.settings import Settings
from bot.store import Store, open_store

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class InFlight:
    """The listener work Slack requests started (a card being built or posted), so that
    shutdown lets it finish before the store and the HTTP session close."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()

    @contextmanager
    def track(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            yield
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> int:
        """Wait up to `timeout` seconds for tracked work; returns how many did not finish."""
        pending = {task for task in self._tasks if not task.done()}
        if pending:
            _, pending = await asyncio.wait(pending, timeout=timeout)
        return len(pending)


@dataclass
class Services:
    settings: Settings
    store: Store
    extractor: Extractor
    http: aiohttp.ClientSession
    slack: AsyncWebClient | None
    clock: Clock = utc_now
    in_flight: InFlight = field(default_factory=InFlight)
    reextract: ReextractProgress = field(default_factory=ReextractProgress)


def build_slack_client(
    settings: Settings, session: aiohttp.ClientSession | None = None, *, max_retries: int = 3
) -> AsyncWebClient:
    """Our own Web API client: `SLACK_API_URL` reaches every call; 429, 5xx and connection
    errors are retried (429 after `Retry-After`)."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        session=session,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=max_retries),
            AsyncServerErrorRetryHandler(max_retry_count=max_retries),
            AsyncConnectionErrorRetryHandler(max_retry_count=max_retries),
        ],
    )


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    extractor: Extractor | None = None,
    clock: Clock = utc_now,
    with_slack: bool = True,
    load_demo_corpus: bool = True,
) -> AsyncIterator[Services]:
    """Open the store (filled from the demo corpus when empty), the HTTP session and the
    Slack client; close them all on the way out, whatever happens.

    Articles extracted by another extractor version are not re-extracted here: that is the
    background job of `serve` (`bot.reextract`), so opening takes the same time after an
    extractor upgrade as before it."""
    from bot.pipeline import ensure_demo_corpus

    async with open_store(settings.store_location, clock=clock) as store, _extractor(
        settings, store, extractor
    ) as chosen:
        if load_demo_corpus:
            await ensure_demo_corpus(store, chosen)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=30)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            slack = build_slack_client(settings) if with_slack else None
            try:
                yield Services(settings, store, chosen, http, slack, clock)
            finally:
                if slack is not None and slack.session is not None:
                    await slack.session.close()


@asynccontextmanager
async def _extractor(
    settings: Settings, store: Store, given: Extractor | None
) -> AsyncIterator[Extractor]:
    """The extractor given (tests), else the one EXTRACTOR names, opened with the store."""
    if given is not None:
        yield given
        return
    async with open_extractor(settings, store) as chosen:
        yield chosen
