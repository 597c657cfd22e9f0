"""`EXTRACTOR=hybrid`: the rules and the model on every article, their positions merged and
each marked with who found it (`found_by`: rules, llm or both), so a card can show where they
agree. When the model cannot answer, the rules' positions stand alone and the article is
queued for the model, as with `llm`."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from bot.extraction import Extraction
from bot.extraction.llm.extractor import LLMExtractor, from_thread
from bot.models import Article, Position


def merge(rules: list[Position], model: list[Position]) -> list[Position]:
    """One position per (party, stance, guarantee). Where both found it, the rules' actor,
    guarantor and sentence are kept (deterministic, and scored on the gold sets), without the
    offline model's confidence: the language model confirmed it, so "unsure" no longer applies."""
    merged: dict[tuple[str, str, str], Position] = {}
    for position in rules:
        merged.setdefault(position.key, replace(position, found_by="rules"))
    for position in model:
        if position.key in merged:
            merged[position.key] = replace(merged[position.key], found_by="both",
                                           confidence=None)
        else:
            merged[position.key] = replace(position, found_by="llm")
    return list(merged.values())


class HybridExtractor:
    name = "hybrid"

    def __init__(self, llm: LLMExtractor) -> None:
        self.llm = llm
        self.rules = llm.rules
        self.version = f"rules-{self.rules.version}+{llm.version}"
        self.fallback_version = f"{self.version}/rules-only"

    def extract(self, article: Article) -> list[Position]:
        """From a worker thread while the extractor's loop runs; see LLMExtractor.extract."""
        return from_thread(self.llm._loop, self.extract_async, article).positions

    async def extract_async(self, article: Article) -> Extraction:
        self.llm._loop = asyncio.get_running_loop()
        rules, model = await asyncio.gather(
            self.llm.rule_positions(article), self.llm.model_positions(article))
        if model.positions is None:
            version = self.version if model.final else self.fallback_version
            return Extraction(merge(rules, []), version, complete=False, reason=model.reason)
        return Extraction(merge(rules, model.positions), self.version)
