"""Articles, evidence sentences, actors and positions, and the summary the card reads.

`topic_summary` folds positions into one row per (topic, guarantee, stance, party, actor),
where a topic is '*' or a party involved in the position; `topic_articles` counts the articles
behind each topic. Triggers keep both current in the same transaction as every insert and
delete, so the briefing card reads a few hundred rows whatever the number of positions.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from bot.models import (
    Article,
    DateWindow,
    Position,
    PositionFilter,
    StanceCell,
    StoredPosition,
    SummaryRow,
)
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
        -- One row per (topic, guarantee, stance, party, actor): the topic is '*' (every
        -- position) or a party involved as holder, guarantor or beneficiary. The card reads
        -- only these rows, so it stays fast whatever the number of positions.
        CREATE TABLE topic_summary (
            topic TEXT NOT NULL,
            guarantee TEXT NOT NULL,
            stance TEXT NOT NULL,
            party TEXT NOT NULL,
            actor_id INTEGER NOT NULL,
            positions INTEGER NOT NULL,
            latest_published TEXT NOT NULL,
            latest_position_id INTEGER NOT NULL,
            PRIMARY KEY (topic, guarantee, stance, party, actor_id)
        ) WITHOUT ROWID;
        CREATE INDEX topic_summary_actor ON topic_summary (actor_id, topic);
        -- Which articles each topic draws on, with a reference count of positions.
        CREATE TABLE topic_articles (
            topic TEXT NOT NULL,
            article_id INTEGER NOT NULL,
            positions INTEGER NOT NULL,
            PRIMARY KEY (topic, article_id)
        ) WITHOUT ROWID;
        CREATE TABLE topic_counts (
            topic TEXT PRIMARY KEY,
            articles INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TRIGGER topic_articles_insert AFTER INSERT ON topic_articles
        BEGIN
            INSERT INTO topic_counts VALUES (new.topic, 1)
            ON CONFLICT (topic) DO UPDATE SET articles = topic_counts.articles + 1;
        END;
        CREATE TRIGGER topic_articles_delete AFTER DELETE ON topic_articles
        BEGIN
            UPDATE topic_counts SET articles = articles - 1 WHERE topic = old.topic;
        END;
        CREATE TRIGGER positions_summary_insert AFTER INSERT ON positions
        BEGIN
            INSERT INTO topic_summary
            SELECT t.topic, new.guarantee, new.stance, new.party, new.actor_id,
                   1, ifnull(new.published, ''), new.id
            FROM (SELECT '*' AS topic UNION SELECT new.party UNION SELECT new.guarantor
                  UNION SELECT new.beneficiary) AS t
            WHERE t.topic IS NOT NULL
            ON CONFLICT (topic, guarantee, stance, party, actor_id) DO UPDATE SET
                positions = topic_summary.positions + 1,
                latest_position_id = CASE
                    WHEN excluded.latest_published >= topic_summary.latest_published
                    THEN excluded.latest_position_id ELSE topic_summary.latest_position_id END,
                latest_published = max(topic_summary.latest_published,
                                       excluded.latest_published);
            INSERT INTO topic_articles
            SELECT t.topic, new.article_id, 1
            FROM (SELECT '*' AS topic UNION SELECT new.party UNION SELECT new.guarantor
                  UNION SELECT new.beneficiary) AS t
            WHERE t.topic IS NOT NULL
            ON CONFLICT (topic, article_id) DO UPDATE SET
                positions = topic_articles.positions + 1;
        END;
        CREATE TRIGGER positions_summary_delete AFTER DELETE ON positions
        BEGIN
            UPDATE topic_summary SET positions = positions - 1
            WHERE topic IN ('*', old.party, old.guarantor, old.beneficiary)
              AND guarantee = old.guarantee AND stance = old.stance
              AND party = old.party AND actor_id = old.actor_id;
            DELETE FROM topic_summary
            WHERE topic IN ('*', old.party, old.guarantor, old.beneficiary)
              AND guarantee = old.guarantee AND stance = old.stance
              AND party = old.party AND actor_id = old.actor_id AND positions <= 0;
            UPDATE topic_summary SET (latest_published, latest_position_id) = (
                SELECT ifnull(p.published, ''), p.id FROM positions AS p
                WHERE p.actor_id = old.actor_id AND p.guarantee = old.guarantee
                  AND p.stance = old.stance AND p.party = old.party
                  AND (topic_summary.topic = '*'
                       OR topic_summary.topic IN (p.party, p.guarantor, p.beneficiary))
                ORDER BY ifnull(p.published, '') DESC, p.id DESC LIMIT 1)
            WHERE topic IN ('*', old.party, old.guarantor, old.beneficiary)
              AND guarantee = old.guarantee AND stance = old.stance
              AND party = old.party AND actor_id = old.actor_id
              AND latest_position_id = old.id
              -- PostgreSQL runs row triggers once the whole DELETE is done: when the other
              -- positions of the row went in the same statement, its own trigger drops it.
              AND EXISTS (
                SELECT 1 FROM positions AS p
                WHERE p.actor_id = old.actor_id AND p.guarantee = old.guarantee
                  AND p.stance = old.stance AND p.party = old.party
                  AND (topic_summary.topic = '*'
                       OR topic_summary.topic IN (p.party, p.guarantor, p.beneficiary)));
            UPDATE topic_articles SET positions = positions - 1
            WHERE topic IN ('*', old.party, old.guarantor, old.beneficiary)
              AND article_id = old.article_id;
            DELETE FROM topic_articles
            WHERE topic IN ('*', old.party, old.guarantor, old.beneficiary)
              AND article_id = old.article_id AND positions <= 0;
        END;
        """,
    )
]


_CELL_KEY = (
    "topic = {r}.topic AND guarantee = {r}.guarantee AND stance = {r}.stance"
    " AND party = {r}.party"
)
_CELL_LATEST = (
    "SELECT s.latest_published, s.latest_position_id, s.actor_id FROM topic_summary AS s"
    " WHERE s.topic = {r}.topic AND s.guarantee = {r}.guarantee AND s.stance = {r}.stance"
    " AND s.party = {r}.party ORDER BY s.latest_published DESC, s.latest_position_id DESC"
    " LIMIT 1"
)

# The newest per-actor row of cell `s` (a correlated subquery's FROM ... LIMIT 1).
_LATEST_OF_CELL = (
    "FROM topic_summary AS l WHERE l.topic = s.topic AND l.guarantee = s.guarantee"
    " AND l.stance = s.stance AND l.party = s.party"
    " ORDER BY l.latest_published DESC, l.latest_position_id DESC LIMIT 1"
)

MIGRATIONS.append(
    (
        "positions-2-cells",
        f"""
        -- One row per (topic, guarantee, stance, party), folded over actors: what a whole
        -- topic's card reads (hundreds of rows where topic_summary may hold thousands).
        -- Kept by triggers on topic_summary, which the position triggers keep.
        CREATE TABLE cell_summary (
            topic TEXT NOT NULL,
            guarantee TEXT NOT NULL,
            stance TEXT NOT NULL,
            party TEXT NOT NULL,
            positions INTEGER NOT NULL,
            actors INTEGER NOT NULL,
            latest_published TEXT NOT NULL,
            latest_position_id INTEGER NOT NULL,
            latest_actor_id INTEGER NOT NULL,
            PRIMARY KEY (topic, guarantee, stance, party)
        ) WITHOUT ROWID;
        INSERT INTO cell_summary
        SELECT s.topic, s.guarantee, s.stance, s.party, sum(s.positions), count(*),
               max(s.latest_published),
               (SELECT l.latest_position_id {_LATEST_OF_CELL}),
               (SELECT l.actor_id {_LATEST_OF_CELL})
        FROM topic_summary AS s GROUP BY s.topic, s.guarantee, s.stance, s.party;
        CREATE TRIGGER topic_summary_cell_insert AFTER INSERT ON topic_summary
        BEGIN
            INSERT INTO cell_summary VALUES (
                new.topic, new.guarantee, new.stance, new.party, new.positions, 1,
                new.latest_published, new.latest_position_id, new.actor_id)
            ON CONFLICT (topic, guarantee, stance, party) DO UPDATE SET
                positions = cell_summary.positions + excluded.positions,
                actors = cell_summary.actors + 1,
                latest_position_id = CASE
                    WHEN excluded.latest_published >= cell_summary.latest_published
                    THEN excluded.latest_position_id ELSE cell_summary.latest_position_id END,
                latest_actor_id = CASE
                    WHEN excluded.latest_published >= cell_summary.latest_published
                    THEN excluded.latest_actor_id ELSE cell_summary.latest_actor_id END,
                latest_published = max(cell_summary.latest_published,
                                       excluded.latest_published);
        END;
        CREATE TRIGGER topic_summary_cell_update AFTER UPDATE ON topic_summary
        BEGIN
            UPDATE cell_summary SET
                positions = positions + new.positions - old.positions,
                latest_position_id = CASE
                    WHEN new.latest_published >= latest_published
                    THEN new.latest_position_id ELSE latest_position_id END,
                latest_actor_id = CASE
                    WHEN new.latest_published >= latest_published
                    THEN new.actor_id ELSE latest_actor_id END,
                latest_published = max(latest_published, new.latest_published)
            WHERE {_CELL_KEY.format(r="new")};
            UPDATE cell_summary
            SET (latest_published, latest_position_id, latest_actor_id) = (
                {_CELL_LATEST.format(r="new")})
            WHERE {_CELL_KEY.format(r="new")} AND latest_position_id = old.latest_position_id
              AND new.latest_position_id != old.latest_position_id;
        END;
        CREATE TRIGGER topic_summary_cell_delete AFTER DELETE ON topic_summary
        BEGIN
            UPDATE cell_summary SET positions = positions - old.positions, actors = actors - 1
            WHERE {_CELL_KEY.format(r="old")};
            DELETE FROM cell_summary WHERE {_CELL_KEY.format(r="old")} AND actors <= 0;
            UPDATE cell_summary
            SET (latest_published, latest_position_id, latest_actor_id) = (
                {_CELL_LATEST.format(r="old")})
            WHERE {_CELL_KEY.format(r="old")} AND latest_position_id = old.latest_position_id;
        END;
        """,
    )
)


# The distinct topics of one position (alias p or new/old): every position counts for '*'
# and for each party it involves, once.
_POSITION_TOPICS = (
    "SELECT '*' AS topic UNION SELECT {r}.party UNION SELECT {r}.guarantor"
    " UNION SELECT {r}.beneficiary"
)

MIGRATIONS.append(
    (
        "positions-3-guarantee-articles",
        f"""
        -- Which articles each topic draws on per guarantee, so "ukraine peacekeepers" counts
        -- its sources with one lookup instead of a scan of the matching positions.
        CREATE TABLE guarantee_articles (
            topic TEXT NOT NULL,
            guarantee TEXT NOT NULL,
            article_id INTEGER NOT NULL,
            positions INTEGER NOT NULL,
            PRIMARY KEY (topic, guarantee, article_id)
        ) WITHOUT ROWID;
        CREATE TABLE guarantee_counts (
            topic TEXT NOT NULL,
            guarantee TEXT NOT NULL,
            articles INTEGER NOT NULL,
            PRIMARY KEY (topic, guarantee)
        ) WITHOUT ROWID;
        INSERT INTO guarantee_articles
        SELECT t.topic, p.guarantee, p.article_id, count(*)
        FROM positions AS p JOIN (
            SELECT id, '*' AS topic FROM positions
            UNION SELECT id, party FROM positions
            UNION SELECT id, guarantor FROM positions WHERE guarantor IS NOT NULL
            UNION SELECT id, beneficiary FROM positions WHERE beneficiary IS NOT NULL
        ) AS t ON t.id = p.id
        GROUP BY t.topic, p.guarantee, p.article_id;
        INSERT INTO guarantee_counts
        SELECT topic, guarantee, count(*) FROM guarantee_articles GROUP BY topic, guarantee;
        CREATE TRIGGER guarantee_articles_insert AFTER INSERT ON guarantee_articles
        BEGIN
            INSERT INTO guarantee_counts VALUES (new.topic, new.guarantee, 1)
            ON CONFLICT (topic, guarantee) DO UPDATE SET
                articles = guarantee_counts.articles + 1;
        END;
        CREATE TRIGGER guarantee_articles_delete AFTER DELETE ON guarantee_articles
        BEGIN
            UPDATE guarantee_counts SET articles = articles - 1
            WHERE topic = old.topic AND guarantee = old.guarantee;
        END;
        CREATE TRIGGER positions_guarantee_articles_insert AFTER INSERT ON positions
        BEGIN
            INSERT INTO guarantee_articles
            SELECT t.topic, new.guarantee, new.article_id, 1
            FROM ({_POSITION_TOPICS.format(r="new")}) AS t
            WHERE t.topic IS NOT NULL
            ON CONFLICT (topic, guarantee, article_id) DO UPDATE SET
                positions = guarantee_articles.positions + 1;
        END;
        CREATE TRIGGER positions_guarantee_articles_delete AFTER DELETE ON positions
        BEGIN
            UPDATE guarantee_articles SET positions = positions - 1
            WHERE topic IN ('*', old.party, old.guarantor, old.beneficiary)
              AND guarantee = old.guarantee AND article_id = old.article_id;
            DELETE FROM guarantee_articles
            WHERE topic IN ('*', old.party, old.guarantor, old.beneficiary)
              AND guarantee = old.guarantee AND article_id = old.article_id
              AND positions <= 0;
        END;
        """,
    )
)


MIGRATIONS.append(
    (
        "positions-4-published-window",
        """
        -- Questions with a time window (`/guarantees ukraine this week`) read positions by
        -- publication date: the summaries above are totals over all time. The index holds
        -- every column such a card groups and filters by, so a window is one range scan of
        -- the index, never a visit to the table.
        CREATE INDEX positions_published_window ON positions (
            published, guarantee, stance, party, actor_id, guarantor, beneficiary, article_id);
        """,
    )
)


MIGRATIONS.append(
    (
        "positions-5-article-dates",
        """
        -- A window's sources are the articles published inside it that the topic draws on:
        -- a range of this index, each checked against topic_articles / guarantee_articles.
        CREATE INDEX articles_published ON articles (published);
        -- "What changed" compares a party's latest stance inside a window with its latest
        -- before it: the freshest position of a party on a guarantee before a date is one
        -- backward step of this index. It serves every query positions_party served.
        DROP INDEX positions_party;
        CREATE INDEX positions_party_fresh ON positions (party, guarantee, published);
        """,
    )
)


@dataclass(frozen=True)
class AddResult:
    """What happened to one article offered to the store."""

    key: str
    added: bool
    reason: str  # "new", or why it was a duplicate: "same id", "same url", "same guid", "same text"


@dataclass(frozen=True)
class StoreStats:
    positions: int
    sources: int  # distinct articles
    latest_published: date | None
    sources_at_least: bool = False  # True: `sources` is SOURCES_CAP, there are more


# Narrowed topics count their source articles up to this many, then say "N+".
SOURCES_CAP = 1000

_GUARANTEES = {str(g): g for g in Guarantee}
_STANCES = {str(s): s for s in Stance}


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
    p.extractor, a.cluster_id, p.found_by, p.extractor_version, c.user_id AS corrected_by
"""
_POSITION_JOINS = """
    FROM positions AS p
    JOIN articles AS a ON a.id = p.article_id
    JOIN sentences AS s ON s.id = p.sentence_id
    JOIN actors AS ac ON ac.id = p.actor_id
    LEFT JOIN corrections AS c ON c.id = p.correction_id
"""


def _filter_sql(filter_: PositionFilter, alias: str) -> tuple[str, list[object]]:
    """WHERE clauses for a filter over `positions` (alias `p`) or `topic_summary` (alias `s`,
    whose rows are already restricted to the filter's topic)."""
    clauses: list[str] = []
    params: list[object] = []
    if alias == "s":
        clauses.append("s.topic = ?")
        params.append(filter_.topic)
    else:
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
    if filter_.stances:
        marks = ",".join("?" * len(filter_.stances))
        clauses.append(f"{alias}.stance IN ({marks})")
        params += sorted(str(s) for s in filter_.stances)
    return (" AND ".join(clauses) or "TRUE"), params


def _window_sql(window: DateWindow, alias: str = "p") -> tuple[str, list[object]]:
    """The publication-date range of a window over `positions` (alias p) or `articles`;
    undated positions fall outside every window."""
    clauses = [f"{alias}.published IS NOT NULL"]
    params: list[object] = []
    if window.since is not None:
        clauses.append(f"{alias}.published >= ?")
        params.append(window.since.isoformat())
    if window.until is not None:
        clauses.append(f"{alias}.published < ?")
        params.append(window.until.isoformat())
    return " AND ".join(clauses), params


class PositionStoreMixin(StoreBase):
    """Articles in, positions in, summaries and evidence out."""

    _slug_cache: dict[int, str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slug_cache = {}

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
        *,
        replaces: Sequence[str] = (),
    ) -> bool:
        """Replace this extractor's positions for one article, in one transaction.

        Returns False (and changes nothing) when this extractor version already did it.
        `replaces` names other extractors whose positions (and record of having run) this
        one takes over for the article: the rules, the model and hybrid stand in for each
        other, so switching EXTRACTOR never shows an article's positions twice.
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
            for other in (name for name in replaces if name != extractor):
                await db.execute(
                    "DELETE FROM positions WHERE article_id = ? AND extractor = ?",
                    (article_pk, other),
                )
                await db.execute(
                    "DELETE FROM extractions WHERE article_id = ? AND extractor = ?",
                    (article_pk, other),
                )
            now = to_db_time(self.clock())
            # One round trip per distinct sentence and actor, then one for all positions.
            sentence_ids = {
                text: await self._sentence_id(text)
                for text in dict.fromkeys(p.evidence for p in positions)
            }
            actor_ids = {
                slug: await self._actor_id(slug, party)
                for slug, party in dict.fromkeys((p.actor, p.party) for p in positions)
            }
            await db.executemany(
                "INSERT INTO positions (article_id, sentence_id, actor_id, party, stance,"
                " guarantee, guarantor, beneficiary, published, added_at, extractor,"
                " extractor_version, found_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        article_pk,
                        sentence_ids[position.evidence],
                        actor_ids[position.actor],
                        position.party,
                        str(position.stance),
                        str(position.guarantee),
                        position.guarantor,
                        position.beneficiary,
                        published,
                        now,
                        extractor,
                        version,
                        position.found_by,
                    )
                    for position in positions
                ],
            )
            await db.execute(
                "INSERT INTO extractions (article_id, extractor, version, extracted_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (article_id, extractor)"
                " DO UPDATE SET version = excluded.version, extracted_at = excluded.extracted_at",
                (article_pk, extractor, version, now),
            )
            await self._positions_replaced(db, article_pk, article_key, extractor)
        return True

    async def _positions_replaced(
        self, db: Any, article_pk: int, article_key: str, extractor: str
    ) -> None:
        """Called in the transaction that replaced an article's positions (corrections hook
        in here, `bot.store.corrections`)."""

    async def _sentence_id(self, sentence: str) -> int:
        return await self._upsert_id(
            "INSERT INTO sentences (hash, text) VALUES (?, ?)"
            " ON CONFLICT (hash) DO UPDATE SET hash = excluded.hash RETURNING id",
            (_sentence_hash(sentence), sentence),
        )

    async def _actor_id(self, slug: str, party: str) -> int:
        return await self._upsert_id(
            "INSERT INTO actors (slug, party) VALUES (?, ?)"
            " ON CONFLICT (slug) DO UPDATE SET slug = excluded.slug RETURNING id",
            (slug, party),
        )

    async def _upsert_id(self, sql: str, params: tuple[object, ...]) -> int:
        """The id of the row an INSERT ... ON CONFLICT ... RETURNING id inserted or found."""
        async with self.db.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def summary(self, filter_: PositionFilter) -> list[SummaryRow]:
        """One row per (actor, guarantee, stance) under the filter. For narrow filters (an
        actor, a guarantee); a whole topic is better read folded, with `cells`."""
        where, params = _filter_sql(filter_, "s")
        sql = (
            "SELECT ac.slug, s.party, s.guarantee, s.stance, p.guarantor, p.beneficiary,"
            " s.positions, s.latest_published, s.latest_position_id"
            " FROM topic_summary AS s JOIN actors AS ac ON ac.id = s.actor_id"
            " JOIN positions AS p ON p.id = s.latest_position_id"
            f" WHERE {where}"
        )
        async with self.db.execute(sql, params) as cursor:
            return [
                SummaryRow(
                    actor=row[0],
                    party=row[1],
                    guarantee=Guarantee(row[2]),
                    stance=Stance(row[3]),
                    guarantor=row[4],
                    beneficiary=row[5],
                    positions=int(row[6]),
                    latest_published=_parse_date(row[7]),
                    latest_position_id=int(row[8]),
                )
                async for row in cursor
            ]

    async def cells(self, filter_: PositionFilter, top_actors: int = 0) -> list[StanceCell]:
        """Who stands where under the filter, folded per (guarantee, stance, party): what the
        briefing card shows.

        Without an actor filter this reads `cell_summary`, at most a few hundred rows per
        topic; with one (or when `top_actors` > 0, which lists each cell's most prominent
        actors) it folds the per-actor rows of `topic_summary`.
        """
        if not filter_.actors and not top_actors:
            return await self._folded_cells(filter_)
        where, params = _filter_sql(filter_, "s")
        folded = (
            ", " + self.dialect.string_agg("s.positions || ':' || s.actor_id")
            if top_actors
            else ""
        )
        if self.dialect.postgres:
            newest = "s.latest_published DESC, s.latest_position_id DESC"
            latest = (
                f"(array_agg(s.latest_position_id ORDER BY {newest}))[1],"
                f" (array_agg(s.actor_id ORDER BY {newest}))[1]"
            )
        else:
            # SQLite returns the bare columns (actor, position id) of the row holding max().
            latest = "s.latest_position_id, s.actor_id"
        sql = (
            "SELECT s.guarantee, s.stance, s.party, sum(s.positions), count(*),"
            f" max(s.latest_published), {latest}{folded}"
            f" FROM topic_summary AS s WHERE {where} GROUP BY s.guarantee, s.stance, s.party"
        )
        async with self.db.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        folds: list[list[tuple[int, int]]] = []
        for row in rows:
            counted: list[tuple[int, int]] = []
            if top_actors:
                pairs = (pair.split(":") for pair in row[8].split(","))
                counted = sorted((-int(count), int(actor)) for count, actor in pairs)[:top_actors]
            folds.append(counted)
        return await self._make_cells(rows, folds)

    async def window_cells(
        self, filter_: PositionFilter, window: DateWindow, *, per_actor: bool = False
    ) -> list[StanceCell]:
        """`cells` over the positions published inside `window`, read from the covering index
        `positions_published_window`: one range scan, whatever the store holds outside it.
        `per_actor` gives one cell per actor (positions and freshest position of each)."""
        where, params = _filter_sql(filter_, "p")
        dates, more = _window_sql(window)
        by_actor = ", p.actor_id" if per_actor else ""
        distinct = "1" if per_actor else "count(DISTINCT p.actor_id)"
        # SQLite returns the bare columns (position id, actor) of the row holding max().
        sql = (
            f"SELECT p.guarantee, p.stance, p.party, count(*), {distinct}, max(p.published),"
            " p.id, p.actor_id FROM positions AS p INDEXED BY positions_published_window"
            f" WHERE {dates} AND {where} GROUP BY p.guarantee, p.stance, p.party{by_actor}"
        )
        async with self.db.execute(sql, [*more, *params]) as cursor:
            rows = await cursor.fetchall()
        return await self._make_cells(rows, [[] for _ in rows])

    async def window_stats(
        self,
        filter_: PositionFilter,
        window: DateWindow,
        cells: Sequence[StanceCell] | None = None,
    ) -> StoreStats:
        """`stats` over the positions published inside `window` (exact source count). Pass
        the `window_cells` of the same filter and window to count positions from them."""
        if cells is None:
            cells = await self.window_cells(filter_, window)
        latest = [c.latest_published for c in cells if c.latest_published is not None]
        return StoreStats(
            positions=sum(c.positions for c in cells),
            sources=await self._window_sources(filter_, window),
            latest_published=max(latest, default=None),
        )

    async def _window_sources(self, filter_: PositionFilter, window: DateWindow) -> int:
        """Distinct articles behind a filter in a window. A topic, or a topic and guarantees,
        walk the articles published in the window (`articles_published`) and keep those the
        topic draws on; other narrowings count distinct articles of the window's positions."""
        dates, more = _window_sql(window, "a")
        if filter_.held_by or filter_.actors or filter_.stances:
            where, params = _filter_sql(filter_, "p")
            sql = (
                "SELECT count(DISTINCT p.article_id) FROM positions AS p"
                f" INDEXED BY positions_published_window WHERE {_window_sql(window)[0]}"
                f" AND {where}"
            )
            params = [*more, *params]
        elif not filter_.guarantees:
            sql = (
                "SELECT count(*) FROM articles AS a INDEXED BY articles_published"
                f" WHERE {dates} AND EXISTS (SELECT 1 FROM topic_articles AS t"
                " WHERE t.topic = ? AND t.article_id = a.id)"
            )
            params = [*more, filter_.topic]
        else:
            marks = ",".join("?" * len(filter_.guarantees))
            sql = (
                "SELECT count(*) FROM articles AS a INDEXED BY articles_published"
                f" WHERE {dates} AND EXISTS (SELECT 1 FROM guarantee_articles AS t"
                f" WHERE t.topic = ? AND t.guarantee IN ({marks}) AND t.article_id = a.id)"
            )
            params = [*more, filter_.topic, *sorted(str(g) for g in filter_.guarantees)]
        async with self.db.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _folded_cells(self, filter_: PositionFilter) -> list[StanceCell]:
        where, params = _filter_sql(filter_, "s")
        sql = (
            "SELECT s.guarantee, s.stance, s.party, s.positions, s.actors, s.latest_published,"
            f" s.latest_position_id, s.latest_actor_id FROM cell_summary AS s WHERE {where}"
        )
        async with self.db.execute(sql, params) as cursor:
            rows = await cursor.fetchall()
        return await self._make_cells(rows, [[] for _ in rows])

    async def _make_cells(
        self, rows: Iterable[Sequence[Any]], folds: list[list[tuple[int, int]]]
    ) -> list[StanceCell]:
        """Rows of (guarantee, stance, party, positions, actors, latest_published,
        latest_position_id, latest_actor_id) to cells, with actor slugs from the cache."""
        rows = list(rows)
        wanted = {row[7] for row in rows} | {a for counted in folds for _, a in counted}
        slugs = await self._actor_slugs(list(wanted))
        dates: dict[str, date | None] = {}
        return [
            StanceCell(
                guarantee=_GUARANTEES[row[0]],
                stance=_STANCES[row[1]],
                party=row[2],
                positions=int(row[3]),
                actors=int(row[4]),
                latest_published=dates.setdefault(row[5], _parse_date(row[5] or None)),
                latest_position_id=row[6],
                latest_actor=slugs[row[7]],
                top_actors=tuple((slugs[actor], -count) for count, actor in counted),
            )
            for row, counted in zip(rows, folds, strict=True)
        ]

    async def _actor_slugs(self, ids: list[int]) -> dict[int, str]:
        """Actor ids to slugs through a cache: actors are only ever added, never renamed."""
        missing = [i for i in ids if i not in self._slug_cache]
        if missing:
            async with self.db.execute("SELECT id, slug FROM actors") as cursor:
                self._slug_cache.update({int(r[0]): r[1] async for r in cursor})
        return {i: self._slug_cache[i] for i in ids}

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
        window: DateWindow | None = None,
    ) -> list[StoredPosition]:
        """Positions matching the filter, freshest first (by publication date, then id);
        `window` keeps those published inside it."""
        where, params = _filter_sql(filter_, "p")
        if window is not None:
            dates, more = _window_sql(window)
            where += f" AND {dates}"
            params += more
        if added_since is not None:
            where += " AND p.added_at >= ?"
            params.append(to_db_time(added_since))
        if added_before is not None:
            where += " AND p.added_at < ?"
            params.append(to_db_time(added_before))
        # Inside a window every position is dated, so the order can follow an index.
        order = "p.published" if window is not None else "ifnull(p.published, '')"
        sql = (
            f"SELECT {_POSITION_COLUMNS} {_POSITION_JOINS} WHERE {where}"
            f" ORDER BY {order} DESC, p.id DESC LIMIT ?"
        )
        return await self._read_positions(sql, [*params, limit])

    async def latest_before(
        self,
        filter_: PositionFilter,
        keys: Sequence[tuple[str, str, Guarantee]],
        before: date,
    ) -> dict[tuple[str, str, Guarantee], StoredPosition]:
        """The freshest position published before `before` under the filter, for each key
        `("actor", slug, guarantee)` or `("party", code, guarantee)` (freshest: publication
        date, then id). One indexed backward step per key and stance (`positions_key`,
        `positions_party_fresh`), then one read of the positions found."""
        # The key names the actor or party and the guarantee; the topic (and who holds it)
        # still applies; the stances are walked one by one below.
        base = replace(filter_, actors=frozenset(), guarantees=frozenset(), stances=frozenset())
        where, params = _filter_sql(base, "p")
        stances = sorted(str(s) for s in (filter_.stances or set(Stance)))
        slugs = sorted({who for kind, who, _ in keys if kind == "actor"})
        ids: dict[str, int] = {}
        if slugs:
            marks = ",".join("?" * len(slugs))
            async with self.db.execute(
                f"SELECT slug, id FROM actors WHERE slug IN ({marks})", slugs
            ) as cursor:
                ids = {row[0]: int(row[1]) async for row in cursor}
        one = (
            "SELECT * FROM (SELECT p.id, p.published FROM positions AS p INDEXED BY {index}"
            " WHERE {key} AND p.published < ? AND {where}"
            " ORDER BY p.published DESC, p.id DESC LIMIT 1)"
        )
        found: dict[tuple[str, str, Guarantee], int] = {}
        for kind, who, guarantee in keys:
            if kind == "actor":
                if who not in ids:
                    continue
                parts = [
                    one.format(
                        index="positions_key",
                        key="p.actor_id = ? AND p.guarantee = ? AND p.stance = ?",
                        where=where,
                    )
                    for _ in stances
                ]
                args: list[object] = []
                for stance in stances:
                    args += [ids[who], str(guarantee), stance, before.isoformat(), *params]
            else:
                parts = [
                    one.format(
                        index="positions_party_fresh",
                        key="p.party = ? AND p.guarantee = ?",
                        where=where + (
                            f" AND p.stance IN ({','.join('?' * len(stances))})"
                            if filter_.stances else ""
                        ),
                    )
                ]
                args = [who, str(guarantee), before.isoformat(), *params]
                if filter_.stances:
                    args += stances
            async with self.db.execute(" UNION ALL ".join(parts), args) as cursor:
                rows = await cursor.fetchall()
            if rows:
                best = max(rows, key=lambda row: (row[1], row[0]))
                found[(kind, who, guarantee)] = int(best[0])
        positions = {p.id: p for p in await self.positions_by_ids(found.values())}
        return {key: positions[i] for key, i in found.items() if i in positions}

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
                found_by=row["found_by"],
                extractor_version=row["extractor_version"],
                corrected_by=row["corrected_by"],
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
        # The per-party fold has the same sums in fewer rows; per-actor rows only for actors.
        table = "topic_summary" if filter_.actors else "cell_summary"
        async with self.db.execute(
            f"SELECT ifnull(sum(positions), 0), max(latest_published) FROM {table} AS s"
            f" WHERE {where}",
            params,
        ) as cursor:
            row = await cursor.fetchone()
        assert row is not None
        sources, at_least = await self._count_sources(filter_)
        return StoreStats(
            positions=int(row[0]),
            sources=sources,
            latest_published=_parse_date(row[1] or None),
            sources_at_least=at_least,
        )

    async def _count_sources(self, filter_: PositionFilter) -> tuple[int, bool]:
        """Distinct articles behind the filter, and whether that is only a lower bound.

        A topic, or a topic and one guarantee, read their exact count from `topic_counts` or
        `guarantee_counts`. Other narrowings count distinct articles and stop at SOURCES_CAP,
        so a broad narrowing of a huge store costs no more than a small one.
        """
        if filter_.held_by or filter_.actors or filter_.stances:
            where, params = _filter_sql(filter_, "p")
            table = "positions AS p"
        elif not filter_.guarantees:
            return await self._counted_sources(
                "SELECT ifnull(sum(articles), 0) FROM topic_counts WHERE topic = ?",
                [filter_.topic],
            )
        elif len(filter_.guarantees) == 1:
            return await self._counted_sources(
                "SELECT ifnull(sum(articles), 0) FROM guarantee_counts"
                " WHERE topic = ? AND guarantee = ?",
                [filter_.topic, str(next(iter(filter_.guarantees)))],
            )
        else:
            marks = ",".join("?" * len(filter_.guarantees))
            where = f"p.topic = ? AND p.guarantee IN ({marks})"
            params = [filter_.topic, *sorted(str(g) for g in filter_.guarantees)]
            table = "guarantee_articles AS p"
        # The cap is written into the SQL, not bound: with a bound LIMIT SQLite plans a walk
        # of the article index for DISTINCT instead of using the filter's index (100x slower).
        sql = (
            f"SELECT count(*) FROM (SELECT DISTINCT p.article_id FROM {table}"
            f" WHERE {where} LIMIT {int(SOURCES_CAP)}) AS found"
        )
        async with self.db.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        count = int(row[0]) if row else 0
        return count, count >= SOURCES_CAP

    async def _counted_sources(self, sql: str, params: list[object]) -> tuple[int, bool]:
        async with self.db.execute(sql, params) as cursor:
            row = await cursor.fetchone()
        return (int(row[0]) if row else 0), False

    async def known_actors(self) -> dict[str, str]:
        """Every actor the store has positions for: slug -> party."""
        async with self.db.execute(
            "SELECT slug, party FROM actors"
            " WHERE id IN (SELECT actor_id FROM topic_summary WHERE topic = '*')"
        ) as cursor:
            return {row[0]: row[1] async for row in cursor}

    async def known_parties(self) -> set[str]:
        """Every party some position involves (as holder, guarantor or beneficiary)."""
        # A loose index scan: one B-tree seek per distinct topic, not a scan of every row.
        async with self.db.execute(
            "WITH RECURSIVE t (topic) AS ("
            " SELECT min(topic) FROM topic_summary"
            " UNION ALL SELECT (SELECT min(topic) FROM topic_summary WHERE topic > t.topic)"
            " FROM t WHERE t.topic IS NOT NULL)"
            " SELECT topic FROM t WHERE topic IS NOT NULL AND topic != '*'"
        ) as cursor:
            return {row[0] async for row in cursor}

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
