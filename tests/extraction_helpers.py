"""What the extraction tests share: run the extractor on a short text, and read the result."""

from __future__ import annotations

from bot.extraction import Extractor
from bot.models import Article, Position


def run(extractor: Extractor, text: str, title: str = "") -> list[Position]:
    return extractor.extract(Article(id="t", title=title, text=text))


def keys(positions: list[Position]) -> set[tuple[str, str, str]]:
    """(party, stance, guarantee) of each position: what the spec's matching compares."""
    return {(p.party, p.stance.value, p.guarantee.value) for p in positions}


def keys_of(extractor: Extractor, text: str) -> set[tuple[str, str, str]]:
    return keys(run(extractor, text))


def find(positions: list[Position], party: str, guarantee: str) -> Position:
    matches = [p for p in positions if p.party == party and p.guarantee.value == guarantee]
    assert matches, positions
    return matches[0]
