"""Corrections in the store: applied through the summary triggers, kept across re-extraction,
undone back to what the extractor said."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from bot.models import Article, Position, PositionFilter
from bot.store import Store, open_store
from bot.store.corrections import CorrectionError, CorrectionKind
from bot.vocabulary import Guarantee, Stance


def _recount(db: sqlite3.Connection) -> Counter[tuple[str, str, str, str, int]]:
    """topic_summary recomputed from the positions: what the triggers must keep."""
    expected: Counter[tuple[str, str, str, str, int]] = Counter()
    for party, guarantor, beneficiary, guarantee, stance, actor in db.execute(
        "SELECT party, guarantor, beneficiary, guarantee, stance, actor_id FROM positions"
    ):
        for topic in {"*", party, guarantor, beneficiary} - {None}:
            expected[(topic, guarantee, stance, party, actor)] += 1
    return expected

SENTENCE = "Hungary's prime minister said Budapest would back peacekeepers."
ARTICLE = Article(
    id="a-1",
    title="Budapest on peacekeepers",
    text=f"Leaders met.\n{SENTENCE}\nThe talks go on.",
    url="https://news.example/a-1",
    outlet="news.example",
    published=date(2026, 1, 7),
)
EXTRACTED = Position(
    "viktor-orban", "hun", Stance.BACKS, Guarantee.PEACEKEEPING_FORCE, None, "ukr", SENTENCE
)
OTHER = Position(
    "viktor-orban", "hun", Stance.DOUBTS, Guarantee.NATO_MEMBERSHIP, None, "ukr", SENTENCE
)


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
    cells = await store.cells(PositionFilter(parties=(topic,)))
    return {(c.party, str(c.stance), str(c.guarantee), c.positions) for c in cells}


async def _only(store: Store, guarantee: Guarantee) -> int:
    found = await store.positions(PositionFilter(guarantees=frozenset({guarantee})))
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
        stats = await store.stats(PositionFilter(parties=("hun",)))
        assert stats.positions == 2
        corrected = await store.positions(
            PositionFilter(guarantees=frozenset({Guarantee.PEACEKEEPING_FORCE}))
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
            PositionFilter(guarantees=frozenset({Guarantee.PEACEKEEPING_FORCE}))
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
        moved = await store.positions(PositionFilter(parties=("svk",)))
        assert [(p.actor, p.party) for p in moved] == [("svk", "svk")]
        # Correcting the corrected position again starts from the extracted tuple.
        await store.correct_position(moved[0].id, CorrectionKind.NOT_POSITION, user_id="U1")
        assert await _cells(store, "svk") == set()
        assert await store.positions(PositionFilter(parties=("svk",))) == []
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


async def test_summaries_match_a_recount_after_random_corrections(tmp_path: Path) -> None:
    """Random re-extractions, corrections and undos: topic_summary and cell_summary always
    equal a recount of `positions`, their latest pointers are the freshest, and no extracted
    tuple an active correction covers is left in `positions`."""
    import contextlib
    import random
    from datetime import timedelta


    rng = random.Random(11)
    path = str(tmp_path / "r.db")
    parties = ["ukr", "usa", "gbr", "rus"]

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

    async with open_store(path) as store:
        for n in range(12):
            await store.add_article(
                Article(id=f"a{n}", title="t", text=f"article {n} text long enough",
                        published=date(2025, 1, 1) + timedelta(days=rng.randrange(30)))
            )
        for round_ in range(150):
            action = rng.random()
            if action < 0.35:
                await store.save_positions(f"a{rng.randrange(12)}", found(), "rules",
                                           str(round_))
                continue
            ids = [r[0] async for r in await store.db.execute("SELECT id FROM positions")]
            if not ids:
                continue
            pid = rng.choice(ids)
            if action < 0.55:
                await store.undo_correction(pid, user_id="U")
                continue
            kind = rng.choice(list(CorrectionKind))
            with contextlib.suppress(CorrectionError):  # "already says so": nothing to do
                await store.correct_position(
                    pid, kind, user_id="U", new_stance=rng.choice(list(Stance)),
                    new_party=rng.choice(parties),
                )
    with sqlite3.connect(path) as db:
        actual = Counter({
            (t, g, s, p, a): n
            for t, g, s, p, a, n in db.execute(
                "SELECT topic, guarantee, stance, party, actor_id, positions FROM topic_summary"
            )
        })
        expected = _recount(db)
        assert actual == expected
        folded: Counter[tuple[str, str, str, str]] = Counter()
        for (t, g, s, p, _a), n in expected.items():
            folded[(t, g, s, p)] += n
        assert dict(folded) == {
            (t, g, s, p): n for t, g, s, p, n in db.execute(
                "SELECT topic, guarantee, stance, party, positions FROM cell_summary"
            )
        }
        for _t, g, s, p, latest, latest_id in db.execute(
            "SELECT topic, guarantee, stance, party, latest_published, latest_position_id"
            " FROM cell_summary"
        ):
            row = db.execute(
                "SELECT ifnull(published, ''), guarantee, stance, party FROM positions"
                " WHERE id = ?", (latest_id,)
            ).fetchone()
            assert row is not None and row[1:] == (g, s, p)
            assert row[0] == latest
        assert db.execute(
            "SELECT count(*) FROM positions AS p JOIN corrections AS c ON c.id = p.correction_id"
            " WHERE c.undone_at IS NOT NULL"
        ).fetchone()[0] == 0
        left = db.execute(
            "SELECT count(*) FROM corrections AS c JOIN articles AS a ON a.key = c.article_key"
            " JOIN positions AS p ON p.article_id = a.id AND p.correction_id IS NULL"
            " JOIN sentences AS s ON s.id = p.sentence_id AND s.hash = c.sentence_hash"
            " WHERE c.undone_at IS NULL AND p.party = c.party AND p.stance = c.stance"
            " AND p.guarantee = c.guarantee"
        ).fetchone()[0]
        assert left == 0
        assert db.execute("SELECT count(*) FROM corrections").fetchone()[0] > 10
