"""Briefing benchmark: what one `/guarantees TOPIC` costs on a large store, beside a plain
indexed count measured in the same run.

    python benchmarks/bench_briefing.py [--positions 1000000] [--runs 100] [--text ukraine]

Reuses (or creates) the synthetic store of `bench_store.py`. Times, separately: loading the
topic index (vocabulary + the store's actors and parties), `build_briefing`, rendering the
card (`briefing_message`), and the whole `answer()` as Slack and `ask` call it, both right
after a write to the store (nothing cached: index, parse and card rebuilt) and with the card
cached (the store unchanged since the last identical command). Also prints
the size of the resulting card against Slack's limits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import percentile, timed
from benchmarks.synthetic import synthetic_store
from bot.briefing import build_briefing
from bot.cards.briefing import briefing_message
from bot.cards.common import block_text_length
from bot.commands import answer
from bot.replies import CommandContext
from bot.services import Services
from bot.settings import Settings
from bot.store import open_store
from bot.topics import load_topic_index

OUT = Path(__file__).resolve().parent / "out"






async def measure(path: str, text: str, runs: int) -> None:
    async with open_store(path) as store:
        settings = Settings(_env_file=None, store_path=path)  # type: ignore[call-arg]
        services = Services(settings, store, None, None, None)  # type: ignore[arg-type]
        ctx = CommandContext(user_id="U1", channel_id="C1")

        async def indexed_count() -> None:
            sql = "SELECT count(*) FROM positions WHERE guarantee = 'nato_membership'"
            async with store.db.execute(sql) as cursor:
                await cursor.fetchone()

        index = await load_topic_index(store)
        topic = index.resolve(text.split())
        briefing = await build_briefing(store, topic)

        async def render() -> None:
            briefing_message(briefing)

        async def whole() -> None:
            await answer(services, text, ctx)

        async def whole_cold() -> None:
            # A write between commands (as feed polling makes) invalidates every cached view.
            store._commits += 1
            await answer(services, text, ctx)

        rows = [
            ("plain indexed count (baseline)", await timed(runs, indexed_count)),
            ("load_topic_index (cached)", await timed(runs, lambda: load_topic_index(store))),
            (f"build_briefing '{text}'", await timed(runs, lambda: build_briefing(store, topic))),
            ("briefing_message (render only)", await timed(runs, render)),
            (f"answer('{text}'), store just changed", await timed(runs, whole_cold)),
            (f"answer('{text}'), card cached", await timed(runs, whole)),
        ]
        reply = await answer(services, text, ctx)
    payload = reply.message.to_dict()
    print(f"{'step':36s} {'p50 ms':>8s} {'p99 ms':>8s} {'mean ms':>8s}")
    for label, samples in rows:
        print(
            f"{label:36s} {percentile(samples, 0.5):8.2f} {percentile(samples, 0.99):8.2f}"
            f" {statistics.fmean(samples):8.2f}"
        )
    print(
        f"card: {len(payload['blocks'])} blocks (max 50), {block_text_length(payload['blocks'])}"
        f" chars of block text (max ~12000), {briefing.positions:,} positions,"
        f" {sum(len(line.holders) for g in briefing.guarantees for line in g.stances)} holders"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--text", default="ukraine")
    args = parser.parse_args()
    path = synthetic_store(OUT, args.positions)
    print(f"store: {args.positions:,} synthetic positions ({os.path.getsize(path) / 1e6:.0f} MB)")
    asyncio.run(measure(path, args.text, args.runs))


if __name__ == "__main__":
    main()
