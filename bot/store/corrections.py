"""Analysts' corrections of extracted positions (issue 9).

A correction is keyed to what an extractor sees, not to a row id: (article key, hash of the
evidence sentence, original party, stance, guarantee). Applying it moves every position with
that key into `withheld_positions` and, unless it says "not a position", inserts the corrected
position in its place. Both steps go through the position triggers, so `topic_summary`,
`cell_summary`, the article counts and the store version (hence every cached card) follow a
correction exactly as they follow any write.

When an article is extracted again (a newer extractor version replaces its positions), the
article's active corrections are applied again to the new rows in the same transaction: a
correction survives re-ingesting and re-extraction. Undo puts the withheld rows back as the
extractor left them and keeps the correction, marked undone, for the record.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

import aiosqlite

from bot.models import PositionFilter, StoredPosition
from bot.store.base import Migration, from_db_time, to_db_time
from bot.store.position_queries import (
    _POSITION_COLUMNS,
    _POSITION_JOINS,
    PositionQueryMixin,
    _filter_sql,
)
from bot.store.positions import PositionStoreMixin
from bot.vocabulary import Guarantee, Stance

MIGRATIONS: list[Migration] = [
    (
        "corrections-1",
        """
        CREATE TABLE corrections (
            id INTEGER PRIMARY KEY,
            article_key TEXT NOT NULL,
            sentence_hash INTEGER NOT NULL,
            party TEXT NOT NULL,
            stance TEXT NOT NULL,
            guarantee TEXT NOT NULL,
            kind TEXT NOT NULL,
            new_party TEXT,
            new_stance TEXT,
            note TEXT,
            user_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            undone_by TEXT,
            undone_at TEXT
        );
        -- At most one active correction per extracted tuple.
        CREATE UNIQUE INDEX corrections_active
            ON corrections (article_key, sentence_hash, party, stance, guarantee)
            WHERE undone_at IS NULL;
        CREATE INDEX corrections_article ON corrections (article_key);
        ALTER TABLE positions ADD COLUMN correction_id INTEGER;
        CREATE INDEX positions_correction ON positions (correction_id)
            WHERE correction_id IS NOT NULL;
        -- "Since when" of a party's stance, one seek: see `first_published`.
        CREATE INDEX positions_party_stance ON positions (party, guarantee, stance, published);
        -- Extracted positions a correction replaced, kept as the extractor left them.
        CREATE TABLE withheld_positions (
            id INTEGER PRIMARY KEY,
            correction_id INTEGER NOT NULL,
            article_id INTEGER NOT NULL,
            sentence_id INTEGER NOT NULL,
            actor_id INTEGER NOT NULL,
            party TEXT NOT NULL,
            stance TEXT NOT NULL,
            guarantee TEXT NOT NULL,
            guarantor TEXT,
            beneficiary TEXT,
            published TEXT,
            added_at TEXT NOT NULL,
            extractor TEXT NOT NULL,
            extractor_version TEXT NOT NULL
        );
        CREATE INDEX withheld_correction ON withheld_positions (correction_id);
        CREATE INDEX withheld_article ON withheld_positions (article_id, extractor);
        """,
    )
]

_ROW_COLUMNS = (
    "article_id, sentence_id, actor_id, party, stance, guarantee, guarantor, beneficiary,"
    " published, added_at, extractor, extractor_version"
)


class CorrectionKind(StrEnum):
    STANCE = "stance"  # the stance is wrong: new_stance
    PARTY = "party"  # the party is wrong: new_party
    NOT_POSITION = "not_position"  # the sentence holds no such position


@dataclass(frozen=True)
class Correction:
    id: int
    article_key: str
    sentence_hash: int
    party: str
    stance: Stance
    guarantee: Guarantee
    kind: CorrectionKind
    new_party: str | None
    new_stance: Stance | None
    note: str | None
    user_id: str
    created_at: datetime
    undone_by: str | None = None
    undone_at: datetime | None = None

    @property
    def corrected_party(self) -> str:
        return self.new_party or self.party

    @property
    def corrected_stance(self) -> Stance:
        return self.new_stance or self.stance


@dataclass(frozen=True)
class CorrectionResult:
    correction: Correction
    positions: int  # how many stored positions it changed


class CorrectionError(Exception):
    """The position to correct is gone, or the correction changes nothing."""


class CorrectionStoreMixin(PositionStoreMixin):
    """Corrections in, corrections applied (also after re-extraction), undone, listed."""

    async def correct_position(
        self,
        position_id: int,
        kind: CorrectionKind,
        *,
        user_id: str,
        new_stance: Stance | None = None,
        new_party: str | None = None,
        note: str | None = None,
    ) -> CorrectionResult:
        """Correct the extracted tuple behind a stored position. A position that is itself a
        correction is corrected again from its original tuple (the earlier one is undone)."""
        now = to_db_time(self.clock())
        async with self.transaction() as db:
            key = await self._key_of(db, position_id)
            if key is None:
                raise CorrectionError("That position is no longer in the store.")
            article_key, sentence_hash, party, stance, guarantee, earlier = key
            if earlier is not None:
                await self._restore(db, earlier)
                await db.execute(
                    "UPDATE corrections SET undone_by = ?, undone_at = ? WHERE id = ?",
                    (user_id, now, earlier),
                )
            if (kind is CorrectionKind.STANCE and new_stance in (None, Stance(stance))) or (
                kind is CorrectionKind.PARTY and new_party in (None, party)
            ):
                if earlier is None:
                    raise CorrectionError("That is what the position already says.")
                # Correcting back to what the extractor said is an undo.
                correction = await self._correction(db, earlier)
                return CorrectionResult(correction, 0)
            async with db.execute(
                "INSERT INTO corrections (article_key, sentence_hash, party, stance, guarantee,"
                " kind, new_party, new_stance, note, user_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    article_key, sentence_hash, party, stance, guarantee, str(kind),
                    new_party if kind is CorrectionKind.PARTY else None,
                    str(new_stance) if kind is CorrectionKind.STANCE and new_stance else None,
                    (note or "").strip()[:1000] or None, user_id, now,
                ),
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            correction = await self._correction(db, int(row[0]))
            changed = await self._apply(db, correction, extractor=None)
        return CorrectionResult(correction, changed)

    async def undo_correction(self, position_id: int, *, user_id: str) -> Correction | None:
        """Undo the correction a stored position carries; None when it carries none."""
        now = to_db_time(self.clock())
        async with self.transaction() as db:
            async with db.execute(
                "SELECT correction_id FROM positions WHERE id = ?", (position_id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row is None or row[0] is None:
                return None
            correction_id = int(row[0])
            await self._restore(db, correction_id)
            await db.execute(
                "UPDATE corrections SET undone_by = ?, undone_at = ? WHERE id = ?",
                (user_id, now, correction_id),
            )
            return await self._correction(db, correction_id)

    async def undo_correction_by_id(self, correction_id: int, *, user_id: str) -> bool:
        """Undo an active correction by its id ("not a position" leaves no row to click)."""
        now = to_db_time(self.clock())
        async with self.transaction() as db:
            async with db.execute(
                "SELECT 1 FROM corrections WHERE id = ? AND undone_at IS NULL", (correction_id,)
            ) as cursor:
                if await cursor.fetchone() is None:
                    return False
            await self._restore(db, correction_id)
            await db.execute(
                "UPDATE corrections SET undone_by = ?, undone_at = ? WHERE id = ?",
                (user_id, now, correction_id),
            )
        return True

    async def corrections(self, *, active_only: bool = True) -> list[Correction]:
        where = "WHERE undone_at IS NULL" if active_only else ""
        async with self.db.execute(
            f"SELECT * FROM corrections {where} ORDER BY id"
        ) as cursor:
            return [_correction_from_row(row) async for row in cursor]

    async def corrected_positions(self, correction_id: int) -> list[int]:
        """Ids of the stored positions a correction put in place."""
        async with self.db.execute(
            "SELECT id FROM positions WHERE correction_id = ? ORDER BY id", (correction_id,)
        ) as cursor:
            return [int(row[0]) async for row in cursor]

    async def first_published(
        self, party: str, guarantee: Guarantee, stance: Stance, after: str
    ) -> str | None:
        """The first publication date (ISO) after `after` of the party's stance on a
        guarantee: one seek of `positions_party_stance`."""
        async with self.db.execute(
            "SELECT min(published) FROM positions WHERE party = ? AND guarantee = ?"
            " AND stance = ? AND published > ?",
            (party, str(guarantee), str(stance), after),
        ) as cursor:
            row = await cursor.fetchone()
        return row[0] if row and row[0] else None

    async def stance_changes(
        self, party: str, guarantee: Guarantee | None, limit: int
    ) -> tuple[list[tuple[int, Stance | None]], int]:
        """The positions where the party's stance on a guarantee changed (the first position
        on each guarantee included), as (position id, stance before), in time order: the last
        `limit` of them, and how many there are in all."""
        where = "party = ?"
        params: list[object] = [party]
        if guarantee is not None:
            where += " AND guarantee = ?"
            params.append(str(guarantee))
        sql = (
            "SELECT id, before FROM (SELECT id, published, stance, lag(stance) OVER ("
            " PARTITION BY guarantee ORDER BY ifnull(published, ''), id) AS before"
            f" FROM positions WHERE {where})"
            " WHERE before IS NULL OR before != stance ORDER BY ifnull(published, ''), id"
        )
        async with self.db.execute(sql, params) as cursor:
            rows = [(int(r[0]), Stance(r[1]) if r[1] else None) async for r in cursor]
        return rows[-limit:], len(rows)

    # --- the hook `save_positions` calls ---------------------------------------------------

    async def _positions_replaced(
        self, db: aiosqlite.Connection, article_pk: int, article_key: str, extractor: str
    ) -> None:
        """An extractor just replaced this article's positions: its corrections hold again."""
        await db.execute(
            "DELETE FROM withheld_positions WHERE article_id = ? AND extractor = ?",
            (article_pk, extractor),
        )
        async with db.execute(
            "SELECT * FROM corrections WHERE article_key = ? AND undone_at IS NULL ORDER BY id",
            (article_key,),
        ) as cursor:
            active = [_correction_from_row(row) async for row in cursor]
        for correction in active:
            await self._apply(db, correction, extractor=extractor)

    # --- internals -------------------------------------------------------------------------

    async def _key_of(
        self, db: aiosqlite.Connection, position_id: int
    ) -> tuple[str, int, str, str, str, int | None] | None:
        async with db.execute(
            "SELECT a.key, s.hash, p.party, p.stance, p.guarantee, p.correction_id"
            " FROM positions AS p JOIN articles AS a ON a.id = p.article_id"
            " JOIN sentences AS s ON s.id = p.sentence_id WHERE p.id = ?",
            (position_id,),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        if row[5] is not None:  # already corrected: its key is the original tuple
            earlier = await self._correction(db, int(row[5]))
            return (
                earlier.article_key, earlier.sentence_hash, earlier.party,
                str(earlier.stance), str(earlier.guarantee), earlier.id,
            )
        return (row[0], int(row[1]), row[2], row[3], row[4], None)

    async def _correction(self, db: aiosqlite.Connection, correction_id: int) -> Correction:
        async with db.execute("SELECT * FROM corrections WHERE id = ?", (correction_id,)) as cur:
            row = await cur.fetchone()
        assert row is not None
        return _correction_from_row(row)

    async def _apply(
        self, db: aiosqlite.Connection, correction: Correction, *, extractor: str | None
    ) -> int:
        """Withhold the extracted rows matching the correction's key; insert the corrected
        ones. Returns how many rows it replaced."""
        sql = (
            f"SELECT p.id, {', '.join('p.' + c.strip() for c in _ROW_COLUMNS.split(','))}"
            " FROM positions AS p JOIN articles AS a ON a.id = p.article_id"
            " JOIN sentences AS s ON s.id = p.sentence_id"
            " WHERE a.key = ? AND s.hash = ?"
            " AND p.party = ? AND p.stance = ? AND p.guarantee = ? AND p.correction_id IS NULL"
        )
        params: list[object] = [
            correction.article_key, correction.sentence_hash, correction.party,
            str(correction.stance), str(correction.guarantee),
        ]
        if extractor is not None:
            sql += " AND p.extractor = ?"
            params.append(extractor)
        async with db.execute(sql, params) as cursor:
            rows = list(await cursor.fetchall())
        now = to_db_time(self.clock())
        for row in rows:
            values = list(row)
            await db.execute(
                f"INSERT INTO withheld_positions (id, correction_id, {_ROW_COLUMNS})"
                f" VALUES (?, ?, {', '.join('?' * 12)})",
                [values[0], correction.id, *values[1:]],
            )
            await db.execute("DELETE FROM positions WHERE id = ?", (values[0],))
            if correction.kind is CorrectionKind.NOT_POSITION:
                continue
            (article_id, sentence_id, actor_id, party, stance, guarantee, guarantor,
             beneficiary, published, _added, extractor_name, version) = values[1:]
            if correction.kind is CorrectionKind.PARTY:
                party = correction.corrected_party
                actor_id = await self._actor_for_party(db, actor_id, party)
            else:
                stance = str(correction.corrected_stance)
            await db.execute(
                f"INSERT INTO positions ({_ROW_COLUMNS}, correction_id)"
                f" VALUES ({', '.join('?' * 13)})",
                (article_id, sentence_id, actor_id, party, stance, guarantee, guarantor,
                 beneficiary, published, now, extractor_name, version, correction.id),
            )
        return len(rows)

    async def _actor_for_party(self, db: aiosqlite.Connection, actor_id: int, party: str) -> int:
        """The actor of a position moved to another party: the same actor when it belongs to
        that party, else the party speaking as itself (an actor slug equal to its code)."""
        async with db.execute("SELECT party FROM actors WHERE id = ?", (actor_id,)) as cursor:
            row = await cursor.fetchone()
        if row is not None and row[0] == party:
            return actor_id
        return await self._actor_id(party, party)

    async def _restore(self, db: aiosqlite.Connection, correction_id: int) -> None:
        """Put back what the extractor said: drop the corrected rows, return the withheld."""
        await db.execute("DELETE FROM positions WHERE correction_id = ?", (correction_id,))
        await db.execute(
            f"INSERT INTO positions (id, {_ROW_COLUMNS}) SELECT id, {_ROW_COLUMNS}"
            " FROM withheld_positions WHERE correction_id = ?",
            (correction_id,),
        )
        await db.execute(
            "DELETE FROM withheld_positions WHERE correction_id = ?", (correction_id,)
        )

def _correction_from_row(row: aiosqlite.Row) -> Correction:
    return Correction(
        id=int(row["id"]),
        article_key=row["article_key"],
        sentence_hash=int(row["sentence_hash"]),
        party=row["party"],
        stance=Stance(row["stance"]),
        guarantee=Guarantee(row["guarantee"]),
        kind=CorrectionKind(row["kind"]),
        new_party=row["new_party"],
        new_stance=Stance(row["new_stance"]) if row["new_stance"] else None,
        note=row["note"],
        user_id=row["user_id"],
        created_at=from_db_time(row["created_at"]),
        undone_by=row["undone_by"],
        undone_at=from_db_time(row["undone_at"]) if row["undone_at"] else None,
    )


class AnalystViewsMixin(CorrectionStoreMixin, PositionQueryMixin):
    """Reads for the matrix picture and the export (issue 9)."""

    async def earliest_published(self, filter_: PositionFilter) -> date | None:
        """The first publication date under a filter: per guarantee, a walk of the
        (guarantee, published) index that stops at the first match."""
        where, params = _filter_sql(filter_, "p")
        guarantees = sorted(filter_.guarantees) or list(Guarantee)
        found: list[str] = []
        for guarantee in guarantees:
            async with self.db.execute(
                "SELECT p.published FROM positions AS p INDEXED BY positions_guarantee_fresh"
                f" WHERE p.guarantee = ? AND p.published IS NOT NULL AND {where}"
                " ORDER BY p.published LIMIT 1",
                [str(guarantee), *params],
            ) as cursor:
                row = await cursor.fetchone()
            if row and row[0]:
                found.append(row[0])
        return date.fromisoformat(min(found)) if found else None

    async def iter_positions(
        self, filter_: PositionFilter, batch: int = 5000
    ) -> AsyncIterator[list[StoredPosition]]:
        """Every position under a filter, oldest row first, in batches (keyset pages, so no
        read stays open between them)."""
        where, params = _filter_sql(filter_, "p")
        last = 0
        while True:
            sql = (
                f"SELECT {_POSITION_COLUMNS} {_POSITION_JOINS}"
                f" WHERE {where} AND p.id > ? ORDER BY p.id LIMIT {int(batch)}"
            )
            rows = await self._read_positions(sql, [*params, last])
            if not rows:
                return
            yield rows
            last = rows[-1].id
