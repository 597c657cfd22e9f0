"""Which articles the current extractor version still has to see, a page at a time.

The `extractions` table (one row per article and extractor, with the version that produced its
positions) is the checkpoint of re-extraction: an article counts as done once `save_positions`
has switched it to the new version, in the same transaction as its positions. Pages are read by
keyset (`id > after`), so a catch-up over any number of articles holds one page in memory.
"""

from __future__ import annotations

from bot.models import Article
from bot.store.base import StoreBase
from bot.store.positions import _article_from_row

_PENDING = (
    " FROM articles AS a LEFT JOIN extractions AS e"
    " ON e.article_id = a.id AND e.extractor = ?"
    " WHERE (e.version IS NULL OR e.version != ?)"
)


class ExtractionStoreMixin(StoreBase):
    """Paging through the articles an extractor version has not seen yet."""

    async def count_articles_to_extract(self, extractor: str, version: str) -> int:
        async with self.db.execute("SELECT count(*)" + _PENDING, (extractor, version)) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def articles_to_extract_after(
        self, extractor: str, version: str, after: int, limit: int
    ) -> list[tuple[int, Article]]:
        """Up to `limit` articles with a row id above `after` that this extractor version has
        not extracted, in id order, each with its row id (the next page's `after`)."""
        async with self.db.execute(
            "SELECT a.id, a.key, a.title, a.body, a.url, a.outlet, a.published, a.source, a.guid"
            + _PENDING
            + " AND a.id > ? ORDER BY a.id LIMIT ?",
            (extractor, version, after, limit),
        ) as cursor:
            return [(int(row[0]), _article_from_row(tuple(row)[1:])) async for row in cursor]
