"""`window_cells` on both backends against a brute-force recount of a small random store whose
positions share publication dates, so the freshest position of a cell is often a tie."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from bot.models import Article, DateWindow, Position, PositionFilter, StanceCell
from bot.store import Store, open_store
from bot.vocabulary import Guarantee, Stance

PARTIES = ["ukr", "usa", "gbr", "rus"]
ACTORS = [f"actor-{n}" for n in range(5)]
START = date(2025, 3, 1)
WINDOWS = [
    DateWindow(None, None, "ever"),
    DateWindow(START + timedelta(days=1), None, "since day 1"),
    DateWindow(None, START + timedelta(days=3), "before day 3"),
    DateWindow(START + timedelta(days=1), START + timedelta(days=3), "days 1-2"),
    DateWindow(START + timedelta(days=2), START + timedelta(days=3), "day 2"),
    DateWindow(START + timedelta(days=30), None, "nothing inside"),
]
FILTERS = [
    PositionFilter(),
    PositionFilter(parties=("ukr",)),
    PositionFilter(parties=("usa",), stances=frozenset({Stance.BACKS, Stance.OPPOSES})),
    PositionFilter(held_by=frozenset({"gbr", "rus"})),
    PositionFilter(guarantees=frozenset({Guarantee.NATO_MEMBERSHIP})),
    PositionFilter(actors=frozenset({"actor-1", "actor-3"})),
    PositionFilter(parties=("ukr",), held_by=frozenset({"usa"})),
]


async def _fill(store: Store, rng: random.Random) -> None:
    """Articles on four dates (and one undated), each with a few random positions."""
    for n in range(14):
        published = None if n == 13 else START + timedelta(days=rng.randrange(4))
        await store.add_article(
            Article(id=f"a{n}", title="t", text=f"article {n} text long enough",
                    published=published)
        )
        found = [
            Position(
                actor=rng.choice(ACTORS), party=rng.choice(PARTIES),
                stance=rng.choice(list(Stance)), guarantee=rng.choice(list(Guarantee)[:3]),
                guarantor=rng.choice([*PARTIES, None]), beneficiary=rng.choice(["ukr", None]),
                evidence=f"sentence {k}",
            )
            for k in range(rng.randrange(3, 9))
        ]
        await store.save_positions(f"a{n}", found, "rules", "1")


async def _rows(store: Store) -> list[tuple[Any, ...]]:
    async with store.db.execute(
        "SELECT p.id, p.party, p.guarantor, p.beneficiary, p.guarantee, p.stance, a.slug,"
        " p.published FROM positions AS p JOIN actors AS a ON a.id = p.actor_id"
    ) as cursor:
        return [tuple(r) async for r in cursor]


def _keeps(row: tuple[Any, ...], filter_: PositionFilter, window: DateWindow) -> bool:
    _id, party, guarantor, beneficiary, guarantee, stance, actor, published = row
    if published is None:
        return False
    day = date.fromisoformat(str(published)[:10])
    return (
        (window.since is None or day >= window.since)
        and (window.until is None or day < window.until)
        and all(p in (party, guarantor, beneficiary) for p in filter_.parties)
        and (not filter_.held_by or party in filter_.held_by)
        and (not filter_.actors or actor in filter_.actors)
        and (not filter_.guarantees or guarantee in {str(g) for g in filter_.guarantees})
        and (not filter_.stances or stance in {str(s) for s in filter_.stances})
    )


def _check(
    cells: list[StanceCell],
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]],
    *,
    per_actor: bool,
    exact_ties: bool,
) -> None:
    """Cells equal the groups recounted: positions, actors, latest date and the freshest
    position (on PostgreSQL the highest id of the latest date; SQLite names any of them)."""
    key: tuple[Any, ...]
    assert len(cells) == len(groups)
    for cell in cells:
        key = (str(cell.guarantee), str(cell.stance), cell.party)
        if per_actor:  # a per-actor cell's freshest position is its actor's
            key = (*key, cell.latest_actor)
        found = groups[key]
        assert cell.positions == len(found)
        assert cell.actors == len({r[6] for r in found})
        latest = max(str(r[7])[:10] for r in found)
        assert cell.latest_published == date.fromisoformat(latest)
        tied = {r[0]: r[6] for r in found if str(r[7])[:10] == latest}
        assert cell.latest_position_id in tied
        assert cell.latest_actor == tied[cell.latest_position_id]
        if exact_ties:
            assert cell.latest_position_id == max(tied)


async def test_window_cells_equal_a_recount_of_the_positions_inside(store_url: str) -> None:
    rng = random.Random(5)
    async with open_store(store_url) as store:
        await _fill(store, rng)
        rows = await _rows(store)
        dates = [str(r[7])[:10] for r in rows if r[7] is not None]
        assert len(dates) > len(set(dates)) * 5  # plenty of same-day ties
        checked = 0
        for filter_ in FILTERS:
            for window in WINDOWS:
                inside = [r for r in rows if _keeps(r, filter_, window)]
                cells: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
                actors: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
                for r in inside:
                    cells.setdefault((r[4], r[5], r[1]), []).append(r)
                    actors.setdefault((r[4], r[5], r[1], r[6]), []).append(r)
                postgres = store.dialect.postgres
                _check(
                    await store.window_cells(filter_, window), cells,
                    per_actor=False, exact_ties=postgres,
                )
                per_actor = await store.window_cells(filter_, window, per_actor=True)
                assert sorted(
                    (str(c.guarantee), str(c.stance), c.party, c.latest_actor) for c in per_actor
                ) == sorted(actors)
                _check(per_actor, actors, per_actor=True, exact_ties=postgres)
                checked += len(inside) > 0
        assert checked > 30
