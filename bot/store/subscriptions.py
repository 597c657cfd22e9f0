"""Channel subscriptions and the exactly-once digest log (owned by the digest work, issue 4).

Exactly once: the decision "this digest is due" and its claim, a `digest_log` row keyed by
(subscription, local date), happen in one `BEGIN IMMEDIATE` transaction, so a second process
or an overlapping restart waits for the first and then sees its claim. The rules for rows left
unfinished are in `bot.schedule`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import aiosqlite

from bot.models import Subscription
from bot.schedule import (
    DueDigest,
    DueReason,
    LogEntry,
    LogStatus,
    Scheduled,
    candidate_dates,
    due_digests,
    index_log,
)
from bot.store.base import Migration, StoreBase, from_db_time, to_db_time

MIGRATIONS: list[Migration] = [
    (
        "subscriptions-1",
        """
        CREATE TABLE subscriptions (
            id INTEGER PRIMARY KEY,
            channel_id TEXT NOT NULL,
            team_id TEXT,
            topic_key TEXT NOT NULL,
            topic_words TEXT NOT NULL,
            label TEXT NOT NULL,
            at TEXT NOT NULL,
            zone TEXT NOT NULL,
            created_by TEXT,
            created_at TEXT NOT NULL,
            active_from TEXT NOT NULL,
            paused_reason TEXT,
            paused_at TEXT,
            skip_when_empty INTEGER NOT NULL DEFAULT 0,
            UNIQUE (channel_id, topic_key)
        );
        CREATE TABLE digest_log (
            subscription_id INTEGER NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
            local_date TEXT NOT NULL,
            status TEXT NOT NULL,
            claim_token TEXT NOT NULL,
            claimed_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            recovered INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            window_start TEXT NOT NULL,
            window_end TEXT NOT NULL,
            finished_at TEXT,
            message_ts TEXT,
            error TEXT,
            PRIMARY KEY (subscription_id, local_date)
        ) WITHOUT ROWID;
        CREATE INDEX digest_log_date ON digest_log (local_date);
        """,
    ),
    (
        # When this date's first post attempt left: from then on a message may be in the
        # channel, so a later claim looks in the channel's history before posting again.
        "subscriptions-2",
        "ALTER TABLE digest_log ADD COLUMN posting_since TEXT;",
    ),
    # This store's install id, random and made once: digest keys carry it, so a digest of
    # another deployment (its own store, the same small subscription ids) is never ours.
    ("subscriptions-3-install-id", lambda _dialect: _store_meta_script()),
]


def _store_meta_script() -> str:
    return f"""
        CREATE TABLE store_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO store_meta (name, value) VALUES ('install_id', '{uuid.uuid4().hex[:16]}');
    """

# Subscriptions locked and claimed per transaction on PostgreSQL.
CLAIM_BATCH = 50
# The first digest of a subscription covers this much of the past.
FIRST_WINDOW = timedelta(hours=24)

_SUB_COLUMNS = (
    "id, channel_id, team_id, topic_words, label, at, zone, created_by, paused_reason,"
    " skip_when_empty, active_from"
)


def topic_key(words: Iterable[str]) -> str:
    """The identity of a topic within a channel: `ukraine nato` is `nato ukraine`."""
    return " ".join(sorted({w.strip().lower() for w in words if w.strip()}))


@dataclass(frozen=True)
class Claim:
    """A digest this process has claimed and must now send (or give back)."""

    due: DueDigest
    token: str
    window_start: datetime  # positions added in [window_start, window_end) are new
    window_end: datetime
    attempts: int
    # When an earlier attempt for this date began posting (None: no attempt ever reached
    # chat.postMessage, so nothing of this digest can be in the channel).
    posting_since: datetime | None = None

    @property
    def subscription(self) -> Subscription:
        return self.due.subscription

    @property
    def key(self) -> tuple[int, date]:
        return (self.due.subscription.id, self.due.local_date)


class ForeignChannelError(Exception):
    """The channel's subscription belongs to another workspace: not ours to change."""


@dataclass(frozen=True)
class SubscribeResult:
    subscription: Subscription
    created: bool
    resumed: bool  # it was paused and is not any more
    previous_at: time | None  # the time before an update


def _subscription(row: aiosqlite.Row) -> Subscription:
    return Subscription(
        id=int(row["id"]),
        channel_id=row["channel_id"],
        topic_words=tuple(json.loads(row["topic_words"])),
        label=row["label"],
        at=time.fromisoformat(row["at"]),
        zone=row["zone"],
        team_id=row["team_id"],
        created_by=row["created_by"],
        paused_reason=row["paused_reason"],
        skip_when_empty=bool(row["skip_when_empty"]),
    )


def _log_entry(row: aiosqlite.Row) -> LogEntry:
    return LogEntry(
        subscription_id=int(row["subscription_id"]),
        local_date=date.fromisoformat(row["local_date"]),
        status=LogStatus(row["status"]),
        claimed_at=from_db_time(row["claimed_at"]),
        attempts=int(row["attempts"]),
        recovered=bool(row["recovered"]),
        next_attempt_at=from_db_time(row["next_attempt_at"]) if row["next_attempt_at"] else None,
    )


class SubscriptionStoreMixin(StoreBase):
    """Queries for subscriptions and the exactly-once digest log."""

    # --- subscriptions --------------------------------------------------------------------

    async def subscribe(
        self,
        *,
        channel_id: str,
        topic_words: Sequence[str],
        label: str,
        at: time,
        zone: str,
        team_id: str | None = None,
        created_by: str | None = None,
        skip_when_empty: bool = False,
    ) -> SubscribeResult:
        """Add a subscription, or update the time of this channel's one on the same topic
        (clearing a pause). A changed time only applies from now on."""
        key = topic_key(topic_words)
        now = to_db_time(self.clock())
        at_text = at.strftime("%H:%M")
        async with self.transaction() as db:
            async with db.execute(
                f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE channel_id = ? AND topic_key = ?",
                (channel_id, key),
            ) as cursor:
                old = await cursor.fetchone()
            if old is not None and team_id and old["team_id"] and old["team_id"] != team_id:
                raise ForeignChannelError(channel_id)
            if old is None:
                async with db.execute(
                    "INSERT INTO subscriptions (channel_id, team_id, topic_key, topic_words, label,"
                    " at, zone, created_by, created_at, active_from, skip_when_empty)"
                    f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_SUB_COLUMNS}",
                    (
                        channel_id, team_id, key, json.dumps(list(topic_words)), label, at_text,
                        zone, created_by, now, now, int(skip_when_empty),
                    ),
                ) as cursor:
                    row = await cursor.fetchone()
                assert row is not None
                return SubscribeResult(_subscription(row), True, False, None)
            changed = old["at"] != at_text or old["zone"] != zone
            async with db.execute(
                "UPDATE subscriptions SET topic_words = ?, label = ?, at = ?, zone = ?,"
                " team_id = ifnull(?, team_id), created_by = ifnull(?, created_by),"
                " skip_when_empty = ?, paused_reason = NULL, paused_at = NULL,"
                " active_from = CASE WHEN ? THEN ? ELSE active_from END"
                f" WHERE id = ? RETURNING {_SUB_COLUMNS}",
                (
                    json.dumps(list(topic_words)), label, at_text, zone, team_id, created_by,
                    int(skip_when_empty), changed, now, old["id"],
                ),
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None
            return SubscribeResult(
                _subscription(row),
                created=False,
                resumed=old["paused_reason"] is not None,
                previous_at=time.fromisoformat(old["at"]),
            )

    async def unsubscribe(
        self, channel_id: str, topic_words: Sequence[str], team_id: str | None = None
    ) -> bool:
        """Remove this channel's subscription on the topic; False when there was none (or,
        with `team_id`, when it belongs to another workspace)."""
        sql = "DELETE FROM subscriptions WHERE channel_id = ? AND topic_key = ?"
        params: list[str] = [channel_id, topic_key(topic_words)]
        if team_id is not None:
            sql += " AND team_id = ?"
            params.append(team_id)
        async with self.transaction() as db:
            cursor = await db.execute(sql, params)
            return cursor.rowcount > 0

    async def list_subscriptions(
        self, channel_id: str | None = None, team_id: str | None = None
    ) -> list[Subscription]:
        """Every subscription, or those of one channel; with `team_id`, of one workspace."""
        clauses, params = [], []
        if channel_id is not None:
            clauses.append("channel_id = ?")
            params.append(channel_id)
        if team_id is not None:
            clauses.append("team_id = ?")
            params.append(team_id)
        sql = f"SELECT {_SUB_COLUMNS} FROM subscriptions"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        async with self.db.execute(sql + " ORDER BY channel_id, label, id", params) as cursor:
            return [_subscription(row) async for row in cursor]

    async def get_subscription(self, subscription_id: int) -> Subscription | None:
        async with self.db.execute(
            f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE id = ?", (subscription_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return _subscription(row) if row else None

    async def pause_subscription(self, subscription_id: int, reason: str) -> None:
        """Stop digests for a subscription Slack will not take; subscribing again resumes."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE subscriptions SET paused_reason = ?, paused_at = ? WHERE id = ?",
                (reason, to_db_time(self.clock()), subscription_id),
            )

    async def resume_subscription(self, subscription_id: int) -> bool:
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE subscriptions SET paused_reason = NULL, paused_at = NULL"
                " WHERE id = ? AND paused_reason IS NOT NULL",
                (subscription_id,),
            )
            return cursor.rowcount > 0

    async def scheduled_subscriptions(self, ids: Iterable[int] | None = None) -> list[Scheduled]:
        """Every subscription with when it became active (or only those of `ids`)."""
        sql, params = f"SELECT {_SUB_COLUMNS} FROM subscriptions", []
        if ids is not None:
            params = sorted(ids)
            sql += f" WHERE id IN ({','.join('?' * len(params)) or 'NULL'})"
        async with self.db.execute(sql, params) as cursor:
            return [
                Scheduled(_subscription(row), from_db_time(row["active_from"]))
                async for row in cursor
            ]

    # --- the digest log -------------------------------------------------------------------

    _install_id: str | None = None

    async def install_id(self) -> str:
        """This store's random install id (made by its migration), part of every digest key."""
        if self._install_id is None:
            async with self.db.execute(
                "SELECT value FROM store_meta WHERE name = 'install_id'"
            ) as cursor:
                row = await cursor.fetchone()
            assert row is not None, "the install id is made by a migration"
            self._install_id = str(row[0])
        return self._install_id

    async def digest_log(self, dates: Iterable[date]) -> list[LogEntry]:
        wanted = sorted({d.isoformat() for d in dates})
        marks = ",".join("?" * len(wanted))
        async with self.db.execute(
            f"SELECT * FROM digest_log WHERE local_date IN ({marks})", wanted
        ) as cursor:
            return [_log_entry(row) async for row in cursor]

    async def digest_status(self, subscription_id: int, local_date: date) -> str | None:
        async with self.db.execute(
            "SELECT status FROM digest_log WHERE subscription_id = ? AND local_date = ?",
            (subscription_id, local_date.isoformat()),
        ) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    async def digest_message_ts(self, subscription_id: int, local_date: date) -> str | None:
        """The Slack ts recorded for a sent digest (None: not sent, or not known)."""
        async with self.db.execute(
            "SELECT message_ts FROM digest_log WHERE subscription_id = ? AND local_date = ?",
            (subscription_id, local_date.isoformat()),
        ) as cursor:
            row = await cursor.fetchone()
        return row[0] if row else None

    async def due_now(self, now: datetime) -> list[DueDigest]:
        """What is due at `now`, without claiming anything (the dry run)."""
        scheduled = await self.scheduled_subscriptions()
        log = index_log(await self.digest_log(candidate_dates(now)))
        return due_digests(scheduled, log, now)

    async def window_start(self, subscription_id: int, now: datetime) -> datetime:
        """Where the next digest's "new since" starts: the end of the last one delivered."""
        async with self.db.execute(
            "SELECT max(window_end) FROM digest_log WHERE subscription_id = ?"
            " AND status IN ('sent', 'empty')",
            (subscription_id,),
        ) as cursor:
            row = await cursor.fetchone()
        if row and row[0]:
            return from_db_time(row[0])
        return now - FIRST_WINDOW

    async def claim_due_digests(self, now: datetime, token: str) -> list[Claim]:
        """Decide what is due and claim it, each digest by exactly one process.

        SQLite: in one `BEGIN IMMEDIATE` transaction, so other processes wait and then see
        the claims. PostgreSQL (several replicas): the due subscriptions are locked in
        batches with `FOR UPDATE SKIP LOCKED`, so replicas racing share the work instead of
        queueing; each batch is looked at again once locked (another replica may have just
        claimed it) and claimed in the same transaction.
        """
        if self.dialect.postgres:
            return await self._claim_in_batches(now, token)
        async with self.transaction():
            # Read inside BEGIN IMMEDIATE: another process's claims are committed and visible.
            return await self._claim(await self.due_now(now), now, token)

    async def _claim_in_batches(self, now: datetime, token: str) -> list[Claim]:
        candidates = sorted({item.subscription.id for item in await self.due_now(now)})
        claims: list[Claim] = []
        for start in range(0, len(candidates), CLAIM_BATCH):
            batch = candidates[start : start + CLAIM_BATCH]
            marks = ",".join("?" * len(batch))
            async with self.transaction() as db:
                async with db.execute(
                    f"SELECT id FROM subscriptions WHERE id IN ({marks})"
                    " ORDER BY id FOR UPDATE SKIP LOCKED",
                    batch,
                ) as cursor:
                    locked = {int(row[0]) async for row in cursor}
                if not locked:
                    continue
                scheduled = await self.scheduled_subscriptions(locked)
                log = index_log(await self.digest_log(candidate_dates(now)))
                claims += await self._claim(due_digests(scheduled, log, now), now, token)
        return claims

    async def _claim(self, due: list[DueDigest], now: datetime, token: str) -> list[Claim]:
        """Write the claims of `due` (inside the caller's transaction)."""
        claims: list[Claim] = []
        now_text = to_db_time(now)
        db = self.db
        for item in due:
            sub_id, day = item.subscription.id, item.local_date.isoformat()
            start = await self.window_start(sub_id, now)
            if item.reason is DueReason.FIRST:
                sql = (
                    "INSERT INTO digest_log (subscription_id, local_date, status,"
                    " claim_token, claimed_at, window_start, window_end)"
                    " VALUES (?, ?, 'claimed', ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING"
                    " RETURNING attempts, posting_since, window_start, window_end"
                )
                params: tuple[object, ...] = (
                    sub_id, day, token, now_text, to_db_time(start), now_text,
                )
            else:
                # A date that had a post attempt keeps that attempt's window: the message in
                # the channel (if any) covers it, so what is recorded, found or posted again
                # is the same digest; later positions go to the next day's.
                recovered = int(item.reason is DueReason.RECOVER)
                sql = (
                    "UPDATE digest_log SET status = 'claimed', claim_token = ?, claimed_at = ?,"
                    " attempts = attempts + 1, recovered = max(recovered, ?),"
                    " next_attempt_at = NULL, error = NULL,"
                    " window_start = CASE WHEN posting_since IS NULL THEN ?"
                    " ELSE window_start END,"
                    " window_end = CASE WHEN posting_since IS NULL THEN ? ELSE window_end END"
                    " WHERE subscription_id = ? AND local_date = ?"
                    " AND status NOT IN ('sent', 'empty', 'dropped')"
                    " RETURNING attempts, posting_since, window_start, window_end"
                )
                params = (
                    token, now_text, recovered, to_db_time(start), now_text, sub_id, day,
                )
            async with db.execute(sql, params) as cursor:
                row = await cursor.fetchone()
            if row is not None:
                since = from_db_time(row[1]) if row[1] else None
                claims.append(Claim(item, token, from_db_time(row[2]), from_db_time(row[3]),
                                    int(row[0]), since))
        return claims

    async def mark_posting(self, claim: Claim) -> bool:
        """Just before the post leaves: from here on a crash may have delivered it. The first
        such moment of the date stays in `posting_since`, where a later claim starts its
        search of the channel's history."""
        now = to_db_time(self.clock())
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE digest_log SET status = 'posting', claimed_at = ?,"
                " posting_since = ifnull(posting_since, ?)"
                " WHERE subscription_id = ? AND local_date = ? AND claim_token = ?"
                " AND status IN ('claimed', 'posting')",
                (now, now, *self._key(claim), claim.token),
            )
            return cursor.rowcount > 0

    async def refresh_claim(self, claim: Claim) -> bool:
        """Renew the lease of a claim still ours (during a history search), leaving its
        status as it is; False when another process has taken it over."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE digest_log SET claimed_at = ?"
                " WHERE subscription_id = ? AND local_date = ? AND claim_token = ?"
                " AND status IN ('claimed', 'posting')",
                (to_db_time(self.clock()), *self._key(claim), claim.token),
            )
            return cursor.rowcount > 0

    async def finish_digest(
        self,
        claim: Claim,
        status: LogStatus,
        *,
        message_ts: str | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Record how a claimed digest ended."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE digest_log SET status = ?, finished_at = ?, message_ts = ?, error = ?,"
                " next_attempt_at = ? WHERE subscription_id = ? AND local_date = ?"
                " AND claim_token = ?",
                (
                    str(status),
                    to_db_time(self.clock()),
                    message_ts,
                    error,
                    to_db_time(next_attempt_at) if next_attempt_at else None,
                    *self._key(claim),
                    claim.token,
                ),
            )

    async def release_claims(self, claims: Iterable[Claim]) -> int:
        """Give back claims never posted (a clean shutdown), so the next run sends them at
        once instead of waiting for the lease."""
        released = 0
        async with self.transaction() as db:
            for claim in claims:
                cursor = await db.execute(
                    "UPDATE digest_log SET status = 'failed', attempts = attempts - 1,"
                    " next_attempt_at = claimed_at, error = 'released'"
                    " WHERE subscription_id = ? AND local_date = ? AND claim_token = ?"
                    " AND status = 'claimed'",
                    (*self._key(claim), claim.token),
                )
                released += cursor.rowcount
        return released

    @staticmethod
    def _key(claim: Claim) -> tuple[int, str]:
        return (claim.subscription.id, claim.due.local_date.isoformat())
