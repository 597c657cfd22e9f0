"""Which daily digests are due: pure functions of (subscriptions, digest log, now).

Nothing here reads a clock, the store or Slack, so every rule is tested with a fixed `now`.

Rules
- A subscription fires once per *local* date, at its local time in its IANA zone (zoneinfo),
  so 08:00 Europe/Kyiv is 06:00 UTC in winter and 05:00 UTC in summer. A local time that does
  not exist on a spring-forward day fires that much later (03:30 -> 04:30); an ambiguous
  autumn time fires at its first occurrence. Either way, once per local date.
- Only today's local date is considered: a digest missed while the bot was down is sent when it
  comes back the same local day, never a day late for yesterday.
- A subscription is not due for a scheduled moment before `active_from` (when it was created or
  its time changed), so subscribing at 10:00 for 08:00 starts tomorrow, not now.
- A paused subscription (Slack refused to post) is never due until it is resumed.
- Log row states and what makes a row due again the same local date:
  `claimed`  decided, nothing posted yet: due again once its lease has expired (the process
             holding it died).
  `posting`  the post was in flight: after the lease, retried once (`recovered`); then left
             alone.
  `failed`   Slack was unreachable (5xx, 429, network) after the in-run retries: due again at
             `next_attempt_at` while `attempts < MAX_ATTEMPTS`.
  `sent`, `empty`, `dropped`: final for that date.
- Whether an earlier attempt may have reached Slack is the row's `posting_since` (set by the
  first post attempt of the date), not its state: a claim with it first looks for the digest
  in the channel's history (`bot.digest_history`) and records it as sent when it is there, so
  a process stopped between Slack's answer and the store's write does not duplicate it. When
  the history cannot be read (scope, membership, rate limit), it is posted again: at least
  once rather than lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.models import Subscription

# A claim not finished within this time belongs to a process that died.
CLAIM_LEASE = timedelta(minutes=10)
# How many times a digest is tried on one local date before it is given up.
MAX_ATTEMPTS = 5


class LogStatus(StrEnum):
    CLAIMED = "claimed"
    POSTING = "posting"
    SENT = "sent"
    EMPTY = "empty"  # nothing new and the subscription skips empty days: no message
    FAILED = "failed"  # transient: retried at next_attempt_at
    DROPPED = "dropped"  # final: the channel refused (subscription paused) or the message did


FINAL_STATUSES = frozenset({LogStatus.SENT, LogStatus.EMPTY, LogStatus.DROPPED})


@dataclass(frozen=True)
class Scheduled:
    """A subscription as the scheduler sees it."""

    subscription: Subscription
    active_from: datetime  # UTC; no digest is due for a scheduled moment before this


@dataclass(frozen=True)
class LogEntry:
    """One row of the digest log: a (subscription, local date) claim and how it ended."""

    subscription_id: int
    local_date: date
    status: LogStatus
    claimed_at: datetime
    attempts: int = 1
    recovered: bool = False
    next_attempt_at: datetime | None = None


class DueReason(StrEnum):
    FIRST = "first"  # no row yet for this date
    RETRY = "retry"  # a failed attempt whose back-off has passed
    ABANDONED = "abandoned"  # a claim whose process died before posting
    RECOVER = "recover"  # a post in flight when its process died: retried once


@dataclass(frozen=True)
class DueDigest:
    subscription: Subscription
    local_date: date
    scheduled_at: datetime  # UTC
    reason: DueReason


LogIndex = Mapping[tuple[int, date], LogEntry]


def scheduled_instant(at: time, zone: str, local_date: date) -> datetime:
    """The UTC instant of `at` on `local_date` in `zone`.

    A time inside a spring-forward gap takes the offset from before the gap (PEP 495 fold=0),
    so it lands later by the gap's length (03:30 on Kyiv's spring-forward day is 04:30).
    """
    tz = ZoneInfo(zone)
    naive = datetime.combine(local_date, at.replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=tz).astimezone(UTC)


def local_today(zone: str, now: datetime) -> date:
    return now.astimezone(ZoneInfo(zone)).date()


def index_log(entries: Iterable[LogEntry]) -> dict[tuple[int, date], LogEntry]:
    return {(e.subscription_id, e.local_date): e for e in entries}


def _reason_due_again(entry: LogEntry, now: datetime) -> DueReason | None:
    """Whether an existing row for today makes the digest due again, and why."""
    if entry.status in FINAL_STATUSES:
        return None
    if entry.status is LogStatus.FAILED:
        if entry.attempts >= MAX_ATTEMPTS:
            return None
        if entry.next_attempt_at is None or entry.next_attempt_at <= now:
            return DueReason.RETRY
        return None
    expired = entry.claimed_at + CLAIM_LEASE <= now
    if not expired or entry.attempts >= MAX_ATTEMPTS:
        return None
    if entry.status is LogStatus.CLAIMED:
        return DueReason.ABANDONED
    if entry.status is LogStatus.POSTING and not entry.recovered:
        return DueReason.RECOVER
    return None


def due_digests(
    subscriptions: Sequence[Scheduled], digest_log: LogIndex, now: datetime
) -> list[DueDigest]:
    """The digests to send at `now`, earliest scheduled first."""
    due: list[DueDigest] = []
    for item in subscriptions:
        sub = item.subscription
        if sub.paused_reason:
            continue
        today = local_today(sub.zone, now)
        at = scheduled_instant(sub.at, sub.zone, today)
        if at > now or at < item.active_from:
            continue
        entry = digest_log.get((sub.id, today))
        reason = DueReason.FIRST if entry is None else _reason_due_again(entry, now)
        if reason is not None:
            due.append(DueDigest(sub, today, at, reason))
    due.sort(key=lambda d: (d.scheduled_at, d.subscription.id))
    return due


def next_wakeup(
    subscriptions: Sequence[Scheduled], digest_log: LogIndex, now: datetime
) -> datetime | None:
    """The earliest moment after `now` at which something may become due (None: nothing)."""
    candidates: list[datetime] = []
    for item in subscriptions:
        sub = item.subscription
        if sub.paused_reason:
            continue
        today = local_today(sub.zone, now)
        for offset in (0, 1):
            day = today + timedelta(days=offset)
            at = scheduled_instant(sub.at, sub.zone, day)
            if at > now and at >= item.active_from:
                candidates.append(at)
                break
        entry = digest_log.get((sub.id, today))
        if entry is None or entry.status in FINAL_STATUSES:
            continue
        if entry.status is LogStatus.FAILED:
            if entry.next_attempt_at is not None and entry.attempts < MAX_ATTEMPTS:
                candidates.append(max(entry.next_attempt_at, now))
        else:
            candidates.append(max(entry.claimed_at + CLAIM_LEASE, now))
    return min(candidates) if candidates else None


def candidate_dates(now: datetime) -> tuple[date, date, date]:
    """Every local date some zone can be in at `now` (zones span UTC-12 to UTC+14)."""
    utc_day = now.astimezone(UTC).date()
    return (utc_day - timedelta(days=1), utc_day, utc_day + timedelta(days=1))
