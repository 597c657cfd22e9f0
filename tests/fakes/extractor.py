"""An extractor that answers with the annotated positions of the bundled gold corpus.

For tests of everything after extraction (store, cards, Slack): fast (no NLP), and the
positions are exactly the annotated ones, so a card's parties and quotes are known in advance.
Articles not in the gold files get no positions.
"""

from __future__ import annotations

import json

from bot.models import Article, Position
from bot.pipeline import demo_corpus_files
from bot.vocabulary import Guarantee, Stance


class GoldExtractor:
    name = "gold"
    version = "1"

    def __init__(self) -> None:
        self._positions: dict[str, list[Position]] = {}
        for path in demo_corpus_files():
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                record = json.loads(line)
                self._positions[record["id"]] = [
                    Position(
                        actor=p["actor"],
                        party=p["party"],
                        stance=Stance(p["stance"]),
                        guarantee=Guarantee(p["guarantee"]),
                        guarantor=p.get("guarantor"),
                        beneficiary=p.get("beneficiary"),
                        evidence=p["evidence"],
                    )
                    for p in record.get("positions", [])
                ]

    def extract(self, article: Article) -> list[Position]:
        return list(self._positions.get(article.id, []))


class GoldExtractorV2(GoldExtractor):
    """The same positions under a newer version: what an extractor upgrade looks like to the
    store. Importable, so worker processes can be sent one."""

    version = "2"
