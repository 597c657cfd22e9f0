"""Articles, evidence sentences, actors and positions, and the summary the card reads.

`stance_summary` folds positions into one row per (actor, party, guarantee, stance, guarantor,
beneficiary), kept current by triggers in the same transaction as every insert and delete, so
the briefing card reads a few hundred rows whatever the number of positions.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.models import Article, Position, PositionFilter, StoredPosition, SummaryRow
from bot.store.base import StoreBase, from_db_time, to_db_time
from bot.vocabulary import Guarantee, Stance

MIGRATIONS = [
    (
        "positions-1",
        """
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            url TEXT UNIQUE,
            guid TEXT UNIQUE,
            title TEXT NOT NULL,
            outlet TEXT,
            published TEXT,
            text_hash TEXT NOT NULL UNIQUE,
            body BLOB NOT NULL,
            source TEXT,
            cluster_id INTEGER,
            added_at TEXT NOT NULL
        );
        CREATE INDEX articles_cluster ON articles (cluster_id);
        CREATE TABLE sentences (
            id INTEGER PRIMARY KEY,
            hash INTEGER NOT NULL UNIQUE,
            text TEXT NOT NULL
        );
        CREATE TABLE actors (
            id INTEGER PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            party TEXT NOT NULL
        );
        CREATE TABLE extractions (
            article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            extractor TEXT NOT NULL,
            version TEXT NOT NULL,
            extracted_at TEXT NOT NULL,
            PRIMARY KEY (article_id, extractor)
        ) WITHOUT ROWID;
        CREATE TABLE positions (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            sentence_id INTEGER NOT NULL REFERENCES sentences (id),
            actor_id INTEGER NOT NULL REFERENCES actors (id),
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
        CREATE INDEX positions_article ON positions (article_id);
        CREATE INDEX positions_guarantee_fresh ON positions (guarantee, published);
        CREATE INDEX positions_party ON positions (party, guarantee);
        CREATE INDEX positions_key ON positions (actor_id, guarantee, stance, published);
        CREATE INDEX positions_added ON positions (added_at);
        CREATE TABLE stance_summary (
            actor_id INTEGER NOT NULL,
            party TEXT NOT NULL,
            guarantee TEXT NOT NULL,
            stance TEXT NOT NULL,
            guarantor TEXT NOT NULL,
            beneficiary TEXT NOT NULL,
            positions INTEGER NOT NULL,
            latest_published TEXT NOT NULL,
            latest_position_id INTEGER NOT NULL,
            PRIMARY KEY (actor_id, party, guarantee, stance, guarantor, beneficiary)
        ) WITHOUT ROWID;
        CREATE TRIGGER positions_summary_insert AFTER INSERT ON positions
        BEGIN
            INSERT INTO stance_summary VALUES (
                new.actor_id, new.party, new.guarantee, new.stance,
                ifnull(new.guarantor, ''), ifnull(new.beneficiary, ''),
                1, ifnull(new.published, ''), new.id)
            ON CONFLICT DO UPDATE SET
                positions = positions + 1,
                latest_position_id = CASE
                    WHEN excluded.latest_published >= latest_published
                    THEN excluded.latest_position_id ELSE latest_position_id END,
                latest_published = max(latest_published, excluded.latest_published);
        END;
        CREATE TRIGGER positions_summary_delete AFTER DELETE ON positions
        BEGIN
            UPDATE stance_summary SET positions = positions - 1
            WHERE actor_id = old.actor_id AND party = old.party AND guarantee = old.guarantee
              AND stance = old.stance AND guarantor = ifnull(old.guarantor, '')
              AND beneficiary = ifnull(old.beneficiary, '');
            DELETE FROM stance_summary
            WHERE actor_id = old.actor_id AND party = old.party AND guarantee = old.guarantee
              AND stance = old.stance AND guarantor = ifnull(old.guarantor, '')
              AND beneficiary = ifnull(old.beneficiary, '') AND positions <= 0;
            UPDATE stance_summary SET (latest_published, latest_position_id) = (
                SELECT ifnull(p.published, ''), p.id FROM positions AS p
                WHERE p.actor_id = old.actor_id AND p.guarantee = old.guarantee
                  AND p.stance = old.stance AND p.party = old.party
                  AND ifnull(p.guarantor, '') = ifnull(old.guarantor, '')
                  AND ifnull(p.beneficiary, '') = ifnull(old.beneficiary, '')
                ORDER BY ifnull(p.published, '') DESC, p.id DESC LIMIT 1)
            WHERE actor_id = old.actor_id AND party = old.party AND guarantee = old.guarantee
              AND stance = old.stance AND guarantor = ifnull(old.guarantor, '')
              AND beneficiary = ifnull(old.beneficiary, '') AND latest_position_id = old.id;
        END;
        """,
    )
]


@dataclass(frozen=True)
class AddResult:
    """What happened to one article offered to the store."""

    key: str
    added: bool
    reason: str  # "new", or why it was a duplicate: "same id", "same url", "same guid", "same text"


@dataclass(frozen=True)
class StoreStats:
    positions: int
    sources: int
    actors: int
    parties: int
    latest_published: date | None


def normalise_text(text: str) -> str:
    """Text as compared for duplicates: case, accents, punctuation and spacing ignored."""
    folded = unicodedata.normalize("NFKD", text).casefold()
    words = re.findall(r"\w+", folded)
    return " ".join(words)


def text_hash(text: str) -> str:
    return hashlib.blake2b(normalise_text(text).encode(), digest_size=16).hexdigest()


def _sentence_hash(sentence: str) -> int:
    digest = hashlib.blake2b(sentence.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _parse_date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


_POSITION_COLUMNS = """
    p.id, a.key AS article_key, ac.slug AS actor, p.party, p.stance, p.guarantee, p.guarantor,
    p.beneficiary, s.text AS evidence, a.url, a.title, a.outlet, p.published, p.added_at,
    p.extractor, a.cluster_id
"""
_POSITION_JOINS = """
    FROM positions AS p
    JOIN articles AS a ON a.id = p.article_id
    JOIN sentences AS s ON s.id = p.sentence_id
    JOIN actors AS ac ON ac.id = p.actor_id
"""


def _filter_sql(filter_: PositionFilter, alias: str) -> tuple[str, list[object]]:
    """WHERE clauses for a filter over `positions` or `stance_summary` (same column names)."""
    clauses: list[str] = []
    params: list[object] = []
    for party in filter_.parties:
        clauses.append(
            f"({alias}.party = ? OR {alias}.guarantor = ? OR {alias}.beneficiary = ?)"
        )
        params += [party, party, party]
    if filter_.held_by:
        marks = ",".join("?" * len(filter_.held_by))
        clauses.append(f"{alias}.party IN ({marks})")
        params += sorted(filter_.held_by)
    if filter_.actors:
        marks = ",".join("?" * len(filter_.actors))
        clauses.append(f"{alias}.actor_id IN (SELECT id FROM actors WHERE slug IN ({marks}))")
        params += sorted(filter_.actors)
    if filter_.guarantees:
        marks = ",".join("?" * len(filter_.guarantees))
        clauses.append(f"{alias}.guarantee IN ({marks})")
        params += sorted(str(g) for g in filter_.guarantees)
    return (" AND ".join(clauses) or "1"), params


class PositionStoreMixin(StoreBase):
    """Articles in, positions in, summaries and evidence out."""

    # --- articles -------------------------------------------------------------------------

    async def add_article(self, article: Article) -> AddResult:
        """Insert an article unless the store already has it by id, URL, GUID or text."""
        digest = text_hash(article.text)
        async with self.transaction() as db:
            checks: list[tuple[str, str, str | None]] = [
                ("same id", "key", article.id),
                ("same url", "url", article.url),
                ("same guid", "guid", article.guid),
                ("same text", "text_hash", digest),
            ]
            for reason, column, value in checks:
                if value is None:
                    continue
                sql = f"SELECT key FROM articles WHERE {column} = ?"
                async with db.execute(sql, (value,)) as cursor:
                    row = await cursor.fetchone()
                if row is not None:
                    return AddResult(key=row[0], added=False, reason=reason)
            await db.execute(
                "INSERT INTO articles (key, url, guid, title, outlet, published, text_hash, body,"
                " source, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    article.id,
                    article.url,
                    article.guid,
                    article.title,
                    article.outlet,
                    article.published.isoformat() if article.published else None,
                    digest,
                    zlib.compress(article.text.encode(), 6),
                    article.source,
                    to_db_time(self.clock()),
                ),
            )
        return AddResult(key=article.id, added=True, reason="new")

    async def get_article(self, key: str) -> Article | None:
        async with self.db.execute(
            "SELECT key, title, body, url, outlet, published, source, guid FROM articles"
            " WHERE key = ?",
            (key,),
        ) as cursor:
            row = await cursor.fetchone()
        return _article_from_row(row) if row else None

    async def articles_to_extract(self, extractor: str, version: str) -> list[Article]:
        """Articles never extracted by this extractor, or extracted by another version."""
        async with self.db.execute(
            "SELECT a.key, a.title, a.body, a.url, a.outlet, a.published, a.source, a.guid"
            " FROM articles AS a LEFT JOIN extractions AS e"
            "   ON e.article_id = a.id AND e.extractor = ?"
            " WHERE e.version IS NULL OR e.version != ? ORDER BY a.id",
            (extractor, version),
        ) as cursor:
            return [_article_from_row(row) async for row in cursor]

    async def count_articles(self) -> int:
        async with self.db.execute("SELECT count(*) FROM articles") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    # --- positions ------------------------------------------------------------------------

    async def save_positions(
        self,
        article_key: str,
        positions: Sequence[Position],
        extractor: str,
        version: str,
    ) -> bool:
        """Replace this extractor's positions for one article, in one transaction.

        Returns False (and changes nothing) when this extractor version already did it.
        """
        async with self.transaction() as db:
            async with db.execute(
                "SELECT a.id, a.published, e.version FROM articles AS a LEFT JOIN extractions"
                " AS e ON e.article_id = a.id AND e.extractor = ? WHERE a.key = ?",
                (extractor, article_key),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise KeyError(f"no article {article_key!r} in the store")
            article_pk, published, done_version = row
            if done_version == version:
                return False
            await db.execute(
                "DELETE FROM positions WHERE article_id = ? AND extractor = ?",
                (article_pk, extractor),
            )
            now = to_db_time(self.clock())
            for position in positions:
                sentence_id = await self._sentence_id(position.evidence)
                actor_id = await self._actor_id(position.actor, position.party)
                await db.execute(
                    "INSERT INTO positions (article_id, sentence_id, actor_id, party, stance,"
                    " guarantee, guarantor, beneficiary, published, added_at, extractor,"
                    " extractor_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        article_pk,
                        sentence_id,
                        actor_id,
                        position.party,
                        str(position.stance),
                        str(position.guarantee),
                        position.guarantor,
                        position.beneficiary,
                        published,
                        now,
                        extractor,
                        version,
                    ),
                )
            await db.execute(
                "INSERT INTO extractions (article_id, extractor, version, extracted_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (article_id, extractor)"
                " DO UPDATE SET version = excluded.version, extracted_at = excluded.extracted_at",
                (article_pk, extractor, version, now),
            )
        return True

    async def _sentence_id(self, sentence: str) -> int:
        digest = _sentence_hash(sentence)
        async with self.db.execute(
            "INSERT INTO sentences (hash, text) VALUES (?, ?)"
            " ON CONFLICT (hash) DO UPDATE SET hash = hash RETURNING id",
            (digest, sentence),
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def _actor_id(self, slug: str, party: str) -> int:
        async with self.db.execute(
            "INSERT INTO actors (slug, party) VALUES (?, ?)"
            " ON CONFLICT (slug) DO UPDATE SET slug = slug RETURNING id",
            (slug, party),
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def summary(self, filter_: PositionFilter) -> list[SummaryRow]:
        """The folded positions a briefing card is drawn from."""
        where, params = _filter_sql(filter_, "s")
        sql = (
            "SELECT ac.slug, s.party, s.guarantee, s.stance, s.guarantor, s.beneficiary,"
            " s.positions, s.latest_published, s.latest_position_id"
            " FROM stance_summary AS s JOIN actors AS ac ON ac.id = s.actor_id"
            f" WHERE {where}"
        )
        async with self.db.execute(sql, params) as cursor:
            return [
                SummaryRow(
                    actor=row[0],
                    party=row[1],
                    guarantee=Guarantee(row[2]),
                    stance=Stance(row[3]),
                    guarantor=row[4] or None,
                    beneficiary=row[5] or None,
                    positions=int(row[6]),
                    latest_published=_parse_date(row[7]),
                    latest_position_id=int(row[8]),
                )
                async for row in cursor
            ]

    async def positions_by_ids(self, ids: Iterable[int]) -> list[StoredPosition]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        sql = f"SELECT {_POSITION_COLUMNS} {_POSITION_JOINS} WHERE p.id IN ({marks})"
        return await self._read_positions(sql, wanted)

    async def positions(
        self,
        filter_: PositionFilter,
        *,
        limit: int = 100,
        added_since: datetime | None = None,
        added_before: datetime | None = None,
    ) -> list[StoredPosition]:
        """Positions matching the filter, freshest first (by publication date, then id)."""
        where, params = _filter_sql(filter_, "p")
        if added_since is not None:
            where += " AND p.added_at >= ?"
            params.append(to_db_time(added_since))
        if added_before is not None:
            where += " AND p.added_at < ?"
            params.append(to_db_time(added_before))
        sql = (
            f"SELECT {_POSITION_COLUMNS} {_POSITION_JOINS} WHERE {where}"
            " ORDER BY ifnull(p.published, '') DESC, p.id DESC LIMIT ?"
        )
        return await self._read_positions(sql, [*params, limit])

    async def _read_positions(self, sql: str, params: Sequence[object]) -> list[StoredPosition]:
        async with self.db.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        outlets = await self._cluster_outlets({row["cluster_id"] for row in rows})
        return [
            StoredPosition(
                id=row["id"],
                article_id=row["article_key"],
                actor=row["actor"],
                party=row["party"],
                stance=Stance(row["stance"]),
                guarantee=Guarantee(row["guarantee"]),
                guarantor=row["guarantor"],
                beneficiary=row["beneficiary"],
                evidence=row["evidence"],
                url=row["url"],
                title=row["title"],
                outlet=row["outlet"],
                published=_parse_date(row["published"]),
                added_at=from_db_time(row["added_at"]),
                extractor=row["extractor"],
                outlets=outlets.get(row["cluster_id"], 1),
            )
            for row in rows
        ]

    async def _cluster_outlets(self, cluster_ids: set[int | None]) -> dict[int, int]:
        """How many articles each story cluster holds (filled by clustering, issue 5)."""
        wanted = sorted(c for c in cluster_ids if c is not None)
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        sql = (
            "SELECT cluster_id, count(DISTINCT ifnull(outlet, key)) FROM articles"
            f" WHERE cluster_id IN ({marks}) GROUP BY cluster_id"
        )
        async with self.db.execute(sql, wanted) as cursor:
            return {int(row[0]): int(row[1]) async for row in cursor}

    async def stats(self, filter_: PositionFilter) -> StoreStats:
        """Counts for the card's context line."""
        where, params = _filter_sql(filter_, "s")
        async with self.db.execute(
            "SELECT ifnull(sum(positions), 0), count(DISTINCT actor_id), count(DISTINCT party),"
            f" max(latest_published) FROM stance_summary AS s WHERE {where}",
            params,
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        where_p, params_p = _filter_sql(filter_, "p")
        async with self.db.execute(
            f"SELECT count(DISTINCT p.article_id) FROM positions AS p WHERE {where_p}", params_p
        ) as cursor:
            sources_row = await cursor.fetchone()
        return StoreStats(
            positions=int(row[0]),
            sources=int(sources_row[0]) if sources_row else 0,
            actors=int(row[1]),
            parties=int(row[2]),
            latest_published=_parse_date(row[3]),
        )

    async def known_actors(self) -> dict[str, str]:
        """Every actor the store has positions for: slug -> party."""
        async with self.db.execute(
            "SELECT slug, party FROM actors WHERE id IN (SELECT actor_id FROM stance_summary)"
        ) as cursor:
            return {row[0]: row[1] async for row in cursor}

    async def known_parties(self) -> set[str]:
        async with self.db.execute(
            "SELECT party FROM stance_summary UNION SELECT guarantor FROM stance_summary"
            " UNION SELECT beneficiary FROM stance_summary"
        ) as cursor:
            return {row[0] async for row in cursor if row[0]}

    async def count_positions(self) -> int:
        async with self.db.execute("SELECT count(*) FROM positions") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0


def _article_from_row(row: Sequence[object]) -> Article:
    key, title, body, url, outlet, published, source, guid = row
    return Article(
        id=str(key),
        title=str(title),
        text=zlib.decompress(body).decode(),  # type: ignore[arg-type]
        url=url,  # type: ignore[arg-type]
        outlet=outlet,  # type: ignore[arg-type]
        published=_parse_date(published),  # type: ignore[arg-type]
        source=source,  # type: ignore[arg-type]
        guid=guid,  # type: ignore[arg-type]
    )
