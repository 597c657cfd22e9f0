"""Corrections in the store: applied through the summary triggers, kept across re-extraction,
undone back to what the extractor said."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.models import Article, Position, PositionFilter
from bot.store import Store, open_store
from bot.store.corrections import CorrectionError, CorrectionKind
from bot.vocabulary import Guarantee, Stance

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
