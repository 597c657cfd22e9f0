"""The model-endpoint extractor: cache, budget, one request, grounding; the rules stand in
whenever the model cannot answer, and the article is queued for the model.

Every path ends in positions: the model's (grounded), or the rules' with the article queued
(budget spent, endpoint down, refused, an answer cut off or not JSON). No article is lost and
no position is taken that its sentence does not carry.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from bot.extraction import Extraction
from bot.extraction.learned.extractor import CombinedExtractor
from bot.extraction.llm import prompt
from bot.extraction.llm.client import (
    ChatClient,
    Completion,
    EndpointError,
    estimate_tokens,
)
from bot.extraction.llm.grounding import (
    AnswerError,
    Grounder,
    GroundingReport,
    parse_answer,
)
from bot.extraction.rules import RuleExtractor
from bot.models import Article, Position
from bot.store import Store

log = logging.getLogger(__name__)

GROUNDING_VERSION = "1"
# An article whose answers keep coming back cut off or unusable keeps the rules' positions for
# good after this many tries. Budget and endpoint failures are not the article's: those are
# retried until they pass, at most RETRY_MAX apart.
MAX_QUEUE_ATTEMPTS = 5
ARTICLE_FAILURES = ("truncated", "unusable answer")
RETRY_BASE = timedelta(minutes=5)
RETRY_MAX = timedelta(hours=6)

Clock = Callable[[], datetime]


def text_key(text: str) -> str:
    """Cache key of an article's text: exactly the text the model reads."""
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass
class LLMStats:
    """Counts over this extractor's life, for `eval` and the benchmark."""

    articles: int = 0
    cached: int = 0
    requests: int = 0  # answers received from the endpoint
    fallbacks: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_estimated: int = 0  # answers whose server reported no usage
    grounding: GroundingReport = field(default_factory=GroundingReport)

    def fell_back(self, reason: str) -> None:
        key = reason.split(" (")[0]
        self.fallbacks[key] = self.fallbacks.get(key, 0) + 1


@dataclass(frozen=True)
class ModelResult:
    positions: list[Position] | None  # None: no usable answer, see `reason`
    reason: str | None = None
    # The model gave up on this article: the rules' positions are stored under the model's
    # own version, so no later run asks again (until the prompt or the model changes).
    final: bool = False


class TokenBudget:
    """Tokens per UTC day, counted in the store (so a restart keeps the count). A request
    reserves its worst case (prompt estimate + the longest answer allowed) before it goes,
    so requests in flight together never overrun the budget."""

    def __init__(self, store: Store, daily: int | None, clock: Clock) -> None:
        self.store = store
        self.daily = daily
        self.clock = clock
        self._reserved = 0
        self._lock = asyncio.Lock()

    async def reserve(self, tokens: int) -> bool:
        if self.daily is None:
            return True
        async with self._lock:
            used = (await self.store.tokens_on(self.clock().date())).total
            if used + self._reserved + tokens > self.daily:
                return False
            self._reserved += tokens
            return True

    def release(self, tokens: int) -> None:
        if self.daily is not None:
            self._reserved -= tokens


def from_thread(
    loop: asyncio.AbstractEventLoop | None,
    work: Callable[[Article], Coroutine[Any, Any, Extraction]],
    article: Article,
) -> Extraction:
    """Run `work(article)` on the extractor's event loop from a worker thread and wait."""
    if loop is None or not loop.is_running():
        raise RuntimeError("a model extractor's extract() needs its running event loop; "
                           "await extract_async instead")
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        raise RuntimeError("extract() would block the event loop it waits on; await "
                           "extract_async instead")
    return asyncio.run_coroutine_threadsafe(work(article), loop).result()


class LLMExtractor:
    """`EXTRACTOR=llm`: the model's grounded positions, the rules as fallback."""

    name = "llm"

    def __init__(
        self,
        client: ChatClient,
        store: Store,
        *,
        rules: RuleExtractor | CombinedExtractor | None = None,
        daily_budget: int | None = None,
        queue_fallbacks: bool = True,
        clock: Clock | None = None,
    ) -> None:
        self.client = client
        self.store = store
        # the offline extractor stands in for the model (and lends it its sentence splitter)
        self.rules = rules or CombinedExtractor()
        self.grounder = Grounder(self.rules.nlp)
        self.clock: Clock = clock or store.clock
        self.budget = TokenBudget(store, daily_budget, self.clock)
        self.queue_fallbacks = queue_fallbacks
        self.version = f"p{prompt.PROMPT_VERSION}.g{GROUNDING_VERSION}:{client.model}"
        self.fallback_version = f"{self.version}/rules-{self.rules.version}"
        self.stats = LLMStats()
        # spaCy work (rules, sentence splitting) runs in worker threads, one at a time.
        self._cpu = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- the Extractor protocol ----------------------------------------------------------

    def extract(self, article: Article) -> list[Position]:
        """For callers in a worker thread while the event loop the extractor serves runs
        (the pipeline awaits `extract_async` instead)."""
        return from_thread(self._loop, self.extract_async, article).positions

    async def extract_async(self, article: Article) -> Extraction:
        self._loop = asyncio.get_running_loop()
        result = await self.model_positions(article)
        if result.positions is not None:
            return Extraction(result.positions, self.version)
        positions = await self.rule_positions(article)
        version = self.version if result.final else self.fallback_version
        return Extraction([replace(p, found_by="rules") for p in positions],
                          version, complete=False, reason=result.reason)

    # -- the steps ------------------------------------------------------------------------

    async def rule_positions(self, article: Article) -> list[Position]:
        return await asyncio.to_thread(self._locked, self.rules.extract, article)

    def _locked(self, work: Callable[[Article], list[Position]], article: Article
                ) -> list[Position]:
        with self._cpu:
            return work(article)

    async def model_positions(self, article: Article) -> ModelResult:
        """The model's grounded positions (cached, budgeted), or None and the reason, after
        queueing the article for a retry."""
        self._loop = asyncio.get_running_loop()
        self.stats.articles += 1
        key = text_key(article.text)
        pv = prompt.PROMPT_VERSION
        model = self.client.model
        cached = await self.store.cached_answer(key, model, pv)
        if cached is not None:
            self.stats.cached += 1
            return ModelResult(await self._grounded(article, json.loads(cached)))
        entry = await self.store.queue_entry(article.id) if self.queue_fallbacks else None
        if entry is not None and entry[1] > self.clock():
            # Queued already: it waits for its turn (the background retry), so a re-run of
            # the pipeline meanwhile costs no request.
            return ModelResult(None, "queued")
        messages = prompt.messages(article.text)
        worst = sum(estimate_tokens(m["content"]) for m in messages) + prompt.MAX_ANSWER_TOKENS
        if not await self.budget.reserve(worst):
            return await self._failed(article, "budget")
        failure: str | None = None
        items: list[object] | None = None
        reason: str | None = None
        try:
            try:
                completion = await self.client.complete(
                    messages, prompt.response_format, prompt.MAX_ANSWER_TOKENS)
            except EndpointError as exc:
                failure = exc.reason
            else:
                items, reason = self._read(completion)
                # Counted in the store before the reservation goes, so that no request
                # waiting for the budget sees neither.
                await self.store.record_llm_call(
                    key, model, pv, day=self.clock().date(),
                    prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens,
                    answer=json.dumps(items, ensure_ascii=False) if items is not None else None,
                )
        finally:
            self.budget.release(worst)
        if failure is not None:
            return await self._failed(article, failure)
        if items is None:
            assert reason is not None
            return await self._failed(article, reason)
        positions = await self._grounded(article, items)
        # the article leaves the model queue once its positions are stored (the pipeline)
        return ModelResult(positions)

    def _read(self, completion: Completion) -> tuple[list[object] | None, str | None]:
        """The answer's items, or None and why it cannot be used."""
        self.stats.requests += 1  # answers received, usable or not
        self.stats.prompt_tokens += completion.prompt_tokens
        self.stats.completion_tokens += completion.completion_tokens
        self.stats.usage_estimated += not completion.usage_reported
        if completion.finish_reason == "length":
            return None, "truncated"
        try:
            return parse_answer(completion.content), None
        except AnswerError as exc:
            return None, f"unusable answer ({exc})"

    async def _grounded(self, article: Article, items: list[object]) -> list[Position]:
        def ground(_: Article) -> list[Position]:
            positions, report = self.grounder.ground(article.id, article.text, items)
            self.stats.grounding.merge(report)
            return positions

        positions = await asyncio.to_thread(self._locked, ground, article)
        return [replace(p, found_by="llm") for p in positions]

    async def _failed(self, article: Article, reason: str) -> ModelResult:
        self.stats.fell_back(reason)
        if not self.queue_fallbacks:
            log.warning("article %s: the rules stand in for the model (%s)", article.id, reason)
            return ModelResult(None, reason)
        entry = await self.store.queue_entry(article.id)
        attempts = entry[0] if entry else 0
        if attempts >= MAX_QUEUE_ATTEMPTS and reason.startswith(ARTICLE_FAILURES):
            await self.store.dequeue_for_model(article.id)
            log.warning("article %s: no usable model answer after %d tries (%s); it keeps the"
                        " rules' positions", article.id, attempts, reason)
            return ModelResult(None, reason, final=True)
        retry_at = self._retry_at(reason, attempts)
        queued = await self.store.queue_for_model(article.id, reason, retry_at)
        log.warning("article %s: the rules stand in for the model (%s)%s", article.id, reason,
                    f"; queued, retry after {retry_at:%Y-%m-%d %H:%M} UTC" if queued else "")
        return ModelResult(None, reason)

    def _retry_at(self, reason: str, attempts: int) -> datetime:
        now = self.clock()
        if reason == "budget":  # the budget is per UTC day: try again after midnight
            tomorrow = now.astimezone(UTC).date() + timedelta(days=1)
            return datetime.combine(tomorrow, time(0, 1), tzinfo=UTC)
        return now + min(RETRY_MAX, RETRY_BASE * 2**attempts)
