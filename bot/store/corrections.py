"""Analysts' corrections of extracted positions (issue 9), per Slack workspace (issue 10).

A correction is keyed to what an extractor sees, not to a row id: (team, article key, hash of
the evidence sentence, original party, stance, guarantee). It never edits the shared corpus:
`positions` and the summaries its triggers keep (`topic_summary`, `cell_summary`, article
counts) stay as extracted, one corpus for every workspace. Applying a correction writes the
team's overlay instead, in the same transaction:

- `team_withheld`: the shared positions with that key, which this team no longer sees;
- `team_positions`: the corrected positions that take their place (none for "not a
  position"), shaped like `positions`; read back with negative ids, so one id names one row
  whatever table it lives in, and a team's rows resolve for that team only.

Every read made for a team with active corrections adds the overlay to the shared result
(`bot.store.team_overlay`): a team without corrections reads the shared tables alone, and its
cards are cached once for all such teams.

When an article is extracted again (a newer extractor version replaces its positions), its
overlay rows are dropped and every team's active corrections of the article applied again to
the new rows in the same transaction: a correction survives re-ingesting and re-extraction.
Undo drops the correction's overlay rows (the team sees what the extractor said) and keeps
the correction, marked undone, for the record.

Team ids: in single-workspace mode every correction belongs to the team `""` (the one
workspace, also what the command line reads); with OAuth, to the workspace bolt authorised
the request for. Corrections made before this migration were the single workspace's: they
get `""`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import aiosqlite
import asyncpg

from bot.store.base import Migration, from_db_time, to_db_time
from bot.store.dialect import Dialect
from bot.store.positions import PositionStoreMixin
from bot.store.team_positions import TeamPositionsMixin
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

# Tables whose writes change what a team's cards show: PostgreSQL bumps the store version
# for them (see `bot.store.replicas`), so every replica's card cache follows a correction.
OVERLAY_TABLES = ("corrections", "team_positions", "team_withheld")


def _teams_migration(dialect: Dialect) -> str:
    versions = "\n".join(
        f"CREATE TRIGGER {table}_store_version AFTER INSERT OR UPDATE OR DELETE ON {table}"
        " FOR EACH STATEMENT EXECUTE FUNCTION bump_store_version();"
        for table in OVERLAY_TABLES
    ) if dialect.postgres else ""
    return f"""
        -- Corrections made so far were the single workspace's: team ''.
        ALTER TABLE corrections ADD COLUMN team_id TEXT NOT NULL DEFAULT '';
        DROP INDEX corrections_active;
        CREATE UNIQUE INDEX corrections_active
            ON corrections (team_id, article_key, sentence_hash, party, stance, guarantee)
            WHERE undone_at IS NULL;
        CREATE INDEX corrections_team ON corrections (team_id, undone_at);
        -- A team's corrected positions, shaped like `positions` (read with negative ids).
        CREATE TABLE team_positions (
            id INTEGER PRIMARY KEY,
            team_id TEXT NOT NULL,
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
            extractor_version TEXT NOT NULL,
            found_by TEXT
        );
        CREATE INDEX team_positions_team ON team_positions (team_id, guarantee);
        CREATE INDEX team_positions_correction ON team_positions (correction_id);
        CREATE INDEX team_positions_article ON team_positions (article_id);
        -- The shared positions a team's corrections replaced, which that team does not see.
        CREATE TABLE team_withheld (
            team_id TEXT NOT NULL,
            position_id INTEGER NOT NULL,
            correction_id INTEGER NOT NULL,
            article_id INTEGER NOT NULL,
            PRIMARY KEY (team_id, position_id)
        );
        CREATE INDEX team_withheld_correction ON team_withheld (correction_id);
        CREATE INDEX team_withheld_article ON team_withheld (article_id);
        -- The corrections applied to the shared corpus so far move into team ''s overlay,
        -- and the shared positions and summaries are back as extracted.
        INSERT INTO team_positions (team_id, correction_id, {_ROW_COLUMNS})
        SELECT '', correction_id, {_ROW_COLUMNS} FROM positions
        WHERE correction_id IS NOT NULL;
        DELETE FROM positions WHERE correction_id IS NOT NULL;
        INSERT INTO positions (id, {_ROW_COLUMNS})
        SELECT id, {_ROW_COLUMNS} FROM withheld_positions;
        INSERT INTO team_withheld (team_id, position_id, correction_id, article_id)
        SELECT '', id, correction_id, article_id FROM withheld_positions;
        DROP TABLE withheld_positions;
        DROP INDEX positions_correction;
        {versions}
    """


# After the replicas' migrations (they create PostgreSQL's `bump_store_version`).
TEAM_MIGRATIONS: list[Migration] = [("corrections-2-teams", _teams_migration)]


def correction_team(oauth: bool, team_id: str | None) -> str:
    """The team a workspace's corrections are kept under: `""` for the single workspace
    (whatever team id its requests carry, and the command line); with OAuth, the workspace
    itself (`"-"`, a team that matches nothing, when a request names none)."""
    if not oauth:
        return ""
    return team_id or "-"


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
    team: str = ""  # the workspace it belongs to ("": the single workspace)

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


# What an analyst is told when the position was corrected (or replaced) since the card showed
# it: by a colleague a moment ago, or by a re-extraction.
GONE = "That position is no longer in the store."


def _is_active_duplicate(error: Exception) -> bool:
    """The `corrections_active` index refused a second active correction of one tuple."""
    if isinstance(error, asyncpg.UniqueViolationError):
        return error.constraint_name == "corrections_active"
    text = str(error)
    return isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in text and (
        "corrections." in text
    )


class CorrectionStoreMixin(PositionStoreMixin):
    """Corrections in, applied to their team's overlay (also after re-extraction), undone,
    listed. `team` is the workspace (`""`: the single workspace)."""

    async def correct_position(
        self,
        position_id: int,
        kind: CorrectionKind,
        *,
        user_id: str,
        team: str = "",
        new_stance: Stance | None = None,
        new_party: str | None = None,
        note: str | None = None,
    ) -> CorrectionResult:
        """Correct the extracted tuple behind a position as `team` sees it. A position that
        is itself a correction is corrected again from its original tuple (the earlier one is
        undone)."""
        now = to_db_time(self.clock())
        async with self.transaction() as db:
            await self._lock_article(db, article_id=await self._article_of(db, position_id))
            key = await self._key_of(db, position_id, team)  # read again under the lock
            if key is None:
                raise CorrectionError(GONE)
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
            try:
                async with db.execute(
                    "INSERT INTO corrections (team_id, article_key, sentence_hash, party,"
                    " stance, guarantee, kind, new_party, new_stance, note, user_id,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        team, article_key, sentence_hash, party, stance, guarantee, str(kind),
                        new_party if kind is CorrectionKind.PARTY else None,
                        str(new_stance) if kind is CorrectionKind.STANCE and new_stance else None,
                        (note or "").strip()[:1000] or None, user_id, now,
                    ),
                ) as cursor:
                    row = await cursor.fetchone()
            except (asyncpg.UniqueViolationError, sqlite3.IntegrityError) as error:
                # A colleague's correction of the same tuple committed first: as if this one
                # had come after it (its position is withheld now). Nothing is kept.
                if _is_active_duplicate(error):
                    raise CorrectionError(GONE) from None
                raise
            assert row is not None
            correction = await self._correction(db, int(row[0]))
            changed = await self._apply(db, correction)
        return CorrectionResult(correction, changed)

    async def undo_correction(
        self, position_id: int, *, user_id: str, team: str = ""
    ) -> Correction | None:
        """Undo the correction a position of `team` carries; None when it carries none (a
        shared position, or another team's)."""
        now = to_db_time(self.clock())
        if position_id >= 0:
            return None
        async with self.transaction() as db:
            await self._lock_article(db, article_id=await self._article_of(db, position_id))
            async with db.execute(
                "SELECT correction_id FROM team_positions WHERE id = ? AND team_id = ?",
                (-position_id, team),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            correction_id = int(row[0])
            await self._restore(db, correction_id)
            await db.execute(
                "UPDATE corrections SET undone_by = ?, undone_at = ? WHERE id = ?",
                (user_id, now, correction_id),
            )
            return await self._correction(db, correction_id)

    async def undo_correction_by_id(
        self, correction_id: int, *, user_id: str, team: str = ""
    ) -> bool:
        """Undo an active correction of `team` by its id ("not a position" leaves no row to
        click)."""
        now = to_db_time(self.clock())
        async with self.transaction() as db:
            async with db.execute(
                "SELECT article_key FROM corrections WHERE id = ?", (correction_id,)
            ) as cursor:
                found = await cursor.fetchone()
            if found is None:
                return False
            await self._lock_article(db, found[0])
            async with db.execute(
                "SELECT 1 FROM corrections WHERE id = ? AND team_id = ? AND undone_at IS NULL",
                (correction_id, team),
            ) as cursor:
                if await cursor.fetchone() is None:
                    return False
            await self._restore(db, correction_id)
            await db.execute(
                "UPDATE corrections SET undone_by = ?, undone_at = ? WHERE id = ?",
                (user_id, now, correction_id),
            )
        return True

    async def corrections(
        self, *, team: str | None = "", active_only: bool = True
    ) -> list[Correction]:
        """A team's corrections (`team=None`: every team's), oldest first."""
        clauses = ["undone_at IS NULL"] if active_only else []
        params: list[object] = []
        if team is not None:
            clauses.append("team_id = ?")
            params.append(team)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self.db.execute(
            f"SELECT * FROM corrections {where} ORDER BY id", params
        ) as cursor:
            return [_correction_from_row(row) async for row in cursor]

    async def corrected_positions(self, correction_id: int) -> list[int]:
        """Ids (negative: a team's rows) of the positions a correction put in place."""
        async with self.db.execute(
            "SELECT id FROM team_positions WHERE correction_id = ? ORDER BY id",
            (correction_id,),
        ) as cursor:
            return [-int(row[0]) async for row in cursor]

    async def has_corrections(self, team: str) -> bool:
        """Whether a team has active corrections: once per store version."""

        async def look() -> bool:
            async with self.db.execute(
                "SELECT 1 FROM corrections WHERE team_id = ? AND undone_at IS NULL LIMIT 1",
                (team,),
            ) as cursor:
                return await cursor.fetchone() is not None

        return await self.memo(("has-corrections", team), look)

    async def overlay_team(self, team: str) -> str | None:
        """The `PositionFilter.team` of a workspace's reads: itself when it has corrections,
        else None (the shared corpus, and the cards every such team shares)."""
        return team if await self.has_corrections(team) else None

    # --- the hook `save_positions` calls ---------------------------------------------------

    async def _positions_replaced(
        self, db: aiosqlite.Connection, article_pk: int, article_key: str, extractor: str
    ) -> None:
        """An extractor just replaced this article's positions: every team's corrections of
        the article hold again, on the new rows."""
        await db.execute("DELETE FROM team_withheld WHERE article_id = ?", (article_pk,))
        await db.execute("DELETE FROM team_positions WHERE article_id = ?", (article_pk,))
        async with db.execute(
            "SELECT * FROM corrections WHERE article_key = ? AND undone_at IS NULL ORDER BY id",
            (article_key,),
        ) as cursor:
            active = [_correction_from_row(row) async for row in cursor]
        for correction in active:
            await self._apply(db, correction)

    # --- internals -------------------------------------------------------------------------

    async def _article_of(self, db: aiosqlite.Connection, position_id: int) -> int | None:
        """The article (id) of a shared position or of a team's row (a negative id), read
        before locking it; None when there is no such row."""
        sql = (
            "SELECT article_id FROM positions WHERE id = ?"
            if position_id >= 0
            else "SELECT article_id FROM team_positions WHERE id = ?"
        )
        async with db.execute(sql, (abs(position_id),)) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else None

    async def _key_of(
        self, db: aiosqlite.Connection, position_id: int, team: str
    ) -> tuple[str, int, str, str, str, int | None] | None:
        """The extracted tuple behind a position as `team` sees it, and the team's active
        correction of it if any. None: no such position for this team."""
        if position_id < 0:  # one of the team's corrected rows: its key is the original tuple
            async with db.execute(
                "SELECT correction_id FROM team_positions WHERE id = ? AND team_id = ?",
                (-position_id, team),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            earlier = await self._correction(db, int(row[0]))
            return (
                earlier.article_key, earlier.sentence_hash, earlier.party,
                str(earlier.stance), str(earlier.guarantee), earlier.id,
            )
        async with db.execute(
            "SELECT a.key, s.hash, p.party, p.stance, p.guarantee"
            " FROM positions AS p JOIN articles AS a ON a.id = p.article_id"
            " JOIN sentences AS s ON s.id = p.sentence_id WHERE p.id = ?"
            " AND NOT EXISTS (SELECT 1 FROM team_withheld AS w"
            " WHERE w.team_id = ? AND w.position_id = p.id)",
            (position_id, team),
        ) as cursor:
            found = await cursor.fetchone()
        if found is None:
            return None
        key = (found[0], int(found[1]), found[2], found[3], found[4])
        async with db.execute(  # an active correction of the same tuple (another extractor)
            "SELECT id FROM corrections WHERE team_id = ? AND article_key = ?"
            " AND sentence_hash = ? AND party = ? AND stance = ? AND guarantee = ?"
            " AND undone_at IS NULL",
            (team, *key),
        ) as cursor:
            active = await cursor.fetchone()
        return (*key, int(active[0]) if active else None)

    async def _correction(self, db: aiosqlite.Connection, correction_id: int) -> Correction:
        async with db.execute("SELECT * FROM corrections WHERE id = ?", (correction_id,)) as cur:
            row = await cur.fetchone()
        assert row is not None
        return _correction_from_row(row)

    async def _apply(self, db: aiosqlite.Connection, correction: Correction) -> int:
        """Withhold, for the correction's team, the shared rows matching its key; add the
        corrected ones to the team's rows. Returns how many rows it replaced."""
        columns = ", ".join("p." + c.strip() for c in _ROW_COLUMNS.split(","))
        async with db.execute(
            f"SELECT p.id, {columns}, p.found_by"
            " FROM positions AS p JOIN articles AS a ON a.id = p.article_id"
            " JOIN sentences AS s ON s.id = p.sentence_id"
            " WHERE a.key = ? AND s.hash = ? AND p.party = ? AND p.stance = ?"
            " AND p.guarantee = ? AND NOT EXISTS (SELECT 1 FROM team_withheld AS w"
            " WHERE w.team_id = ? AND w.position_id = p.id)",
            (
                correction.article_key, correction.sentence_hash, correction.party,
                str(correction.stance), str(correction.guarantee), correction.team,
            ),
        ) as cursor:
            rows = list(await cursor.fetchall())
        now = to_db_time(self.clock())
        for row in rows:
            values = list(row)
            await db.execute(
                "INSERT INTO team_withheld (team_id, position_id, correction_id, article_id)"
                " VALUES (?, ?, ?, ?)",
                (correction.team, values[0], correction.id, values[1]),
            )
            if correction.kind is CorrectionKind.NOT_POSITION:
                continue
            (article_id, sentence_id, actor_id, party, stance, guarantee, guarantor,
             beneficiary, published, _added, extractor_name, version, found_by) = values[1:]
            if correction.kind is CorrectionKind.PARTY:
                party = correction.corrected_party
                actor_id = await self._actor_for_party(db, actor_id, party)
            else:
                stance = str(correction.corrected_stance)
            await db.execute(
                f"INSERT INTO team_positions (team_id, correction_id, {_ROW_COLUMNS}, found_by)"
                f" VALUES ({', '.join('?' * 15)})",
                (correction.team, correction.id, article_id, sentence_id, actor_id, party,
                 stance, guarantee, guarantor, beneficiary, published, now, extractor_name,
                 version, found_by),
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
        """The team sees what the extractor said again: its overlay rows for it go."""
        await db.execute("DELETE FROM team_positions WHERE correction_id = ?", (correction_id,))
        await db.execute("DELETE FROM team_withheld WHERE correction_id = ?", (correction_id,))


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
        team=row["team_id"],
    )


class AnalystViewsMixin(CorrectionStoreMixin, TeamPositionsMixin):
    """Corrections written, and every position read with a team's corrections."""
