"""Files -> store -> positions, with a small keyword extractor standing in for the rules, so
these tests are about the pipeline's bookkeeping, not about extraction quality."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from bot.extraction import Extractor
from bot.models import Article, Position, PositionFilter
from bot.pipeline import demo_corpus_files, ensure_demo_corpus, ingest_paths
from bot.reextract import catch_up
from bot.store import open_store
from bot.vocabulary import Guarantee, Stance


@dataclass
class TroopsExtractor:
    """Every sentence naming troops becomes a UK position backing a peacekeeping force."""

    version: str = "1"
    name: str = "troops"
    calls: int = 0

    def extract(self, article: Article) -> list[Position]:
        self.calls += 1
        return [
            Position("keir-starmer", "gbr", Stance.BACKS, Guarantee.PEACEKEEPING_FORCE,
                     "gbr", "ukr", sentence.strip() + ".")
            for sentence in re.split(r"[.\n]", article.text)
            if "troops" in sentence
        ]


def write_articles(folder: Path) -> None:
    (folder / "one.txt").write_text(
        "UK offers soldiers\nStarmer said Britain would send troops. Talks go on.", "utf-8"
    )
    (folder / "two.txt").write_text(
        "No news today\nLeaders met in Paris and talked about the weather at length.", "utf-8"
    )
    (folder / "broken.jsonl").write_text('{"id": 1\n', "utf-8")


async def test_ingest_is_idempotent(tmp_path: Path) -> None:
    write_articles(tmp_path)
    extractor = TroopsExtractor()
    assert isinstance(extractor, Extractor)
    async with open_store(str(tmp_path / "s.db")) as store:
        first = await ingest_paths(store, extractor, [tmp_path])
        assert (len(first.added), first.positions, len(first.problems)) == (2, 1, 1)
        assert first.summary() == "2 articles added, 1 position found, 1 skipped"
        again = await ingest_paths(store, extractor, [tmp_path])
        assert (len(again.added), len(again.duplicates), again.positions) == (0, 2, 0)
        assert extractor.calls == 2
        assert await store.count_positions() == 1


async def test_new_extractor_version_re_extracts_stored_articles(tmp_path: Path) -> None:
    write_articles(tmp_path)
    async with open_store(str(tmp_path / "s.db")) as store:
        await ingest_paths(store, TroopsExtractor(version="1"), [tmp_path])
        newer = TroopsExtractor(version="2")
        # Ingesting or opening never re-extracts what is stored: that is the background job's.
        report = await ingest_paths(store, newer, [tmp_path])
        assert report.added == [] and report.positions == 0 and newer.calls == 0
        assert await ensure_demo_corpus(store, newer) is None and newer.calls == 0
        progress = await catch_up(store, newer, workers=0)
        assert (progress.done, progress.positions, progress.pending) == (2, 1, 0)
        assert newer.calls == 2  # both stored articles, once each
        [position] = await store.positions(PositionFilter())
        assert position.evidence == "Starmer said Britain would send troops."


async def test_demo_corpus_fills_an_empty_store_once(tmp_path: Path) -> None:
    files = demo_corpus_files()
    assert [f.name for f in files] == ["dev_gold.jsonl", "seed_gold.jsonl"]
    expected = sum(1 for f in files for line in f.read_text("utf-8").splitlines() if line)
    extractor = TroopsExtractor()
    async with open_store(str(tmp_path / "s.db")) as store:
        report = await ensure_demo_corpus(store, extractor)
        assert report is not None and len(report.added) == expected
        assert await ensure_demo_corpus(store, extractor) is None
        ids = {json.loads(line)["id"] for f in files for line in f.read_text("utf-8").splitlines()}
        assert {a.id for a in await store.articles_to_extract("other", "1")} == ids
