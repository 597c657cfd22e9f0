"""Corrections per workspace on a large store: the card query for a team without corrections
and for a team with some, beside the shared card and a plain indexed count, in one run.

    python benchmarks/bench_team_corrections.py [--positions 1000000] [--runs 20]
        [--corrections 50]

Reuses (or creates) the synthetic store of `bench_store.py` (`benchmarks/out/`). A team
("TBENCH") makes `--corrections` corrections, half on the freshest position of a cell of the
'ukraine' card (so the card must find each cell's next freshest), half on positions spread
over the store, cycling through the three kinds; they are undone at the end, so the store is
left as it was. Times:
- a plain indexed count (the baseline every benchmark of this repository prints);
- `build_briefing('ukraine')` and `build_briefing('hungary')` on the shared corpus (what a
  single workspace without corrections, and every store before issue 10, runs);
- the same for a team without corrections (`overlay_team` then the card: the shared path);
- the same for the team with corrections (the overlay added at read time);
- the evidence list of one guarantee, shared and for the team;
- one correction and its undo by the team (overlay rows only: no summary trigger runs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import print_timings, timed
from benchmarks.synthetic import synthetic_store
from bot.briefing import build_briefing, build_evidence
from bot.store import open_store
from bot.store.corrections import CorrectionKind
from bot.topics import load_topic_index
from bot.vocabulary import Guarantee, Stance

OUT = Path(__file__).resolve().parent / "out"
TEAM = "TBENCH"
KINDS = [CorrectionKind.STANCE, CorrectionKind.PARTY, CorrectionKind.NOT_POSITION]


async def measure(path: str, runs: int, corrections: int) -> None:
    async with open_store(path) as store:
        index = await load_topic_index(store)
        ukraine = index.resolve(["ukraine"])
        hungary = index.resolve(["hungary"])

        async def indexed_count() -> None:
            sql = "SELECT count(*) FROM positions WHERE guarantee = 'nato_membership'"
            async with store.db.execute(sql) as cursor:
                await cursor.fetchone()

        # Each card is read as the bot builds one: right after a write (a card is cached per
        # store version, so a new version is the only time its query runs).
        async def shared_card(topic_words: str) -> None:
            store._commits += 1
            await build_briefing(store, ukraine if topic_words == "ukraine" else hungary)

        async def card(topic_words: str, team: str) -> None:
            store._commits += 1
            topic = ukraine if topic_words == "ukraine" else hungary
            await build_briefing(store, topic.for_team(await store.overlay_team(team)))

        async def evidence(team: str) -> None:
            store._commits += 1
            topic = ukraine.for_team(await store.overlay_team(team))
            await build_evidence(store, topic, Guarantee.PEACEKEEPING_FORCE)

        # The team's corrections: freshest positions of the card's cells, then spread ones.
        cells = await store.cells(ukraine.filter)
        cells.sort(key=lambda c: (c.latest_published, c.latest_position_id), reverse=True)
        wanted = [c.latest_position_id for c in cells[: corrections // 2]]
        step = max(1, await store.count_positions() // corrections)
        async with store.db.execute(
            f"SELECT id FROM positions WHERE id % {step} = 11 ORDER BY id"
        ) as cursor:
            wanted += [int(r[0]) async for r in cursor][: corrections - len(wanted)]
        made: list[int] = []
        for n, pid in enumerate(wanted):
            [position] = await store.positions_by_ids([pid], team=TEAM)
            kind = KINDS[n % 3]
            result = await store.correct_position(
                pid, kind, user_id="UBENCH", team=TEAM,
                new_stance=Stance.DOUBTS if position.stance is not Stance.DOUBTS
                else Stance.BACKS,
                new_party="hun" if position.party != "hun" else "pol",
            )
            made.append(result.correction.id)
        seen = await store.positions(hungary.for_team(TEAM).filter, limit=100)
        spare = next(p.id for p in seen if p.id > 0)  # a shared position the team still sees

        async def correct_and_undo() -> None:
            result = await store.correct_position(
                spare, CorrectionKind.NOT_POSITION, user_id="UBENCH", team=TEAM
            )
            await store.undo_correction_by_id(result.correction.id, user_id="UBENCH", team=TEAM)

        try:
            rows = [
                ("plain indexed count (baseline)", await timed(runs, indexed_count)),
                ("card 'ukraine', shared corpus",
                 await timed(runs, lambda: shared_card("ukraine"))),
                ("card 'ukraine', team without corrections",
                 await timed(runs, lambda: card("ukraine", "TNONE"))),
                (f"card 'ukraine', team with {len(made)} corrections",
                 await timed(runs, lambda: card("ukraine", TEAM))),
                ("card 'hungary', shared corpus",
                 await timed(runs, lambda: shared_card("hungary"))),
                ("card 'hungary', team without corrections",
                 await timed(runs, lambda: card("hungary", "TNONE"))),
                (f"card 'hungary', team with {len(made)} corrections",
                 await timed(runs, lambda: card("hungary", TEAM))),
                ("evidence 'ukraine' peacekeepers, no corrections",
                 await timed(runs, lambda: evidence("TNONE"))),
                (f"evidence 'ukraine' peacekeepers, {len(made)} corrections",
                 await timed(runs, lambda: evidence(TEAM))),
                ("a team's correction + undo", await timed(runs, correct_and_undo, warm_up=1)),
            ]
        finally:
            for correction_id in made:
                await store.undo_correction_by_id(correction_id, user_id="UBENCH", team=TEAM)
    print_timings(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--corrections", type=int, default=50)
    args = parser.parse_args()
    started = time.perf_counter()
    path = synthetic_store(OUT, args.positions)
    print(f"store: {args.positions:,} synthetic positions ({os.path.getsize(path) / 1e6:.0f} MB)")
    asyncio.run(measure(path, args.runs, args.corrections))
    print(f"whole run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
