"""Shared pieces of the model-tier tests: the bundled corpus as articles, a responder that
answers like the annotators, and an LLMExtractor wired to a fake endpoint and a real store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from bot.extraction.llm.client import ChatClient
from bot.extraction.llm.extractor import LLMExtractor
from bot.extraction.rules import RuleExtractor
from bot.ingest import IngestProblem, article_from_record
from bot.models import Article
from bot.pipeline import demo_corpus_files
from bot.store import Store
from tests.fakes.llm import FakeModel, Reply, positions_json


def corpus_records() -> list[dict[str, Any]]:
    return [json.loads(line) for path in demo_corpus_files()
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def corpus_articles() -> list[Article]:
    out = []
    for n, record in enumerate(corpus_records()):
        article = article_from_record(record, f"gold:{n}")
        assert not isinstance(article, IngestProblem)
        out.append(article)
    return out


def gold_responder() -> Any:
    """Answers each article of the bundled corpus with its annotated positions."""
    answers = {r["text"]: r["positions"] for r in corpus_records()}

    def respond(text: str, body: dict[str, Any]) -> Reply:
        return Reply(positions_json(*answers.get(text, [])), usage=(1000, 150))

    return respond


class Clock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def model_extractor(
    fake: FakeModel, store: Store, rules: RuleExtractor, **options: Any
) -> AsyncIterator[LLMExtractor]:
    client_options = {"max_attempts": 2, "backoff": 0.01, "backoff_cap": 0.02,
                      "timeout": 5.0, "max_concurrency": 4}
    for name in list(options):
        if name in ("max_attempts", "backoff", "timeout", "max_concurrency", "down_for"):
            client_options[name] = options.pop(name)
    client = ChatClient(fake.base_url, "fake-model", SecretStr("sk-test"), **client_options)
    try:
        yield LLMExtractor(client, store, rules=rules, **options)
    finally:
        await client.close()
