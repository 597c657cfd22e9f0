"""Analysts' views on a large store: the matrix picture and the export of a topic, beside the
card query and a plain indexed count, all measured in one run on the same store.

    python benchmarks/bench_analysts.py [--positions 1000000] [--runs 20]

Reuses (or creates) the synthetic store of `bench_store.py` (`benchmarks/out/`). Times:
- a plain indexed count (the baseline every benchmark of this repository prints);
- `build_briefing('ukraine')`, the card query, and `answer('ukraine')` right after a write;
- `build_matrix` (the store part), `render_matrix_png` (matplotlib, Agg) and both together;
- the CSV and JSONL export of a topic: 'ukraine' (every synthetic position names Ukraine as
  beneficiary, so all of them) and 'hungary' (the positions one party is involved in);
- `history usa` (the window query over one party's positions);
- one correction and its undo (the single workspace's overlay rows; issue 10).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import print_timings, timed
from benchmarks.synthetic import synthetic_store
from bot.briefing import build_briefing
from bot.cards.matrix import render_matrix_png
from bot.commands import answer
from bot.export import write_export
from bot.history import build_history
from bot.matrix import build_matrix
from bot.models import PositionFilter
from bot.replies import CommandContext
from bot.services import Services
from bot.settings import Settings
from bot.store import open_store
from bot.store.corrections import CorrectionKind
from bot.topics import load_topic_index
from bot.vocabulary import Stance

OUT = Path(__file__).resolve().parent / "out"


class Counter(io.TextIOBase):
    """A sink that counts characters: the export's cost without the disk's."""

    def __init__(self) -> None:
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


async def measure(path: str, runs: int) -> None:
    async with open_store(path) as store:
        settings = Settings(_env_file=None, store_path=path)  # type: ignore[call-arg]
        services = Services(settings, store, None, None, None)  # type: ignore[arg-type]
        ctx = CommandContext(user_id="U1", channel_id="C1")
        index = await load_topic_index(store)
        ukraine = index.resolve(["ukraine"])
        hungary = index.resolve(["hungary"])
        usa = index.resolve(["usa"])

        async def indexed_count() -> None:
            sql = "SELECT count(*) FROM positions WHERE guarantee = 'nato_membership'"
            async with store.db.execute(sql) as cursor:
                await cursor.fetchone()

        async def card_cold() -> None:
            store._commits += 1
            await answer(services, "ukraine", ctx)

        matrix = await build_matrix(store, ukraine)

        async def render() -> None:
            render_matrix_png(matrix)

        async def matrix_whole() -> None:
            render_matrix_png(await build_matrix(store, ukraine))

        sizes: dict[str, tuple[int, int]] = {}

        def export(topic_filter: PositionFilter, fmt: str, label: str):  # type: ignore[no-untyped-def]
            async def run() -> None:
                sink = Counter()
                count = await write_export(store, topic_filter, sink, fmt)
                sizes[label] = (count, sink.chars)

            return run

        pid = (await store.positions(PositionFilter(parties=("hun",)), limit=1))[0].id

        async def correct_and_undo() -> None:
            nonlocal pid
            stored = (await store.positions_by_ids([pid]))[0]
            new = Stance.BACKS if stored.stance is not Stance.BACKS else Stance.OPPOSES
            result = await store.correct_position(
                pid, CorrectionKind.STANCE, user_id="UBENCH", new_stance=new
            )
            corrected = await store.corrected_positions(result.correction.id)
            await store.undo_correction(corrected[0], user_id="UBENCH")
            pid = stored.id  # the withheld row comes back with its own id

        few = max(3, runs // 5)
        rows = [
            ("plain indexed count (baseline)", await timed(runs, indexed_count)),
            ("build_briefing 'ukraine' (card query)",
             await timed(runs, lambda: build_briefing(store, ukraine))),
            ("answer('ukraine'), store just changed", await timed(runs, card_cold)),
            ("build_matrix 'ukraine' (store part)",
             await timed(runs, lambda: build_matrix(store, ukraine))),
            ("render_matrix_png (matplotlib Agg)", await timed(few, render, warm_up=1)),
            ("matrix 'ukraine' in all", await timed(few, matrix_whole, warm_up=1)),
            ("history usa", await timed(few, lambda: build_history(store, usa), warm_up=1)),
            ("correction + undo (triggers)", await timed(runs, correct_and_undo, warm_up=1)),
            ("export 'hungary' csv",
             await timed(3, export(hungary.filter, "csv", "hungary csv"), warm_up=0)),
            ("export 'ukraine' csv",
             await timed(1, export(ukraine.filter, "csv", "ukraine csv"), warm_up=0)),
            ("export 'ukraine' jsonl",
             await timed(1, export(ukraine.filter, "jsonl", "ukraine jsonl"), warm_up=0)),
        ]
        png = render_matrix_png(matrix)
    print_timings(rows, width=40)
    for label, (count, chars) in sizes.items():
        print(f"export {label}: {count:,} rows, {chars / 1e6:.1f} M characters")
    print(
        f"matrix: {len(matrix.parties)} parties x {len(matrix.guarantees)} guarantees,"
        f" {len(matrix.contested)} contested, PNG {len(png) / 1e3:.0f} kB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    path = synthetic_store(OUT, args.positions)
    print(f"store: {args.positions:,} synthetic positions ({os.path.getsize(path) / 1e6:.0f} MB)")
    asyncio.run(measure(path, args.runs))
    print(f"whole run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
