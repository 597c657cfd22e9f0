"""The model tier: tokens per article of the bundled corpus, and the client's own overhead
against the fake OpenAI-compatible server, beside the rule extractor on the same articles.

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_llm.py [--copies 10]

Tokens are a stated estimate (about four characters a token, `client.estimate_tokens`): no
tokenizer ships offline for the models a team may point it at, and nothing is downloaded at
run time. The completion is estimated on the answer a model agreeing with the annotators would
write (the gold positions as the schema's JSON).

Overhead: the fake server (tests/fakes/llm.py) runs in a separate process and answers at once
with the gold positions, so what is timed is the client's side: building the request, HTTP on
loopback, parsing and validating the answer, grounding it, and writing the cache and token
counts to a real SQLite store. The corpus is copied --copies times with a marker line so that
no copy hits the cache, except in the "cached" row. All rows are measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.extraction.llm import prompt
from bot.extraction.llm.client import ChatClient, estimate_tokens
from bot.extraction.llm.extractor import LLMExtractor
from bot.extraction.rules import RuleExtractor
from bot.models import Article
from bot.store import open_store
from tests.llm_helpers import corpus_articles, corpus_records


def serve_fake(port_queue: Any, stop: Any) -> None:
    """In a child process: the fake model with the annotators' answers, keyed by the
    article's first line (the copies differ only by their last line)."""
    from tests.fakes.llm import FakeModel, Reply, positions_json

    answers = {r["text"].splitlines()[0]: r["positions"] for r in corpus_records()}

    def respond(text: str, body: dict[str, Any]) -> Reply:
        positions = answers.get(text.splitlines()[0], [])
        content = positions_json(*positions)
        prompt_tokens = sum(estimate_tokens(m["content"]) for m in body["messages"])
        return Reply(content, usage=(prompt_tokens, estimate_tokens(content)))

    async def run() -> None:
        async with FakeModel(respond) as fake:
            port_queue.put(fake.base_url)
            while not stop.is_set():
                await asyncio.sleep(0.05)

    asyncio.run(run())


def token_table() -> list[tuple[str, int, int, int]]:
    rows = []
    for record in corpus_records():
        messages = prompt.messages(record["text"])
        prompt_tokens = sum(estimate_tokens(m["content"]) for m in messages)
        answer = json.dumps({"positions": record["positions"]}, ensure_ascii=False)
        rows.append((record["id"], len(record["text"]), prompt_tokens, estimate_tokens(answer)))
    return rows


def copies(articles: list[Article], n: int, tag: str) -> list[Article]:
    return [Article(id=f"{a.id}-{tag}{k}", title=a.title, text=f"{a.text}\n({tag} copy {k})")
            for k in range(n) for a in articles]


async def time_each(items: list[Article], work: Any, concurrency: int = 1) -> float:
    """Wall seconds for all items, `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(article: Article) -> None:
        async with gate:
            await work(article)

    start = time.perf_counter()
    await asyncio.gather(*(one(a) for a in items))
    return time.perf_counter() - start


async def overhead(base_url: str, n: int) -> dict[str, tuple[float, int]]:
    articles = corpus_articles()
    rules = RuleExtractor()
    rules.extract(articles[0])  # build the pipeline outside the timing
    out: dict[str, tuple[float, int]] = {}

    batch = copies(articles, n, "rules")
    start = time.perf_counter()
    for article in batch:
        rules.extract(article)
    out["RuleExtractor.extract (baseline)"] = (time.perf_counter() - start, len(batch))
    answers = {r["text"].splitlines()[0]: r["positions"] for r in corpus_records()}
    from bot.extraction.llm.grounding import Grounder

    grounder = Grounder(rules.nlp)
    grounder.ground("warm", articles[0].text, [])
    batch = copies(articles, n, "ground")
    start = time.perf_counter()
    for article in batch:
        grounder.ground(article.id, article.text, answers[article.text.splitlines()[0]])
    out["of which Grounder.ground alone"] = (time.perf_counter() - start, len(batch))

    with tempfile.TemporaryDirectory() as folder:
        async with open_store(str(Path(folder) / "bench.db")) as store:
            client = ChatClient(base_url, "fake-model", SecretStr("sk-bench"), max_concurrency=4)
            llm = LLMExtractor(client, store, rules=rules)
            try:
                await llm.extract_async(copies(articles, 1, "warm")[0])  # grounding matchers
                batch = copies(articles, n, "http")

                async def request(article: Article) -> None:
                    await client.complete(prompt.messages(article.text), prompt.response_format,
                                          prompt.MAX_ANSWER_TOKENS)

                out["HTTP round trip only (ChatClient.complete)"] = (
                    await time_each(batch, request), len(batch))
                batch = copies(articles, n, "seq")
                out["LLMExtractor.extract_async, one at a time"] = (
                    await time_each(batch, llm.extract_async), len(batch))
                batch = copies(articles, n, "conc")
                out["LLMExtractor.extract_async, 4 at a time"] = (
                    await time_each(batch, llm.extract_async, 4), len(batch))
                batch = copies(articles, n, "seq")  # the same texts again: all cached
                cached_before = llm.stats.cached
                out["LLMExtractor.extract_async, cached"] = (
                    await time_each(batch, llm.extract_async), len(batch))
                assert llm.stats.cached - cached_before == len(batch)
                assert not llm.stats.fallbacks, llm.stats.fallbacks
            finally:
                await client.close()
            kept, offered = llm.stats.grounding.kept, llm.stats.grounding.offered
    out["(grounding kept / offered)"] = (float(kept), offered)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copies", type=int, default=10)
    args = parser.parse_args()

    rows = token_table()
    system = estimate_tokens(prompt.system_prompt())
    print(f"system prompt: {system} tokens (estimate), sent with every article")
    print(f"{'article':<48} {'chars':>6} {'prompt':>7} {'completion':>10}")
    for article_id, chars, prompt_tokens, completion in rows:
        print(f"{article_id[:48]:<48} {chars:6d} {prompt_tokens:7d} {completion:10d}")
    prompts = [r[2] for r in rows]
    completions = [r[3] for r in rows]
    print(f"{'mean':<48} {statistics.mean(r[1] for r in rows):6.0f} "
          f"{statistics.mean(prompts):7.0f} {statistics.mean(completions):10.0f}")
    print(f"{'total (9 articles)':<48} {sum(r[1] for r in rows):6d} {sum(prompts):7d} "
          f"{sum(completions):10d}")

    ctx = multiprocessing.get_context("spawn")
    port_queue, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=serve_fake, args=(port_queue, stop), daemon=True)
    server.start()
    try:
        base_url = port_queue.get(timeout=60)
        results = asyncio.run(overhead(base_url, args.copies))
    finally:
        stop.set()
        server.join(timeout=10)
    print()
    print(f"{'per article, same texts, same run':<46} {'ms/article':>10} {'articles':>9}")
    for label, (seconds, count) in results.items():
        if label.startswith("("):
            print(f"grounding kept {int(seconds)} of {count} positions offered")
            continue
        print(f"{label:<46} {seconds / count * 1000:10.2f} {count:9d}")


if __name__ == "__main__":
    main()
