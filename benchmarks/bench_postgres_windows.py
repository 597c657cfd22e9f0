"""Windowed reads at N positions on PostgreSQL beside SQLite, in the same run.

    python benchmarks/bench_postgres_windows.py [--positions 1000000] [--runs 30]
        [--postgres postgresql://postgres@127.0.0.1:5432/test] [--keep | --reuse NAME]

The stores are those of `bench_postgres_store.py`: the synthetic SQLite store of
`bench_store.py` (filled once, reused) and the same rows copied into a PostgreSQL database
made for this run (triggers off, summaries built in SQL; dropped afterwards unless --keep;
`--reuse NAME` measures a database an earlier `--keep` left). The synthetic positions are
published evenly over 2024-01-01 .. 2025-12-30; "today" here is Sunday 2025-12-28, so "this
week" is a whole week of data and `since 2025-01-01` about half the positions.

Each question is parsed as `/guarantees` parses it (`parse_command`, the store's topic
index), then answered through what `bot.commands.dispatch` calls, without the card cache:

- `ukraine since 2025-01-01` (about half the positions): `build_briefing` with the window
  (`window_cells`, per-actor cells when few, `window_stats`, evidence);
- `what changed this week`: `find_changes` with the window (positions of the week, the latest
  before it per key, contests);
- `compare usa russia since 2025-01-01`: `build_comparison` with the window.

Both backends must give the same answer (checked). Then, alternating backend by backend, a
plain indexed count (baseline) and each question, `--runs` times each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_postgres_store import OUT, copy_into_postgres, database_url
from benchmarks.common import percentile, timed
from benchmarks.synthetic import synthetic_store
from bot.briefing import build_briefing
from bot.compare import build_comparison
from bot.digest_content import find_changes
from bot.models import PositionFilter
from bot.query import BriefingRequest, ChangesRequest, CompareRequest, parse_command
from bot.store import Store, open_store
from bot.topics import load_topic_index

NOW = datetime(2025, 12, 28, 12, tzinfo=UTC)  # a Sunday: "this week" is a whole week of data
QUESTIONS = {
    "card: ukraine since 2025-01-01": "ukraine since 2025-01-01",
    "what changed this week": "what changed this week",
    "compare usa russia since 2025-01-01": "compare usa russia since 2025-01-01",
}
COUNT_SQL = "SELECT count(*) FROM positions WHERE guarantee = 'nato_membership'"


async def answer(store: Store, request: object) -> object:
    """What `dispatch` reads from the store for the request (no cache, no rendering)."""
    if isinstance(request, BriefingRequest):
        return await build_briefing(store, request.topic, request.window)
    if isinstance(request, ChangesRequest):
        return await find_changes(store, request.topic.filter, window=request.window)
    if isinstance(request, CompareRequest):
        return await build_comparison(store, request)
    raise AssertionError(f"not a windowed question: {request!r}")


async def requests(store: Store) -> dict[str, object]:
    index = await load_topic_index(store)
    return {label: parse_command(text, index, now=NOW) for label, text in QUESTIONS.items()}


async def digest(store: Store, request: object) -> object:
    """What must be equal across the backends. A windowed card's (or comparison's) cells are
    compared without their freshest position: among positions published the same day SQLite's
    bare columns beside max() name any one of them, PostgreSQL the highest id (so the evidence
    quoted may differ on a tie; counts and dates may not)."""
    if isinstance(request, BriefingRequest | CompareRequest):
        assert request.window is not None
        if isinstance(request, BriefingRequest):
            filter_ = request.topic.filter
        else:
            filter_ = PositionFilter(held_by=frozenset(request.parties))
        cells = await store.window_cells(filter_, request.window)
        stats = await store.window_stats(filter_, request.window, cells)
        return stats, sorted(
            (c.guarantee, c.stance, c.party, c.positions, c.actors, c.latest_published)
            for c in cells
        )
    return repr(await answer(store, request))


async def measure(sqlite_path: str, url: str, runs: int, positions: int) -> None:
    results: dict[str, list[float]] = {}
    async with open_store(sqlite_path) as lite, open_store(url) as pg:
        assert await lite.count_positions() == await pg.count_positions() == positions
        asked = {"SQLite": await requests(lite), "PostgreSQL": await requests(pg)}
        assert asked["SQLite"] == asked["PostgreSQL"], "the two backends parse differently"
        for label, request in asked["SQLite"].items():
            window = getattr(request, "window", None)
            inside = (await lite.window_stats(PositionFilter(), window)).positions
            print(f"{label}: {type(request).__name__}, {window}, {inside:,} positions inside")
            same = await digest(lite, request) == await digest(pg, request)
            assert same, f"the backends disagree: {label}"
        for round_ in range(2):  # alternate, so neither backend gets the quieter minute
            for name, store in (("SQLite", lite), ("PostgreSQL", pg)):

                async def count(store: Store = store) -> None:
                    async with store.db.execute(COUNT_SQL) as cursor:
                        await cursor.fetchone()

                warm_up = 3 if round_ == 0 else 0
                results.setdefault(f"{name}: indexed count (baseline)", []).extend(
                    await timed(runs // 2, count, warm_up=warm_up)
                )
                for label, request in asked[name].items():
                    results.setdefault(f"{name}: {label}", []).extend(
                        await timed(
                            runs // 2, lambda s=store, r=request: answer(s, r), warm_up=warm_up
                        )
                    )
                print(f"  round {round_ + 1}, {name} done", flush=True)
    print(f"{'query':56s} {'p50 ms':>8s} {'p99 ms':>8s} {'mean ms':>8s} {'runs':>5s}")
    for label, samples in sorted(results.items()):
        print(f"{label:56s} {percentile(samples, 0.5):8.2f} {percentile(samples, 0.99):8.2f}"
              f" {statistics.fmean(samples):8.2f} {len(samples):5d}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--reuse", metavar="NAME", help="a database an earlier --keep left")
    args = parser.parse_args()

    sqlite_path = synthetic_store(OUT, args.positions)
    name = args.reuse or f"bench_store_{args.positions}_{os.getpid()}"
    url = database_url(args.postgres, name)

    async def run() -> None:
        admin = await asyncpg.connect(args.postgres)
        try:
            if not args.reuse:
                await admin.execute(f'CREATE DATABASE "{name}"')
                seconds = await copy_into_postgres(sqlite_path, url, bulk=True)
                print(f"PostgreSQL {name}: {args.positions:,} positions copied, summaries"
                      f" built in SQL in {seconds:.1f} s", flush=True)
            await measure(sqlite_path, url, args.runs, args.positions)
        finally:
            if not args.keep and not args.reuse:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()

    asyncio.run(run())


if __name__ == "__main__":
    main()
