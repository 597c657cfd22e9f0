"""Corrections in the store: laid over the shared corpus for their team (the single
workspace's is `""`), kept across re-extraction, undone back to what the extractor said."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.models import Article, DateWindow, Position, PositionFilter
from bot.store import Store, open_store
from bot.store.corrections import CorrectionError, CorrectionKind
from bot.vocabulary import Guarantee, Stance
from tests.correction_fixtures import ARTICLE, EXTRACTED, OTHER


async def _store(tmp_path: Path) -> Store:
    store = await Store.connect(str(tmp_path / "s.db"), _migrations())
    assert isinstance(store, Store)
    await store.add_article(ARTICLE)
    await store.save_positions(ARTICLE.id, [EXTRACTED, OTHER], "rules", "1")
    return store


def _migrations() -> list[tuple[str, str]]:
    from bot.store import MIGRATIONS

    return MIGRATIONS


async def _cells(store: Store, topic: str = "hun") -> set[tuple[str, str, str, int]]:
    cells = await store.cells(PositionFilter(parties=(topic,), team=""))
    return {(c.party, str(c.stance), str(c.guarantee), c.positions) for c in cells}


async def _only(store: Store, guarantee: Guarantee) -> int:
    found = await store.positions(PositionFilter(guarantees=frozenset({guarantee}), team=""))
    assert len(found) == 1
    return found[0].id


async def test_stance_correction_flows_into_summaries_and_survives_re_extraction(
    tmp_path: Path,
) -> None:
    store = await _store(tmp_path)
    try:
        pid = await _only(store, Guarantee.PEACEKEEPING_FORCE)
        version = await store.version()
        result = await store.correct_position(
            pid, CorrectionKind.STANCE, user_id="U1", new_stance=Stance.OPPOSES, note="read again"
        )
        assert result.positions == 1
        assert await store.version() != version  # every cached card is rebuilt
        assert ("hun", "opposes", "peacekeeping_force", 1) in await _cells(store)
        assert ("hun", "backs", "peacekeeping_force", 1) not in await _cells(store)
        stats = await store.stats(PositionFilter(parties=("hun",), team=""))
        assert stats.positions == 2
        corrected = await store.positions(
            PositionFilter(guarantees=frozenset({Guarantee.PEACEKEEPING_FORCE}), team="")
        )
        assert [(p.stance, p.corrected_by) for p in corrected] == [(Stance.OPPOSES, "U1")]
        # A newer extractor replaces the article's positions: the correction holds again.
        assert await store.save_positions(ARTICLE.id, [EXTRACTED, OTHER], "rules", "2")
        assert ("hun", "opposes", "peacekeeping_force", 1) in await _cells(store)
        assert ("hun", "backs", "peacekeeping_force", 1) not in await _cells(store)
        assert ("hun", "doubts", "nato_membership", 1) in await _cells(store)
        # Undo: the extractor's stance is back, summaries too.
        new_id = await _only(store, Guarantee.PEACEKEEPING_FORCE)
        undone = await store.undo_correction(new_id, user_id="U2")
        assert undone is not None and undone.undone_by == "U2"
        after = await store.positions(
            PositionFilter(guarantees=frozenset({Guarantee.PEACEKEEPING_FORCE}), team="")
        )
        assert [(p.stance, p.corrected_by) for p in after] == [(Stance.BACKS, None)]
        assert ("hun", "backs", "peacekeeping_force", 1) in await _cells(store)
        assert await store.corrections() == []
        assert len(await store.corrections(active_only=False)) == 1
    finally:
        await store.close()


async def test_wrong_party_and_not_a_position(tmp_path: Path) -> None:
    store = await _store(tmp_path)
    try:
        pid = await _only(store, Guarantee.PEACEKEEPING_FORCE)
        await store.correct_position(pid, CorrectionKind.PARTY, user_id="U1", new_party="svk")
        assert ("svk", "backs", "peacekeeping_force", 1) in await _cells(store, "svk")
        assert ("hun", "backs", "peacekeeping_force", 1) not in await _cells(store)
        moved = await store.positions(PositionFilter(parties=("svk",), team=""))
        assert [(p.actor, p.party) for p in moved] == [("svk", "svk")]
        # Correcting the corrected position again starts from the extracted tuple.
        await store.correct_position(moved[0].id, CorrectionKind.NOT_POSITION, user_id="U1")
        assert await _cells(store, "svk") == set()
        assert await store.positions(PositionFilter(parties=("svk",), team="")) == []
        active = await store.corrections()
        assert [c.kind for c in active] == [CorrectionKind.NOT_POSITION]
        await store.save_positions(ARTICLE.id, [EXTRACTED, OTHER], "rules", "2")
        assert {c[2] for c in await _cells(store)} == {"nato_membership"}
        assert await store.undo_correction_by_id(active[0].id, user_id="U1")
        assert ("hun", "backs", "peacekeeping_force", 1) in await _cells(store)
        with pytest.raises(CorrectionError):
            await store.correct_position(
                await _only(store, Guarantee.PEACEKEEPING_FORCE),
                CorrectionKind.STANCE, user_id="U1", new_stance=Stance.BACKS,
            )
    finally:
        await store.close()


async def test_open_store_applies_the_migration(tmp_path: Path) -> None:
    async with open_store(str(tmp_path / "x.db")) as store:
        assert "corrections-1" in await store.applied_migrations()


Cell = tuple[int, int, int]  # positions, actors, latest position id


async def _visible(store: Store, team: str) -> list[tuple[Any, ...]]:
    """What a team sees, recomputed by brute force: the shared rows it has not withheld, and
    its own rows (negative ids)."""
    columns = "party, guarantor, beneficiary, guarantee, stance, actor_id, published, article_id"
    rows: list[tuple[Any, ...]] = []
    async with store.db.execute(
        f"SELECT id, {columns} FROM positions AS p WHERE NOT EXISTS (SELECT 1 FROM"
        " team_withheld AS w WHERE w.team_id = ? AND w.position_id = p.id)", (team,)
    ) as cursor:
        rows += [tuple(r) async for r in cursor]
    async with store.db.execute(
        f"SELECT -id, {columns} FROM team_positions WHERE team_id = ?", (team,)
    ) as cursor:
        rows += [tuple(r) async for r in cursor]
    return rows


def _expected_cells(rows: list[tuple[Any, ...]], topic: str) -> dict[tuple[str, str, str], Cell]:
    grouped: dict[tuple[str, str, str], list[tuple[Any, ...]]] = {}
    for row in rows:
        _id, party, guarantor, beneficiary, guarantee, stance, *_ = row
        if topic == "*" or topic in (party, guarantor, beneficiary):
            grouped.setdefault((guarantee, stance, party), []).append(row)
    return {
        key: (
            len(found),
            len({r[6] for r in found}),
            max(found, key=lambda r: (r[7] or "", r[0]))[0],
        )
        for key, found in grouped.items()
    }


async def test_every_team_sees_its_overlay_after_random_corrections(store_url: str) -> None:
    """Random re-extractions, corrections and undos by two teams: the shared summaries always
    equal a recount of `positions` (corrections never touch them), and each team's cells,
    counts and evidence equal a recount of what it sees."""
    import contextlib
    import random
    from datetime import timedelta

    rng = random.Random(11)
    parties = ["ukr", "usa", "gbr", "rus"]
    teams = ["", "T2"]

    def found() -> list[Position]:
        return [
            Position(
                actor=f"actor-{rng.randrange(4)}", party=rng.choice(parties),
                stance=rng.choice(list(Stance)), guarantee=rng.choice(list(Guarantee)[:3]),
                guarantor=rng.choice([*parties, None]), beneficiary=rng.choice(["ukr", None]),
                evidence=f"sentence {rng.randrange(12)}",
            )
            for _ in range(rng.randrange(1, 5))
        ]

    async with open_store(store_url) as store:
        for n in range(12):
            await store.add_article(
                Article(id=f"a{n}", title="t", text=f"article {n} text long enough",
                        published=date(2025, 1, 1) + timedelta(days=rng.randrange(30)))
            )
        for round_ in range(150):
            action = rng.random()
            if action < 0.3:
                await store.save_positions(f"a{rng.randrange(12)}", found(), "rules",
                                           str(round_))
                continue
            team = rng.choice(teams)
            ids = [row[0] for row in await _visible(store, team)]
            if not ids:
                continue
            pid = rng.choice(ids)
            if action < 0.5:
                await store.undo_correction(pid, user_id="U", team=team)
                continue
            kind = rng.choice(list(CorrectionKind))
            with contextlib.suppress(CorrectionError):  # "already says so": nothing to do
                await store.correct_position(
                    pid, kind, user_id="U", team=team, new_stance=rng.choice(list(Stance)),
                    new_party=rng.choice(parties),
                )
        assert len(await store.corrections(team=None)) > 10
        assert {c.team for c in await store.corrections(team=None)} == set(teams)
        shared = Counter()
        async with store.db.execute(
            "SELECT party, guarantor, beneficiary, guarantee, stance, actor_id FROM positions"
        ) as cursor:
            async for party, guarantor, beneficiary, guarantee, stance, actor in cursor:
                for topic in {"*", party, guarantor, beneficiary} - {None}:
                    shared[(topic, guarantee, stance, party, actor)] += 1
        async with store.db.execute(
            "SELECT topic, guarantee, stance, party, actor_id, positions FROM topic_summary"
        ) as cursor:
            assert Counter({tuple(r[:5]): r[5] async for r in cursor}) == shared
        for team in [*teams, "T3"]:
            rows = await _visible(store, team)
            scope = await store.overlay_team(team)
            assert (scope is None) == (team == "T3")
            for topic in ["*", *parties]:
                filter_ = PositionFilter(parties=() if topic == "*" else (topic,), team=scope)
                expected = _expected_cells(rows, topic)
                for top in (0, 3):
                    cells = await store.cells(filter_, top_actors=top)
                    assert {
                        (str(c.guarantee), str(c.stance), c.party): (
                            c.positions, c.actors, c.latest_position_id
                        )
                        for c in cells
                    } == expected, (team, topic, top)
                mine = [r for r in rows if topic == "*" or topic in r[1:4]]
                stats = await store.stats(filter_)
                assert stats.positions == len(mine)
                assert stats.sources == len({r[8] for r in mine})
                listed = await store.positions(filter_, limit=10_000)
                assert sorted(p.id for p in listed) == sorted(r[0] for r in mine)
                summary = await store.summary(filter_)
                assert sum(r.positions for r in summary) == len(mine)
                if store.dialect.postgres:
                    continue  # windowed questions read SQLite's index hints (as before)
                window = DateWindow(date(2025, 1, 10), date(2025, 1, 25), "mid-January")
                inside = [r for r in mine if r[7] and "2025-01-10" <= r[7] < "2025-01-25"]
                expected = _expected_cells(inside, topic)
                cells = await store.window_cells(filter_, window)
                assert {
                    (str(c.guarantee), str(c.stance), c.party): (
                        c.positions, c.actors, c.latest_position_id
                    )
                    for c in cells
                } == expected, (team, topic, "window")
                per_actor = await store.window_cells(filter_, window, per_actor=True)
                assert sum(c.positions for c in per_actor) == len(inside)
                stats = await store.window_stats(filter_, window)
                assert (stats.positions, stats.sources) == (
                    len(inside), len({r[8] for r in inside})
                )
