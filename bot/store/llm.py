"""The model tier's tables: answers cached by (text hash, model, prompt version), tokens spent
per article and per day, and the articles waiting for the model.

A cached answer makes re-ingesting or restarting free; the token counts are what the daily
budget reads after a restart; the queue holds articles the rules stood in for (budget spent,
endpoint down, an unusable answer) until the background retry gets to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.models import Article
from bot.store.base import StoreBase, from_db_time, to_db_time

MIGRATIONS = [
    (
        "llm-1-cache-usage-queue",
        """
        -- One row per (text, model, prompt version): the validated answer once one came, and
        -- every token spent on that text, usable answer or not.
        CREATE TABLE llm_answers (
            text_hash TEXT NOT NULL,
            model TEXT NOT NULL,
            prompt_version TEXT NOT NULL,
            answer TEXT,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            calls INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (text_hash, model, prompt_version)
        ) WITHOUT ROWID;
        -- Tokens spent per UTC day, all models together: what the daily budget reads.
        CREATE TABLE llm_usage (
            day TEXT PRIMARY KEY,
            prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0,
            requests INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID;
        -- Articles the rules stood in for, waiting for the model.
        CREATE TABLE llm_queue (
            article_id INTEGER PRIMARY KEY REFERENCES articles (id) ON DELETE CASCADE,
            reason TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            queued_at TEXT NOT NULL,
            next_attempt_at TEXT NOT NULL
        );
        CREATE INDEX llm_queue_due ON llm_queue (next_attempt_at);
        -- Who found a position when two extractors are merged (hybrid): rules, llm or both.
        ALTER TABLE positions ADD COLUMN found_by TEXT;
        """,
    )
]


@dataclass(frozen=True)
class TokenCount:
    prompt_tokens: int
    completion_tokens: int
    calls: int

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class QueuedArticle:
    article: Article
    reason: str
    attempts: int


class LLMStoreMixin(StoreBase):
    """Cache, token counts and retry queue of the model extractor."""

    async def cached_answer(self, text_hash: str, model: str, prompt_version: str) -> str | None:
        async with self.db.execute(
            "SELECT answer FROM llm_answers WHERE text_hash = ? AND model = ?"
            " AND prompt_version = ?",
            (text_hash, model, prompt_version),
        ) as cursor:
            row = await cursor.fetchone()
        return str(row[0]) if row and row[0] is not None else None

    async def record_llm_call(
        self,
        text_hash: str,
        model: str,
        prompt_version: str,
        *,
        day: date,
        prompt_tokens: int,
        completion_tokens: int,
        answer: str | None,
    ) -> None:
        """Count one request's tokens for its text and its day; keep the answer if usable."""
        now = to_db_time(self.clock())
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO llm_answers (text_hash, model, prompt_version, answer,"
                " prompt_tokens, completion_tokens, calls, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 1, ?)"
                " ON CONFLICT (text_hash, model, prompt_version) DO UPDATE SET"
                " answer = coalesce(excluded.answer, answer),"
                " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
                " completion_tokens = completion_tokens + excluded.completion_tokens,"
                " calls = calls + 1, updated_at = excluded.updated_at",
                (text_hash, model, prompt_version, answer, prompt_tokens, completion_tokens,
                 now),
            )
            await db.execute(
                "INSERT INTO llm_usage (day, prompt_tokens, completion_tokens, requests)"
                " VALUES (?, ?, ?, 1) ON CONFLICT (day) DO UPDATE SET"
                " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
                " completion_tokens = completion_tokens + excluded.completion_tokens,"
                " requests = requests + 1",
                (day.isoformat(), prompt_tokens, completion_tokens),
            )

    async def tokens_on(self, day: date) -> TokenCount:
        async with self.db.execute(
            "SELECT prompt_tokens, completion_tokens, requests FROM llm_usage WHERE day = ?",
            (day.isoformat(),),
        ) as cursor:
            row = await cursor.fetchone()
        return TokenCount(*(int(v) for v in row)) if row else TokenCount(0, 0, 0)

    async def tokens_for_text(
        self, text_hash: str, model: str, prompt_version: str
    ) -> TokenCount:
        async with self.db.execute(
            "SELECT prompt_tokens, completion_tokens, calls FROM llm_answers"
            " WHERE text_hash = ? AND model = ? AND prompt_version = ?",
            (text_hash, model, prompt_version),
        ) as cursor:
            row = await cursor.fetchone()
        return TokenCount(*(int(v) for v in row)) if row else TokenCount(0, 0, 0)

    async def queue_for_model(self, article_key: str, reason: str, retry_at: datetime) -> int:
        """Queue a stored article for the model (again); returns how often it was queued.
        An article the store does not hold (an eval file) is not queued: returns 0."""
        now = to_db_time(self.clock())
        async with self.transaction() as db, db.execute(
            "INSERT INTO llm_queue (article_id, reason, attempts, queued_at,"
            " next_attempt_at) SELECT id, ?, 1, ?, ? FROM articles WHERE key = ?"
            " ON CONFLICT (article_id) DO UPDATE SET reason = excluded.reason,"
            " attempts = attempts + 1, next_attempt_at = excluded.next_attempt_at"
            " RETURNING attempts",
            (reason, now, to_db_time(retry_at), article_key),
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def dequeue_for_model(self, article_key: str) -> None:
        async with self.transaction() as db:
            await db.execute(
                "DELETE FROM llm_queue WHERE article_id IN"
                " (SELECT id FROM articles WHERE key = ?)",
                (article_key,),
            )

    async def queued_for_model(
        self, due_by: datetime | None = None, limit: int = 50
    ) -> list[QueuedArticle]:
        """Queued articles whose next attempt is due by `due_by` (all when None), oldest first."""
        from bot.store.positions import _article_from_row

        where, params = "1", []
        if due_by is not None:
            where, params = "q.next_attempt_at <= ?", [to_db_time(due_by)]
        async with self.db.execute(
            "SELECT a.key, a.title, a.body, a.url, a.outlet, a.published, a.source, a.guid,"
            " q.reason, q.attempts FROM llm_queue AS q JOIN articles AS a ON a.id = q.article_id"
            f" WHERE {where} ORDER BY q.next_attempt_at, q.article_id LIMIT ?",
            [*params, limit],
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            QueuedArticle(_article_from_row(tuple(row)[:8]), str(row[8]), int(row[9]))
            for row in rows
        ]

    async def queued_article_keys(self) -> set[str]:
        async with self.db.execute(
            "SELECT a.key FROM llm_queue AS q JOIN articles AS a ON a.id = q.article_id"
        ) as cursor:
            return {str(row[0]) async for row in cursor}

    async def queue_entry(self, article_key: str) -> tuple[int, datetime] | None:
        """(attempts, next attempt) of a queued article; None when it is not queued."""
        async with self.db.execute(
            "SELECT q.attempts, q.next_attempt_at FROM llm_queue AS q"
            " JOIN articles AS a ON a.id = q.article_id WHERE a.key = ?",
            (article_key,),
        ) as cursor:
            row = await cursor.fetchone()
        return (int(row[0]), from_db_time(row[1])) if row else None
