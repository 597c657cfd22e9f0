"""The write side of the position store: articles in (with duplicate checks), and each
extractor's positions for an article replaced in one transaction.

The tables and the triggers that keep the summaries current are in
`bot.store.positions_schema`; the reads (cells, windows, stats, evidence) in
`bot.store.position_queries`. Their public names are re-exported here, where callers have
always imported them from.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.models import Article, Position
from bot.store.base import StoreBase, to_db_time
from bot.store.position_queries import (
    _POSITION_COLUMNS,
    _POSITION_JOINS,
    SOURCES_CAP,
    PositionQueryMixin,
    StoreStats,
    _filter_sql,
    _parse_date,
    _window_sql,
)
from bot.store.positions_schema import MIGRATIONS

__all__ = [
    "MIGRATIONS",
    "SOURCES_CAP",
    "_POSITION_COLUMNS",
    "_POSITION_JOINS",
    "AddResult",
    "PositionQueryMixin",
    "PositionStoreMixin",
    "StoreStats",
    "_article_from_row",
    "_filter_sql",
    "_window_sql",
    "normalise_text",
    "text_hash",
]


@dataclass(frozen=True)
class AddResult:
    """What happened to one article offered to the store."""

    key: str
    added: bool
    reason: str  # "new", or why it was a duplicate: "same id", "same url", "same guid", "same text"



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



class PositionStoreMixin(StoreBase):
    """Articles in, positions in; the reads are `PositionQueryMixin`."""

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
            # The article first, as corrections do: a correction of it waits for this
            # replacement (or this for it), so neither misses the other's rows.
            await self._lock_article(db, article_key)
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
                " extractor_version, found_by, confidence)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                        position.confidence,
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

    async def _lock_article(
        self, db: Any, key: str | None = None, *, article_id: int | None = None
    ) -> None:
        """Hold an article (by key or id) until the transaction ends, before reading or
        writing its positions and corrections. PostgreSQL locks the row (READ COMMITTED lets
        two writers of one article interleave otherwise); SQLite's BEGIN IMMEDIATE already
        runs one writer at a time."""
        if not self.dialect.postgres or (key is None and article_id is None):
            return
        column, value = ("key", key) if article_id is None else ("id", article_id)
        await db.execute(f"SELECT 1 FROM articles WHERE {column} = ? FOR UPDATE", (value,))

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
