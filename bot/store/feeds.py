"""Feed polling state and story clusters (owned by the live-sources work, issue 5).

- `feeds`: per feed URL, the conditional-GET validators (ETag, Last-Modified) and the last
  outcome, so a poll sends `If-None-Match` / `If-Modified-Since` and a 304 costs nothing.
- `feed_entries`: every feed entry seen, keyed by GUID (or link when there is none), with its
  link, so a re-dated entry is recognised before its page is fetched; failed entries keep an
  attempt count and are retried a few times.
- `article_signatures` and `article_bands`: the MinHash signature of each article and its
  LSH band hashes, to find near-duplicate stories and set `articles.cluster_id`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.models import Article
from bot.store.base import Migration, StoreBase, to_db_time

MIGRATIONS: list[Migration] = [
    (
        "feeds-1",
        """
        CREATE TABLE feeds (
            url TEXT PRIMARY KEY,
            etag TEXT,
            last_modified TEXT,
            checked_at TEXT,
            ok_at TEXT,
            last_error TEXT,
            failures INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE feed_entries (
            entry_key TEXT PRIMARY KEY,
            url TEXT,
            feed_url TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            article_key TEXT,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        );
        CREATE INDEX feed_entries_url ON feed_entries (url);
        CREATE TABLE article_signatures (
            article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
            signature BLOB NOT NULL,
            added_at TEXT NOT NULL
        );
        CREATE INDEX article_signatures_added ON article_signatures (added_at);
        CREATE TABLE article_bands (
            band INTEGER NOT NULL,
            hash INTEGER NOT NULL,
            article_id INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            PRIMARY KEY (band, hash, article_id)
        ) WITHOUT ROWID;
        CREATE INDEX article_bands_article ON article_bands (article_id);
        """,
    )
]

# An entry whose page failed this many times is given up (or read from its summary).
MAX_ENTRY_ATTEMPTS = 3
ENTRY_STATUSES = ("done", "gave_up", "failed")


@dataclass(frozen=True)
class FeedState:
    url: str
    etag: str | None
    last_modified: str | None
    checked_at: str | None
    last_error: str | None
    failures: int


@dataclass(frozen=True)
class SignedArticle:
    """An article's row id, key, outlet, cluster and MinHash signature, for clustering."""

    pk: int
    key: str
    outlet: str | None
    cluster_id: int | None
    signature: bytes


class FeedStoreMixin(StoreBase):
    """Queries for feeds: conditional-GET validators, seen GUIDs, clusters."""

    # --- feeds ------------------------------------------------------------------------

    async def feed_state(self, url: str) -> FeedState | None:
        async with self.db.execute(
            "SELECT url, etag, last_modified, checked_at, last_error, failures FROM feeds"
            " WHERE url = ?",
            (url,),
        ) as cursor:
            row = await cursor.fetchone()
        return FeedState(*row) if row else None

    async def save_feed_state(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        error: str | None = None,
        keep_validators: bool = False,
    ) -> None:
        """Record one poll: new validators on success (or keep the old ones on a 304 or an
        error), the error line and a failure streak otherwise."""
        now = to_db_time(self.clock())
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO feeds (url, etag, last_modified, checked_at, ok_at, last_error,"
                " failures) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET"
                "  etag = CASE WHEN ? THEN feeds.etag ELSE excluded.etag END,"
                "  last_modified = CASE WHEN ? THEN feeds.last_modified"
                "    ELSE excluded.last_modified END,"
                "  checked_at = excluded.checked_at,"
                "  ok_at = ifnull(excluded.ok_at, feeds.ok_at),"
                "  last_error = excluded.last_error,"
                "  failures = CASE WHEN excluded.last_error IS NULL THEN 0"
                "    ELSE feeds.failures + 1 END",
                (
                    url,
                    etag,
                    last_modified,
                    now,
                    None if error else now,
                    error,
                    0 if error is None else 1,
                    bool(keep_validators or error is not None),
                    bool(keep_validators or error is not None),
                ),
            )

    # --- entries ----------------------------------------------------------------------

    async def known_entries(
        self, keys: Iterable[str], urls: Iterable[str]
    ) -> tuple[set[str], set[str]]:
        """Which entry keys (GUIDs) and which links are already dealt with: an article has
        them, or the entry is done, or it failed too often."""
        known_keys = await self._known(
            sorted(set(keys)), "SELECT guid FROM articles WHERE guid IN ({marks}) UNION"
            " SELECT entry_key FROM feed_entries WHERE entry_key IN ({marks})"
        )
        known_urls = await self._known(
            sorted(set(urls)), "SELECT url FROM articles WHERE url IN ({marks}) UNION"
            " SELECT url FROM feed_entries WHERE url IN ({marks})"
        )
        return known_keys, known_urls

    async def _known(self, values: list[str], template: str) -> set[str]:
        """The values a query template (articles UNION feed entries) finds, in chunks; an
        entry counts unless it failed and still has attempts left."""
        found: set[str] = set()
        for chunk in _chunks(values):
            marks = ",".join("?" * len(chunk))
            sql = template.format(marks=marks) + " AND (status != 'failed' OR attempts >= ?)"
            async with self.db.execute(sql, [*chunk, *chunk, MAX_ENTRY_ATTEMPTS]) as cursor:
                found |= {row[0] async for row in cursor}
        return found

    async def entry_attempts(self, keys: Sequence[str]) -> dict[str, int]:
        """Failed attempts so far of each entry (entries never tried are left out)."""
        found: dict[str, int] = {}
        for chunk in _chunks(sorted(set(keys))):
            marks = ",".join("?" * len(chunk))
            async with self.db.execute(
                f"SELECT entry_key, attempts FROM feed_entries WHERE entry_key IN ({marks})",
                chunk,
            ) as cursor:
                found.update({row[0]: int(row[1]) async for row in cursor})
        return found

    async def record_entry(
        self,
        key: str,
        *,
        feed_url: str,
        url: str | None,
        status: str,
        article_key: str | None = None,
    ) -> None:
        """Record one attempt at an entry: `done` (ingested or known), `gave_up` (no article
        to be had) or `failed` (transient: retried until `MAX_ENTRY_ATTEMPTS`)."""
        await self.record_entries([(key, url, status, article_key)], feed_url=feed_url)

    async def record_entries(
        self, entries: Sequence[tuple[str, str | None, str, str | None]], *, feed_url: str
    ) -> None:
        """`record_entry` for many (key, url, status, article_key) in one transaction."""
        for _, _, status, _ in entries:
            if status not in ENTRY_STATUSES:
                raise ValueError(f"unknown entry status {status!r}")
        now = to_db_time(self.clock())
        async with self.transaction() as db:
            await db.executemany(
                "INSERT INTO feed_entries (entry_key, url, feed_url, status, attempts,"
                " article_key, first_seen, last_seen) VALUES (?, ?, ?, ?, 1, ?, ?, ?)"
                " ON CONFLICT (entry_key) DO UPDATE SET status = excluded.status,"
                "  url = ifnull(excluded.url, feed_entries.url),"
                "  attempts = feed_entries.attempts + 1,"
                "  article_key = ifnull(excluded.article_key, feed_entries.article_key),"
                "  last_seen = excluded.last_seen",
                [
                    (key, url, feed_url, status, article, now, now)
                    for key, url, status, article in entries
                ],
            )

    # --- clusters ---------------------------------------------------------------------

    async def article_pk(self, key: str) -> tuple[int, str | None, int | None] | None:
        """Row id, outlet and cluster of an article by key."""
        async with self.db.execute(
            "SELECT id, outlet, cluster_id FROM articles WHERE key = ?", (key,)
        ) as cursor:
            row = await cursor.fetchone()
        return (int(row[0]), row[1], row[2]) if row else None

    async def band_candidates(
        self, bands: Sequence[int], since: datetime, exclude_pk: int | None = None
    ) -> list[SignedArticle]:
        """Articles signed since `since` sharing at least one LSH band with `bands`."""
        if not bands:
            return []
        pairs = " OR ".join("(b.band = ? AND b.hash = ?)" for _ in bands)
        params: list[object] = []
        for number, value in enumerate(bands):
            params += [number, value]
        sql = (
            "SELECT a.id, a.key, a.outlet, a.cluster_id, s.signature FROM articles AS a"
            " JOIN article_signatures AS s ON s.article_id = a.id"
            " WHERE s.added_at >= ? AND a.id != ? AND a.id IN"
            f"  (SELECT b.article_id FROM article_bands AS b WHERE {pairs})"
        )
        async with self.db.execute(
            sql, [to_db_time(since), exclude_pk if exclude_pk is not None else -1, *params]
        ) as cursor:
            return [SignedArticle(int(r[0]), r[1], r[2], r[3], bytes(r[4])) async for r in cursor]

    async def save_signature(
        self, pk: int, signature: bytes, bands: Sequence[int], join: Sequence[int]
    ) -> int | None:
        """Store an article's signature and bands and, when `join` names similar articles,
        put it and them in one cluster (merging their clusters); returns the cluster id."""
        now = to_db_time(self.clock())
        cluster: int | None = None
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO article_signatures (article_id, signature, added_at)"
                " VALUES (?, ?, ?) ON CONFLICT (article_id) DO UPDATE SET"
                " signature = excluded.signature",
                (pk, signature, now),
            )
            await db.execute("DELETE FROM article_bands WHERE article_id = ?", (pk,))
            await db.executemany(
                "INSERT INTO article_bands (band, hash, article_id) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [(number, value, pk) for number, value in enumerate(bands)],
            )
            if join:
                members = sorted({pk, *join})
                marks = ",".join("?" * len(members))
                async with db.execute(
                    f"SELECT DISTINCT cluster_id FROM articles WHERE id IN ({marks})"
                    " AND cluster_id IS NOT NULL",
                    members,
                ) as cursor:
                    clusters = sorted({int(r[0]) async for r in cursor})
                # A cluster is named by its smallest member's row id; merged clusters too.
                cluster = min([*members, *clusters])
                cluster_marks = ",".join("?" * len(clusters)) or "NULL"
                await db.execute(
                    f"UPDATE articles SET cluster_id = ? WHERE id IN ({marks})"
                    f" OR cluster_id IN ({cluster_marks})",
                    [cluster, *members, *clusters],
                )
        return cluster

    async def unsigned_articles(self, limit: int = 500) -> list[tuple[int, Article]]:
        """Articles (oldest first) that have no signature yet: added by files or the corpus."""
        async with self.db.execute(
            "SELECT a.id, a.key, a.title, a.body, a.url, a.outlet, a.source, a.guid"
            " FROM articles AS a LEFT JOIN article_signatures AS s ON s.article_id = a.id"
            " WHERE s.article_id IS NULL ORDER BY a.id LIMIT ?",
            (limit,),
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            (
                int(r[0]),
                Article(
                    id=r[1],
                    title=r[2],
                    text=zlib.decompress(r[3]).decode(),
                    url=r[4],
                    outlet=r[5],
                    source=r[6],
                    guid=r[7],
                ),
            )
            for r in rows
        ]

    async def cluster_of(self, key: str) -> list[str]:
        """Keys of every article in the same cluster as this one (itself included)."""
        async with self.db.execute(
            "SELECT b.key FROM articles AS a JOIN articles AS b"
            " ON b.cluster_id = a.cluster_id OR b.id = a.id"
            " WHERE a.key = ? ORDER BY b.id",
            (key,),
        ) as cursor:
            return [row[0] async for row in cursor]


def _chunks(values: Sequence[str], size: int = 400) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
