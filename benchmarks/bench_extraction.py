"""Words per second of the default extractor (rules + learned stage) and of the rules alone,
on one core, beside plain spaCy tokenisation of the same texts, in one run.

Run: .venv/bin/python benchmarks/bench_extraction.py [--min-words 100000] [--profile]
It measures the core as this process runs it: compiled after `make native`, from the sources
with BOT_NATIVE=0 (`bot.native`); the first line it prints says which.
The corpus texts (seed + dev gold) are repeated until there are at least --min-words words;
both measurements use the same texts in the same run.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time
from pathlib import Path

import spacy

from bot.evaluate import read_gold
from bot.extraction import default_extractor
from bot.extraction.rules import RuleExtractor
from bot.models import Article
from bot.native import status as native_status

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
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds")
    args = parser.parse_args()
    articles, words = corpus_articles(args.min_words)
    texts = [a.text for a in articles]

    nlp = spacy.blank("en")
    rules = RuleExtractor()
    rules.extract(articles[0])  # build the pipelines outside the timing
    extractor = default_extractor()
    extractor.extract(articles[0])
    profiler = cProfile.Profile() if args.profile else None

    # Interleaved rounds timed in CPU seconds of this process, medians reported: the machine
    # is shared, and a single wall-clock pass moves by 10-20 % with other jobs' load.
    tok_times: list[float] = []
    rule_times: list[float] = []
    ext_times: list[float] = []
    tokens = rule_positions = positions = 0
    for _ in range(args.rounds):
        start = time.process_time()
        tokens = sum(len(doc) for doc in nlp.pipe(texts))
        tok_times.append(time.process_time() - start)
        start = time.process_time()
        rule_positions = sum(len(rules.extract(a)) for a in articles)
        rule_times.append(time.process_time() - start)
        if profiler:
            profiler.enable()
        start = time.process_time()
        positions = sum(len(extractor.extract(a)) for a in articles)
        ext_times.append(time.process_time() - start)
        if profiler:
            profiler.disable()
    tok_seconds = statistics.median(tok_times)
    rule_seconds = statistics.median(rule_times)
    ext_seconds = statistics.median(ext_times)

    tok_rate = words / tok_seconds
    ext_rate = words / ext_seconds
    rule_rate = words / rule_seconds
    print(f"extraction core: {native_status()} (BOT_NATIVE=0 runs the sources)")
    print(f"texts {len(texts)}, words {words}, tokens {tokens}, "
          f"positions {positions} (rules alone {rule_positions}); "
          f"median of {args.rounds} interleaved rounds, CPU seconds")
    print(f"spacy.blank('en') tokeniser : {tok_rate:12,.0f} words/s")
    print(f"rules alone                 : {rule_rate:12,.0f} words/s "
          f"({rule_rate / tok_rate:.3f} of tokenising)")
    print(f"default ({extractor.name} {extractor.version}) : {ext_rate:12,.0f} words/s")
    print(f"ratio extraction/tokeniser  : {ext_rate / tok_rate:.3f} (target >= 0.2)")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
