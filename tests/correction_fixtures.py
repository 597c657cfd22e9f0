"""One article with two extracted positions, shared by the tests of analysts' corrections."""

from __future__ import annotations

from datetime import date

from bot.models import Article, Position
from bot.vocabulary import Guarantee, Stance

SENTENCE = "Hungary's prime minister said Budapest would back peacekeepers."
ARTICLE = Article(
    id="a-1", title="Budapest on peacekeepers", text=f"Leaders met.\n{SENTENCE}\nTalks go on.",
    url="https://news.example/a-1", outlet="news.example", published=date(2026, 1, 7),
)
EXTRACTED = Position(
    "viktor-orban", "hun", Stance.BACKS, Guarantee.PEACEKEEPING_FORCE, None, "ukr", SENTENCE
)
OTHER = Position(
    "viktor-orban", "hun", Stance.DOUBTS, Guarantee.NATO_MEMBERSHIP, None, "ukr", SENTENCE
)
