"""The card query alone, for comparing two checkouts on one store: run it from each (its
`bot` is the checkout it sits in, or `--root`), e.g. main before issue 10's per-workspace
corrections, on the store `bench_team_corrections.py` uses.

    python benchmarks/bench_card_only.py benchmarks/out/store-1000000.db [--runs 20]
        [--root /path/to/other/checkout]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any


async def measure(path: str, runs: int) -> None:
    from benchmarks.common import print_timings, timed
    from bot.briefing import build_briefing, build_evidence
    from bot.store import open_store
    from bot.topics import load_topic_index
    from bot.vocabulary import Guarantee

    async with open_store(path) as store:
        index = await load_topic_index(store)
        ukraine, hungary = index.resolve(["ukraine"]), index.resolve(["hungary"])

        async def indexed_count() -> None:
            sql = "SELECT count(*) FROM positions WHERE guarantee = 'nato_membership'"
            async with store.db.execute(sql) as cursor:
                await cursor.fetchone()

        async def after_write(build: Any, *args: Any) -> None:
            store._commits += 1  # as the bot builds a card: right after a write
            await build(store, *args)

        rows = [
            ("plain indexed count (baseline)", await timed(runs, indexed_count)),
            ("card 'ukraine'", await timed(runs, lambda: after_write(build_briefing, ukraine))),
            ("card 'hungary'", await timed(runs, lambda: after_write(build_briefing, hungary))),
            ("evidence 'ukraine' peacekeepers", await timed(
                runs, lambda: after_write(build_evidence, ukraine, Guarantee.PEACEKEEPING_FORCE)
            )),
        ]
    print_timings(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("store")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    args = parser.parse_args()
    sys.path.insert(0, args.root)
    asyncio.run(measure(args.store, args.runs))


if __name__ == "__main__":
    main()
