"""Words per second of RuleExtractor.extract on one core, beside plain spaCy tokenisation.

Run: .venv/bin/python benchmarks/bench_extraction.py [--min-words 100000] [--profile]
The corpus texts (seed + dev gold) are repeated until there are at least --min-words words;
both measurements use the same texts in the same run.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path

import spacy

from bot.evaluate import read_gold
from bot.extraction.rules import RuleExtractor
from bot.models import Article

CORPUS = Path(__file__).resolve().parents[1] / "bot" / "corpus"


def corpus_articles(min_words: int) -> tuple[list[Article], int]:
    records = [r for f in sorted(CORPUS.glob("*.jsonl")) for r in read_gold(f)]
    articles: list[Article] = []
    words = 0
    round_ = 0
    while words < min_words:
        for r in records:
            # A distinct id per copy; the text is the same, so the work is the same.
            articles.append(Article(id=f"{r['id']}-{round_}", title=r["title"], text=r["text"]))
            words += len(r["text"].split())
        round_ += 1
    return articles, words


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--min-words", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="print the top functions")
    args = parser.parse_args()
    articles, words = corpus_articles(args.min_words)
    texts = [a.text for a in articles]

    nlp = spacy.blank("en")
    start = time.perf_counter()
    tokens = sum(len(doc) for doc in nlp.pipe(texts))
    tok_seconds = time.perf_counter() - start

    extractor = RuleExtractor()
    extractor.extract(articles[0])  # build the pipeline outside the timing
    profiler = cProfile.Profile() if args.profile else None
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    positions = sum(len(extractor.extract(a)) for a in articles)
    if profiler:
        profiler.disable()
    ext_seconds = time.perf_counter() - start

    tok_rate = words / tok_seconds
    ext_rate = words / ext_seconds
    print(f"texts {len(texts)}, words {words}, tokens {tokens}, positions {positions}")
    print(f"spacy.blank('en') tokeniser : {tok_rate:12,.0f} words/s")
    print(f"RuleExtractor.extract       : {ext_rate:12,.0f} words/s")
    print(f"ratio extraction/tokeniser  : {ext_rate / tok_rate:.3f} (target >= 0.2)")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
