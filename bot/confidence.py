"""How sure the extractor is of a position, in bands an analyst reads and adjusts.

The combined extractor gives each position it keeps the chance, by its model, that at least
one of the position's candidate sentences carries it (`Position.confidence`);
`bot/data/confidence.toml` says below which value a card marks a position as one the
extractor is unsure of, and which bands `python -m bot eval` measures precision in. A
position without a confidence (another extractor, stored before, or checked by an analyst)
is never marked.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

from bot.models import StoredPosition


@dataclass(frozen=True)
class ConfidenceBands:
    """`unsure_below`: the bar under which a position is marked unsure. `edges`: the lower
    edges of the bands eval reports, ascending, starting at 0 and including the bar."""

    unsure_below: float
    edges: tuple[float, ...]

    def unsure(self, confidence: float | None) -> bool:
        return confidence is not None and confidence < self.unsure_below

    def band(self, confidence: float) -> int:
        """The index of the band a confidence falls in (its lower edge included)."""
        return max(i for i, edge in enumerate(self.edges) if confidence >= edge or i == 0)

    def label(self, index: int) -> str:
        """`0.50–0.80`; the last band ends at 1.00."""
        upper = self.edges[index + 1] if index + 1 < len(self.edges) else 1.0
        return f"{self.edges[index]:.2f}–{upper:.2f}"


def parse_bands(text: str) -> ConfidenceBands:
    """The bands of a confidence.toml; ValueError when they make no sense."""
    data = tomllib.loads(text)
    bar = data.get("unsure_below")
    edges = data.get("bands", [])
    if isinstance(bar, bool) or not isinstance(bar, int | float) or not 0.0 <= bar <= 1.0:
        raise ValueError("unsure_below must be a number from 0 to 1")
    if not isinstance(edges, list) or not all(
        isinstance(e, int | float) and not isinstance(e, bool) and 0.0 <= e < 1.0 for e in edges
    ):
        raise ValueError("bands must be a list of numbers from 0 up to (not including) 1")
    cut = {0.0, float(bar)} if bar < 1.0 else {0.0}
    return ConfidenceBands(float(bar), tuple(sorted(cut | {float(e) for e in edges})))


def marked_unsure(position: StoredPosition) -> bool:
    """Whether cards mark the position "extractor unsure": a confidence under the bar, and
    never a position an analyst checked."""
    return not position.corrected_by and load_bands().unsure(position.confidence)


@cache
def load_bands() -> ConfidenceBands:
    """The bands of `bot/data/confidence.toml`, read once per process."""
    text = resources.files("bot.data").joinpath("confidence.toml").read_text(encoding="utf-8")
    return parse_bands(text)
