"""Position extraction: the `Extractor` protocol and the default offline extractor (the rules
proposing candidates, a trained linear model deciding: `bot.extraction.learned`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.models import Article, Position


@runtime_checkable
class Extractor(Protocol):
    """Anything that turns an article into positions. `name` and `version` are stored with
    each position, so a newer version re-extracts and a second extractor sits beside it."""

    name: str
    version: str

    def extract(self, article: Article) -> list[Position]: ...


def default_extractor() -> Extractor:
    """The offline, deterministic extractor: the rules (spaCy, no downloaded model) and the
    committed linear model trained on the annotated corpus (`make train`)."""
    from bot.extraction.learned.extractor import CombinedExtractor

    return CombinedExtractor()


@dataclass(frozen=True)
class Extraction:
    """What an asynchronous extractor made of one article. `version` is the version to store:
    the extractor's own, or a fallback's when another extractor stood in (the rules, while
    the model was out of budget or down), so that a later run replaces it."""

    positions: list[Position]
    version: str
    complete: bool = True  # False: a fallback stood in and the article waits for a retry
    reason: str | None = None  # why it is not complete: "budget", "endpoint down (...)", ...


@runtime_checkable
class AsyncExtractor(Protocol):
    """An extractor that waits on I/O (a model endpoint): the pipeline awaits it on the event
    loop instead of running it in a worker thread."""

    name: str
    version: str

    async def extract_async(self, article: Article) -> Extraction: ...
