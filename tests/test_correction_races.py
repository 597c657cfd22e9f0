"""Corrections racing other writes of the same article.

On PostgreSQL (READ COMMITTED) a correction and a re-extraction of one article lock the
article row first, so one waits for the other and then reads what it committed: neither
leaves the other's rows uncorrected. Each test holds one transaction open at a known point,
sees the other writer wait for the lock (`pg_stat_activity`), then lets the first commit.
SQLite runs one writer at a time (BEGIN IMMEDIATE): nothing to race there. The unique index
of active corrections is the last guard on both; its refusal is a `CorrectionError`.

Before the lock, an undo or a re-correction that started while a re-extraction was open read
the rows of before it (READ COMMITTED): the undo left the re-applied rows of the correction it
undid, the re-correction corrected a replaced position. A re-extraction that starts during a
correction already waited (both bump `store_version`); those tests keep it so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import pytest

from bot.models import PositionFilter
from bot.store import Store, open_store
from bot.store.corrections import GONE, CorrectionError, CorrectionKind
from bot.store.positions import _sentence_hash
from bot.vocabulary import Guarantee, Stance
from tests.correction_fixtures import ARTICLE, EXTRACTED, OTHER, SENTENCE

T = TypeVar("T")

TEAM = "T1"
PEACEKEEPERS = PositionFilter(guarantees=frozenset({Guarantee.PEACEKEEPING_FORCE}))


async def _filled(store: Store) -> int:
    """The store with the article extracted once; the id of its peacekeeping position."""
    await store.add_article(ARTICLE)
    await store.save_positions(ARTICLE.id, [EXTRACTED, OTHER], "rules", "1")
    [found] = await store.positions(PEACEKEEPERS)
    return found.id


@asynccontextmanager
async def _holding(
    store: Store, work: Callable[[], Awaitable[T]]
) -> AsyncIterator[asyncio.Task[T]]:
    """`work` done inside a transaction left open (its locks held) for the block; then it
    commits (also when the block fails, so the store can close)."""
    ready, release = asyncio.Event(), asyncio.Event()

    async def held() -> T:
        async with store.transaction():
            result = await work()
            ready.set()
            await release.wait()
        return result

    task = asyncio.create_task(held())
    await ready.wait()
    try:
        yield task
    finally:
        release.set()


def _re_extraction(store: Store) -> Callable[[], Awaitable[bool]]:
    return lambda: store.save_positions(ARTICLE.id, [EXTRACTED, OTHER], "rules", "2")


async def _waits_for_a_lock(store: Store, task: asyncio.Task[object]) -> bool:
    """True once a statement of this database waits for a lock; False if `task` ended
    first (it did not wait)."""
    while not task.done():
        async with store.db.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ) as cursor:
            row = await cursor.fetchone()
        if row and int(row[0]) > 0:
            return True
        await asyncio.sleep(0.01)
    return False


async def _team_view(store: Store) -> set[tuple[str, str]]:
    """(stance, guarantee) of every position the team reads."""
    scoped = PositionFilter(team=await store.overlay_team(TEAM))
    return {(str(p.stance), str(p.guarantee)) for p in await store.positions(scoped)}


async def test_an_undo_waits_for_a_re_extraction_then_undoes_the_new_rows(
    postgres_url: str,
) -> None:
    async with open_store(postgres_url) as store:
        old = await _filled(store)
        result = await store.correct_position(
            old, CorrectionKind.STANCE, user_id="U1", team=TEAM, new_stance=Stance.OPPOSES
        )
        async with _holding(store, _re_extraction(store)) as extraction:
            undo = asyncio.create_task(
                store.undo_correction_by_id(result.correction.id, user_id="U1", team=TEAM)
            )
            assert await _waits_for_a_lock(store, undo)
        assert await extraction
        assert await undo
        # The rows the re-extraction laid for the correction went with it.
        assert await store.corrections(team=TEAM) == []
        assert await _team_view(store) == {
            ("backs", "peacekeeping_force"), ("doubts", "nato_membership")
        }
        async with store.db.execute("SELECT count(*) FROM team_positions") as cursor:
            assert (await cursor.fetchone())[0] == 0  # type: ignore[index]


async def test_a_re_correction_waits_for_a_re_extraction_then_finds_its_position_gone(
    postgres_url: str,
) -> None:
    async with open_store(postgres_url) as store:
        old = await _filled(store)
        first = await store.correct_position(
            old, CorrectionKind.STANCE, user_id="U1", team=TEAM, new_stance=Stance.OPPOSES
        )
        async with _holding(store, _re_extraction(store)) as extraction:
            again = asyncio.create_task(
                store.correct_position(old, CorrectionKind.NOT_POSITION, user_id="U1", team=TEAM)
            )
            assert await _waits_for_a_lock(store, again)
        assert await extraction
        # The position it named was replaced meanwhile: as when asked after the
        # re-extraction, it is not found, and the first correction holds on the new rows.
        with pytest.raises(CorrectionError, match="no longer in the store"):
            await again
        assert [c.id for c in await store.corrections(team=TEAM)] == [first.correction.id]
        assert await _team_view(store) == {
            ("opposes", "peacekeeping_force"), ("doubts", "nato_membership")
        }


async def test_a_re_extraction_waits_for_a_correction_then_keeps_it(postgres_url: str) -> None:
    async with open_store(postgres_url) as store:
        old = await _filled(store)
        correct = lambda: store.correct_position(  # noqa: E731
            old, CorrectionKind.STANCE, user_id="U1", team=TEAM, new_stance=Stance.OPPOSES
        )
        async with _holding(store, correct) as correction:
            extraction = asyncio.create_task(_re_extraction(store)())
            assert await _waits_for_a_lock(store, extraction)
        result = await correction
        assert await extraction
        # The new rows carry the correction: no uncorrected copy beside the corrected one.
        assert await _team_view(store) == {
            ("opposes", "peacekeeping_force"), ("doubts", "nato_membership")
        }
        assert len(await store.corrected_positions(result.correction.id)) == 1


async def test_a_re_extraction_waits_for_an_undo_then_leaves_it_undone(
    postgres_url: str,
) -> None:
    async with open_store(postgres_url) as store:
        old = await _filled(store)
        result = await store.correct_position(
            old, CorrectionKind.NOT_POSITION, user_id="U1", team=TEAM
        )
        assert await _team_view(store) == {("doubts", "nato_membership")}
        undo_it = lambda: store.undo_correction_by_id(  # noqa: E731
            result.correction.id, user_id="U1", team=TEAM
        )
        async with _holding(store, undo_it) as undo:
            extraction = asyncio.create_task(_re_extraction(store)())
            assert await _waits_for_a_lock(store, extraction)
        assert await undo
        assert await extraction
        assert await store.corrections(team=TEAM) == []
        async with store.db.execute("SELECT count(*) FROM team_withheld") as cursor:
            assert (await cursor.fetchone())[0] == 0  # type: ignore[index]


async def test_two_analysts_correcting_one_position_at_once(postgres_url: str) -> None:
    """Two corrections of one position by one team at once: one holds, the other is told the
    position is gone (as when it comes second), never a database error."""
    async with open_store(postgres_url) as store:
        old = await _filled(store)
        results = await asyncio.gather(
            store.correct_position(
                old, CorrectionKind.STANCE, user_id="U1", team=TEAM, new_stance=Stance.OPPOSES
            ),
            store.correct_position(old, CorrectionKind.NOT_POSITION, user_id="U2", team=TEAM),
            return_exceptions=True,
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        assert len(errors) == 1 and isinstance(errors[0], CorrectionError), errors
        assert str(errors[0]) == GONE
        assert len(await store.corrections(team=TEAM)) == 1


async def test_a_correction_refused_by_the_active_index_is_a_correction_error(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read that looks for an active correction of the tuple ran before a colleague's
    committed (READ COMMITTED; forced here, so on SQLite too): the unique index
    `corrections_active` refuses the second, and the analyst is told as in the sequential
    case."""
    async with open_store(store_url) as store:
        old = await _filled(store)
        first = await store.correct_position(
            old, CorrectionKind.STANCE, user_id="U1", team=TEAM, new_stance=Stance.OPPOSES
        )
        before = await _team_view(store)

        async def stale(db: object, position_id: int, team: str) -> tuple[object, ...]:
            return (ARTICLE.id, _sentence_hash(SENTENCE), "hun", "backs",
                    "peacekeeping_force", None)

        monkeypatch.setattr(store, "_key_of", stale)
        with pytest.raises(CorrectionError) as refused:
            await store.correct_position(
                old, CorrectionKind.NOT_POSITION, user_id="U2", team=TEAM
            )
        assert str(refused.value) == GONE
        assert [c.id for c in await store.corrections(team=TEAM)] == [first.correction.id]
        assert await _team_view(store) == before
