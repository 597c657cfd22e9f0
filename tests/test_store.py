"""The store: migrations, dedup, idempotent re-extraction, and the trigger-kept summary.

Tests taking `store_url` run twice: on a SQLite file and on a PostgreSQL schema."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.models import Article, Position, PositionFilter
from bot.store import MIGRATIONS, Store, open_store
from bot.vocabulary import Guarantee, Stance

ARTICLE = Article(
    id="story-1",
    title="Allies weigh guarantees",
    text="Allies weigh guarantees.\nThe minister said Europe would send troops.",
    url="https://news.example/story-1",
    outlet="news.example",
    published=date(2025, 3, 1),
)


def position(
    actor: str = "keir-starmer",
    party: str = "gbr",
    stance: Stance = Stance.BACKS,
    guarantee: Guarantee = Guarantee.PEACEKEEPING_FORCE,
    guarantor: str | None = "gbr",
    evidence: str = "The minister said Europe would send troops.",
) -> Position:
    return Position(actor, party, stance, guarantee, guarantor, "ukr", evidence)


async def test_migrations_apply_once_and_file_is_wal(tmp_path: Path) -> None:
    path = str(tmp_path / "store.db")
    async with open_store(path) as store:
        first = await store.applied_migrations()
    async with open_store(path) as store:
        assert await store.applied_migrations() == first
    assert first == [name for name, _ in MIGRATIONS]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_duplicates_by_id_url_and_text(store_url: str) -> None:
    async with open_store(store_url) as store:
        assert (await store.add_article(ARTICLE)).added
        same_id = await store.add_article(ARTICLE)
        assert (same_id.added, same_id.reason) == (False, "same id")
        moved = Article(id="other", title="x", text="different text here", url=ARTICLE.url)
        assert (await store.add_article(moved)).reason == "same url"
        # Same words, other spacing, case and punctuation: the same story.
        reworded = Article(id="copy", title="x", text=ARTICLE.text.upper().replace(".", " !"))
        result = await store.add_article(reworded)
        assert (result.added, result.reason, result.key) == (False, "same text", "story-1")
        assert await store.count_articles() == 1
        stored = await store.get_article("story-1")
        assert stored == ARTICLE


async def test_re_extraction_replaces_only_for_a_new_version(store_url: str) -> None:
    async with open_store(store_url) as store:
        await store.add_article(ARTICLE)
        assert await store.articles_to_extract("rules", "1") == [ARTICLE]
        assert await store.save_positions("story-1", [position()], "rules", "1")
        assert await store.articles_to_extract("rules", "1") == []
        # The same version again changes nothing.
        assert not await store.save_positions("story-1", [], "rules", "1")
        assert await store.count_positions() == 1
        # A newer version replaces the article's positions in one go.
        newer = [
            position(stance=Stance.OPPOSES),
            position(actor="uk", guarantee=Guarantee.AIR_SEA_PROTECTION),
        ]
        assert await store.articles_to_extract("rules", "2") == [ARTICLE]
        assert await store.save_positions("story-1", newer, "rules", "2")
        stances = sorted(str(p.stance) for p in await store.positions(PositionFilter()))
        assert stances == ["backs", "opposes"]
        # Another extractor's positions sit beside, untouched.
        assert await store.save_positions("story-1", [position()], "llm", "a")
        assert await store.count_positions() == 3


async def test_failed_replacement_rolls_back(store_url: str) -> None:
    async with open_store(store_url) as store:
        await store.add_article(ARTICLE)
        await store.save_positions("story-1", [position()], "rules", "1")
        # The second position breaks a NOT NULL constraint after the first was written.
        broken = [position(), position(party=None)]  # type: ignore[arg-type]
        with pytest.raises((sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)):
            await store.save_positions("story-1", broken, "rules", "2")
        assert await store.count_positions() == 1
        assert await store.articles_to_extract("rules", "1") == []


async def rows(store: Store, sql: str, params: tuple[object, ...] = ()) -> list[tuple]:
    """A raw query on either backend, as plain tuples."""
    async with store.db.execute(sql, params) as cursor:
        return [tuple(row) for row in await cursor.fetchall()]


async def test_evidence_sentence_stored_once(store_url: str) -> None:
    async with open_store(store_url) as store:
        await store.add_article(ARTICLE)
        await store.save_positions(
            "story-1", [position(), position(guarantee=Guarantee.SECURITY_GUARANTEE)], "rules", "1"
        )
        assert await rows(store, "SELECT count(*) FROM sentences") == [(1,)]


async def test_filters_and_freshest_first(store_url: str) -> None:
    async with open_store(store_url) as store:
        for day in (1, 3, 2):
            article = Article(
                id=f"a{day}", title="t", text=f"story number {day} about troops and guarantees",
                url=f"https://n.example/{day}", published=date(2025, 1, day),
            )
            await store.add_article(article)
            await store.save_positions(
                article.id,
                [
                    position(evidence=f"Starmer offered troops on day {day}."),
                    position("donald-trump", "usa", Stance.OPPOSES, guarantor="usa",
                             evidence=f"Trump ruled out troops on day {day}."),
                ],
                "rules",
                "1",
            )
        fresh = await store.positions(PositionFilter(parties=("usa",)))
        assert [p.published.day for p in fresh if p.published] == [3, 2, 1]
        assert {p.actor for p in fresh} == {"donald-trump"}
        held = await store.positions(PositionFilter(parties=("ukr",), held_by=frozenset({"gbr"})))
        assert {p.party for p in held} == {"gbr"} and len(held) == 3
        starmer = PositionFilter(actors=frozenset({"keir-starmer"}))
        by_actor = await store.positions(starmer, limit=1)
        assert by_actor[0].evidence == "Starmer offered troops on day 3."
        stats = await store.stats(PositionFilter(parties=("ukr",)))
        assert (stats.positions, stats.sources) == (6, 3)
        assert stats.latest_published == date(2025, 1, 3)
        cells = await store.cells(PositionFilter(parties=("ukr",)))
        assert {(c.party, c.stance, c.positions, c.latest_published) for c in cells} == {
            ("gbr", Stance.BACKS, 3, date(2025, 1, 3)),
            ("usa", Stance.OPPOSES, 3, date(2025, 1, 3)),
        }
        assert {c.party: c.latest_actor for c in cells} == {
            "gbr": "keir-starmer", "usa": "donald-trump"
        }
        cells = await store.cells(PositionFilter(parties=("ukr",)), top_actors=3)
        assert {c.party: c.top_actors for c in cells} == {
            "gbr": (("keir-starmer", 3),),
            "usa": (("donald-trump", 3),),
        }
        assert await store.known_parties() == {"gbr", "usa", "ukr"}
        assert await store.known_actors() == {"keir-starmer": "gbr", "donald-trump": "usa"}


def test_filter_takes_one_topic_party() -> None:
    with pytest.raises(ValueError):
        PositionFilter(parties=("ukr", "usa"))


async def _expected_summary(store: Store) -> Counter[tuple[str, str, str, str, int]]:
    """The summary recomputed from scratch: what the triggers must maintain."""
    expected: Counter[tuple[str, str, str, str, int]] = Counter()
    for party, guarantor, beneficiary, guarantee, stance, actor in await rows(
        store, "SELECT party, guarantor, beneficiary, guarantee, stance, actor_id FROM positions"
    ):
        for topic in {"*", party, guarantor, beneficiary} - {None}:
            expected[(topic, guarantee, stance, party, actor)] += 1
    return expected


async def test_summary_triggers_match_a_recount_after_random_edits(store_url: str) -> None:
    """Random inserts and re-extractions: the trigger-kept summary always equals a recount,
    and each row's latest position is the freshest of its group."""
    rng = random.Random(7)
    parties = ["ukr", "usa", "gbr", "rus"]
    async with open_store(store_url) as store:
        for n in range(30):
            await store.add_article(
                Article(id=f"a{n}", title="t", text=f"article {n} text long enough to keep",
                        published=date(2025, 1, 1) + timedelta(days=rng.randrange(60)))
            )
        for round_ in range(120):
            article = f"a{rng.randrange(30)}"
            found = [
                Position(
                    actor=f"actor-{rng.randrange(5)}",
                    party=rng.choice(parties),
                    stance=rng.choice(list(Stance)),
                    guarantee=rng.choice(list(Guarantee)),
                    guarantor=rng.choice([*parties, None]),
                    beneficiary=rng.choice(["ukr", None]),
                    evidence=f"sentence {rng.randrange(40)}",
                )
                for _ in range(rng.randrange(4))
            ]
            await store.save_positions(article, found, "rules", str(round_))
        await _check_summaries(store)


async def _check_summaries(db: Store) -> None:
    """Every trigger-kept table equals its recount from `positions`."""
    expected = await _expected_summary(db)
    actual = Counter(
        {
            (t, g, s, p, a): n
            for t, g, s, p, a, n in await rows(
                db, "SELECT topic, guarantee, stance, party, actor_id, positions FROM topic_summary"
            )
        }
    )
    assert actual == expected
    for topic, guarantee, stance, party, actor, latest, latest_id in await rows(
        db,
        "SELECT topic, guarantee, stance, party, actor_id, latest_published,"
        " latest_position_id FROM topic_summary",
    ):
        [(freshest,)] = await rows(
            db,
            "SELECT max(ifnull(published, '')) FROM positions WHERE guarantee = ? AND"
            " stance = ? AND party = ? AND actor_id = ? AND (? = '*' OR ? IN"
            " (party, guarantor, beneficiary))",
            (guarantee, stance, party, actor, topic, topic),
        )
        assert latest == freshest
        latest_row = await rows(
            db, "SELECT ifnull(published, '') FROM positions WHERE id = ?", (latest_id,)
        )
        assert latest_row == [(freshest,)]
    articles = {
        (t, a): n
        for t, a, n in await rows(db, "SELECT topic, article_id, positions FROM topic_articles")
    }
    recount: Counter[tuple[str, int]] = Counter()
    for article, party, guarantor, beneficiary in await rows(
        db, "SELECT article_id, party, guarantor, beneficiary FROM positions"
    ):
        for topic in {"*", party, guarantor, beneficiary} - {None}:
            recount[(topic, article)] += 1
    assert articles == dict(recount)
    # cell_summary: the per-party fold of topic_summary, with the freshest of each cell.
    cells = {
        (t, g, s, p): (n, a, latest, latest_id, actor)
        for t, g, s, p, n, a, latest, latest_id, actor in await rows(
            db,
            "SELECT topic, guarantee, stance, party, positions, actors, latest_published,"
            " latest_position_id, latest_actor_id FROM cell_summary",
        )
    }
    folded: dict[tuple[str, str, str, str], list[int]] = {}
    for (t, g, s, p, _actor), n in expected.items():
        folded.setdefault((t, g, s, p), [0, 0])
        folded[(t, g, s, p)][0] += n
        folded[(t, g, s, p)][1] += 1
    assert {k: (n, a) for k, (n, a, *_) in cells.items()} == {
        k: (n, a) for k, (n, a) in folded.items()
    }
    for (t, g, s, p), (_n, _a, latest, latest_id, actor) in cells.items():
        [(best,)] = await rows(
            db,
            "SELECT max(latest_published) FROM topic_summary WHERE topic = ? AND"
            " guarantee = ? AND stance = ? AND party = ?",
            (t, g, s, p),
        )
        assert latest == best
        row = await rows(
            db, "SELECT ifnull(published, ''), actor_id FROM positions WHERE id = ?", (latest_id,)
        )
        assert row == [(best, actor)]
    by_guarantee: Counter[tuple[str, str, int]] = Counter()
    for article, party, guarantor, beneficiary, guarantee in await rows(
        db, "SELECT article_id, party, guarantor, beneficiary, guarantee FROM positions"
    ):
        for topic in {"*", party, guarantor, beneficiary} - {None}:
            by_guarantee[(topic, guarantee, article)] += 1
    assert dict(by_guarantee) == {
        (t, g, a): n
        for t, g, a, n in await rows(
            db, "SELECT topic, guarantee, article_id, positions FROM guarantee_articles"
        )
    }
    assert dict(Counter((t, g) for t, g, _ in by_guarantee)) == {
        (t, g): n
        for t, g, n in await rows(
            db, "SELECT topic, guarantee, articles FROM guarantee_counts WHERE articles > 0"
        )
    }
    counts = dict(await rows(db, "SELECT topic, articles FROM topic_counts WHERE articles > 0"))
    assert counts == dict(Counter(topic for topic, _ in recount))


async def test_clock_sets_added_at(store_url: str) -> None:
    moment = datetime(2026, 3, 29, 6, 30, tzinfo=UTC)
    async with open_store(store_url, clock=lambda: moment) as store:
        await store.add_article(ARTICLE)
        await store.save_positions("story-1", [position()], "rules", "1")
        [stored] = await store.positions(PositionFilter())
        assert stored.added_at == moment
        later = moment + timedelta(seconds=1)
        assert await store.positions(PositionFilter(), added_since=later) == []
        assert len(await store.positions(PositionFilter(), added_before=moment + timedelta(1))) == 1


async def test_memory_store_works() -> None:
    async with open_store(":memory:") as store:
        assert (await store.add_article(ARTICLE)).added


async def test_cancelled_writer_leaves_no_open_transaction(store_url: str) -> None:
    """Cancel writers at every await point: the shared connection must stay usable."""
    async with open_store(store_url) as store:
        await store.add_article(ARTICLE)
        for delay_steps in range(12):
            task = asyncio.create_task(
                store.save_positions("story-1", [position()], "rules", f"v{delay_steps}")
            )
            for _ in range(delay_steps):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if not store.dialect.postgres:
                assert not store.db.in_transaction
        # Still writable afterwards.
        assert await store.save_positions("story-1", [position()], "rules", "final")
        assert await store.count_positions() == 1


async def test_narrowed_source_count_stops_at_the_cap(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.store.position_queries as queries_module

    monkeypatch.setattr(queries_module, "SOURCES_CAP", 3)
    async with open_store(store_url) as store:
        for n in range(5):
            await store.add_article(
                Article(id=f"a{n}", title="t", text=f"story {n} about troops for Ukraine")
            )
            await store.save_positions(f"a{n}", [position(evidence=f"Troops {n}.")], "r", "1")
        whole = await store.stats(PositionFilter(parties=("ukr",)))
        assert (whole.sources, whole.sources_at_least) == (5, False)
        narrowed = PositionFilter(
            parties=("ukr",), guarantees=frozenset({Guarantee.PEACEKEEPING_FORCE})
        )
        exact = await store.stats(narrowed)  # one guarantee: an exact count, no cap
        assert (exact.positions, exact.sources, exact.sources_at_least) == (5, 5, False)
        by_holder = replace(narrowed, held_by=frozenset({"gbr"}))
        capped = await store.stats(by_holder)
        assert (capped.positions, capped.sources, capped.sources_at_least) == (5, 3, True)
        both = replace(narrowed, guarantees=frozenset(Guarantee))
        assert (await store.stats(both)).sources == 3
        by_actor = await store.stats(PositionFilter(actors=frozenset({"nobody"})))
        assert (by_actor.sources, by_actor.sources_at_least) == (0, False)


async def test_memo_is_reused_until_any_connection_writes(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.store.base

    # Ask about other connections' (replicas') writes every time, not every half second.
    monkeypatch.setattr(bot.store.base, "OTHER_WRITERS_CHECK", 0.0)
    path = store_url
    computed = 0

    async def compute() -> int:
        nonlocal computed
        computed += 1
        return computed

    async with open_store(path) as store, open_store(path) as other_process:
        assert await store.memo("k", compute) == 1
        assert await store.memo("k", compute) == 1  # nothing changed: reused
        await store.add_article(ARTICLE)  # our own write
        assert await store.memo("k", compute) == 2
        assert await store.memo("k", compute) == 2
        await other_process.save_positions("story-1", [position()], "rules", "1")
        assert await store.memo("k", compute) == 3  # another connection's commit is seen too
        assert await store.memo("other", compute) == 4  # keys are separate


async def test_the_documented_migration_runs_on_both_backends(store_url: str) -> None:
    """The example in `bot.store.dialect` is how other features add tables: it must work."""
    import bot.store.dialect as dialect
    from bot.store import Store

    assert dialect.__doc__ is not None
    script = dialect.__doc__.split("(\"notes-1\", '''")[1].split("'''),")[0]
    store = await Store.connect(store_url, [*MIGRATIONS, ("notes-1", script)])
    try:
        await store.add_article(ARTICLE)
        await store.save_positions("story-1", [position()], "rules", "1")
        [(position_id,)] = await rows(store, "SELECT id FROM positions")
        for team in ("T1", "T1", "T2"):
            async with store.transaction() as db:
                await db.execute(
                    "INSERT INTO example_notes (position_id, team_id, stance, added_at)"
                    " VALUES (?, ?, 'opposes', '2026-01-01T00:00:00.000000Z')",
                    (position_id, team),
                )
        counts = await rows(store,
                            "SELECT team_id, n FROM example_note_counts ORDER BY team_id")
        assert counts == [("T1", 2), ("T2", 1)]
    finally:
        await store.close()


def test_postgres_reads_sqlite_index_hints_as_plain_tables() -> None:
    """`INDEXED BY` is SQLite's alone: PostgreSQL's spelling drops it (and only it)."""
    from bot.store.dialect import POSTGRES, SQLITE

    sql = (
        "SELECT p.id FROM positions AS p INDEXED BY positions_key WHERE p.actor_id = ?"
        " AND p.evidence != 'is INDEXED BY x?' UNION ALL SELECT a.id FROM articles AS a\n"
        "  indexed  by  articles_published WHERE a.published < ?"
    )
    assert SQLITE.query(sql) == sql
    assert POSTGRES.query(sql) == (
        "SELECT p.id FROM positions AS p WHERE p.actor_id = $1"
        " AND p.evidence != 'is INDEXED BY x?' UNION ALL SELECT a.id FROM articles AS a"
        " WHERE a.published < $2"
    )
