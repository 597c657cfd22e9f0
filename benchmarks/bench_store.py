"""Store benchmark: 1,000,000 synthetic positions, bytes per position on disk, and the card
query for one topic at p50/p99, beside a plain indexed count in the same run.

    python benchmarks/bench_store.py [--positions 1000000] [--runs 300] [--topic ukr]

The "card query" is everything the briefing card reads from the store: the folded cells of
the topic, the context-line stats, and the freshest evidence of each guarantee. When the
briefing module is present, `build_briefing` is timed as well (store reads plus assembly).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import percentile, timed
from benchmarks.synthetic import synthetic_store
from bot.models import PositionFilter
from bot.store import Store, open_store

OUT = Path(__file__).resolve().parent / "out"






async def card_query(store: Store, filter_: PositionFilter) -> None:
    cells = await store.cells(filter_)
    await store.stats(filter_)
    freshest: dict[str, tuple[object, int]] = {}
    for cell in cells:
        key = str(cell.guarantee)
        mark = (cell.latest_published or "", cell.latest_position_id)
        if key not in freshest or mark > freshest[key]:  # type: ignore[operator]
            freshest[key] = mark
    await store.positions_by_ids(position_id for _, position_id in freshest.values())


def table_sizes(path: str) -> dict[str, int]:
    """Bytes on disk per table and index (SQLite's dbstat)."""
    with sqlite3.connect(path) as db:
        try:
            rows = db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        except sqlite3.OperationalError:
            return {}
    return {name: int(size) for name, size in rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--topic", default="ukr")
    args = parser.parse_args()

    path = synthetic_store(OUT, args.positions)
    size = os.path.getsize(path)
    print(f"store file: {size / 1e6:.1f} MB, {size / args.positions:.0f} bytes per position")
    sizes = table_sizes(path)
    if sizes:
        groups = {
            "positions + indexes": [n for n in sizes if n.startswith("positions")],
            "evidence sentences": [n for n in sizes if n.startswith("sentences")],
            "articles (compressed text)": [n for n in sizes if n.startswith("articles")],
            "summaries and counts": [
                n for n in sizes if n.startswith(("topic_", "cell_", "guarantee_"))
            ],
            "everything else": [
                n
                for n in sizes
                if not n.startswith(
                    ("positions", "sentences", "articles", "topic_", "cell_", "guarantee_")
                )
            ],
        }
        for label, names in groups.items():
            total = sum(sizes[n] for n in names)
            print(f"  {label:28s} {total / args.positions:6.0f} bytes/position")

    asyncio.run(measure(path, args.topic, args.runs))


async def measure(path: str, topic_code: str, runs: int) -> None:
    topic = PositionFilter(parties=(topic_code,))
    async with open_store(path) as store:
        count_sql = "SELECT count(*) FROM positions WHERE guarantee = 'nato_membership'"

        async def indexed_count() -> None:
            async with store.db.execute(count_sql) as cursor:
                await cursor.fetchone()

        baseline = await timed(runs, indexed_count)
        card = await timed(runs, lambda: card_query(store, topic))
        rows = [
            ("plain indexed count (baseline)", baseline),
            (f"card query, topic {topic_code}", card),
        ]
        try:
            from bot.briefing import build_briefing
            from bot.query import Topic
        except ImportError:
            pass
        else:
            briefing_topic = Topic(words=(topic_code,), label=topic_code, filter=topic)
            rows.append(
                (
                    f"build_briefing, topic {topic_code}",
                    await timed(runs, lambda: build_briefing(store, briefing_topic)),
                )
            )
    print(f"{'query':36s} {'p50 ms':>8s} {'p99 ms':>8s} {'mean ms':>8s}")
    for label, samples in rows:
        print(
            f"{label:36s} {percentile(samples, 0.5):8.2f} {percentile(samples, 0.99):8.2f}"
            f" {statistics.fmean(samples):8.2f}"
        )


if __name__ == "__main__":
    main()
