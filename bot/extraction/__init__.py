"""Position extraction: the `Extractor` protocol and the default, rule-based extractor."""

from __future__ import annotations

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
    """The offline, deterministic, rule-based extractor (spaCy, no downloaded model)."""
    from bot.extraction.rules import RuleExtractor

    return RuleExtractor()
