"""The pure scheduling rules of `bot.schedule`, with a controlled clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from bot.models import Subscription
from bot.schedule import (
    CLAIM_LEASE,
    MAX_ATTEMPTS,
    DueReason,
    LogEntry,
    LogStatus,
    Scheduled,
    due_digests,
    index_log,
    next_wakeup,
    scheduled_instant,
)

KYIV = "Europe/Kyiv"
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
Key = tuple[int, date]


def sub(sid: int = 1, at: time = time(8, 0), zone: str = KYIV, **kw: object) -> Subscription:
    return Subscription(
        id=sid, channel_id=f"C{sid}", topic_words=("ukraine",), label="Ukraine", at=at, zone=zone,
        **kw,  # type: ignore[arg-type]
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def simulate(items: list[Scheduled], start: datetime, end: datetime) -> list[datetime]:
    """Step a clock minute by minute; each due digest is sent at once. Returns send times."""
    log: dict[tuple[int, date], LogEntry] = {}
    sent: list[datetime] = []
    now = start
    while now < end:
        for due in due_digests(items, log, now):
            log[(due.subscription.id, due.local_date)] = LogEntry(
                due.subscription.id, due.local_date, LogStatus.SENT, now
            )
            sent.append(now)
        now += timedelta(minutes=1)
    return sent


def test_fires_at_0800_kyiv_across_spring_forward() -> None:
    # Ukraine moved to summer time on Sunday 2025-03-30 at 03:00 local (01:00 UTC).
    sent = simulate([Scheduled(sub(), LONG_AGO)], utc(2025, 3, 29, 0), utc(2025, 4, 1, 12))
    assert sent == [utc(2025, 3, 29, 6), utc(2025, 3, 30, 5), utc(2025, 3, 31, 5),
                    utc(2025, 4, 1, 5)]


def test_fires_at_0800_kyiv_across_fall_back() -> None:
    # Back to winter time on Sunday 2025-10-26 at 04:00 local (01:00 UTC).
    sent = simulate([Scheduled(sub(), LONG_AGO)], utc(2025, 10, 25, 0), utc(2025, 10, 28, 12))
    assert sent == [utc(2025, 10, 25, 5), utc(2025, 10, 26, 6), utc(2025, 10, 27, 6),
                    utc(2025, 10, 28, 6)]


def test_times_inside_the_gap_and_the_overlap_fire_once() -> None:
    gap = Scheduled(sub(1, at=time(3, 30)), LONG_AGO)  # 03:30 does not exist on 2025-03-30
    overlap = Scheduled(sub(2, at=time(3, 30)), LONG_AGO)  # 03:30 happens twice on 2025-10-26
    spring = simulate([gap], utc(2025, 3, 29, 23), utc(2025, 3, 31, 0))
    autumn = simulate([overlap], utc(2025, 10, 25, 22), utc(2025, 10, 27, 0))
    assert spring == [utc(2025, 3, 30, 1, 30)]  # 04:30 summer time: the gap's length later
    assert autumn == [utc(2025, 10, 26, 0, 30)]  # the first 03:30 (summer time), not both


def test_scheduled_instant_follows_the_zone() -> None:
    assert scheduled_instant(time(8), KYIV, date(2025, 1, 15)) == utc(2025, 1, 15, 6)
    assert scheduled_instant(time(8), KYIV, date(2025, 7, 15)) == utc(2025, 7, 15, 5)
    assert scheduled_instant(time(8), "America/New_York", date(2025, 7, 15)) == utc(
        2025, 7, 15, 12
    )


def test_missed_digest_is_sent_later_the_same_day_but_not_the_next() -> None:
    items = [Scheduled(sub(), LONG_AGO)]
    # Down from 07:00 to 13:00 local: sent once at 13:00 local.
    due = due_digests(items, {}, utc(2025, 1, 15, 11))
    assert [(d.local_date, d.reason) for d in due] == [(date(2025, 1, 15), DueReason.FIRST)]
    # Down all of the 15th, back at 07:00 local on the 16th: nothing for the 15th, nothing yet.
    assert due_digests(items, {}, utc(2025, 1, 16, 5)) == []


def test_local_date_not_utc_date_decides() -> None:
    # 00:30 local in Kyiv on Jan 16 is still Jan 15 in UTC.
    items = [Scheduled(sub(at=time(0, 30)), LONG_AGO)]
    due = due_digests(items, {}, utc(2025, 1, 15, 22, 31))
    assert [d.local_date for d in due] == [date(2025, 1, 16)]


def test_paused_and_not_yet_active_subscriptions_are_not_due() -> None:
    now = utc(2025, 1, 15, 10)
    paused = Scheduled(sub(1, paused_reason="not_in_channel"), LONG_AGO)
    created_after_today_time = Scheduled(sub(2), utc(2025, 1, 15, 9))  # 11:00 local > 08:00
    assert due_digests([paused, created_after_today_time], {}, now) == []
    # ...and the new one fires the next morning.
    assert [d.subscription.id for d in due_digests([created_after_today_time], {},
                                                   utc(2025, 1, 16, 6))] == [2]


def entry(status: LogStatus, claimed_at: datetime, **kw: object) -> dict[Key, LogEntry]:
    row = LogEntry(1, date(2025, 1, 15), status, claimed_at, **kw)  # type: ignore[arg-type]
    return index_log([row])


def test_claims_and_failures_become_due_again_by_the_rules() -> None:
    items = [Scheduled(sub(), LONG_AGO)]
    t0 = utc(2025, 1, 15, 6)
    just_after = t0 + timedelta(minutes=1)
    after_lease = t0 + CLAIM_LEASE

    def reasons(log: dict[tuple[int, date], LogEntry], now: datetime) -> list[DueReason]:
        return [d.reason for d in due_digests(items, log, now)]

    for final in (LogStatus.SENT, LogStatus.EMPTY, LogStatus.DROPPED):
        assert reasons(entry(final, t0), after_lease + timedelta(hours=5)) == []
    # A live claim is left alone; a dead one is taken over.
    assert reasons(entry(LogStatus.CLAIMED, t0), just_after) == []
    assert reasons(entry(LogStatus.CLAIMED, t0), after_lease) == [DueReason.ABANDONED]
    # A post in flight when its process died: retried once, then left alone.
    assert reasons(entry(LogStatus.POSTING, t0), just_after) == []
    assert reasons(entry(LogStatus.POSTING, t0), after_lease) == [DueReason.RECOVER]
    assert reasons(entry(LogStatus.POSTING, t0, recovered=True), after_lease) == []
    # Failed: at next_attempt_at, up to MAX_ATTEMPTS.
    later = t0 + timedelta(minutes=5)
    assert reasons(entry(LogStatus.FAILED, t0, next_attempt_at=later), just_after) == []
    assert reasons(entry(LogStatus.FAILED, t0, next_attempt_at=later), later) == [
        DueReason.RETRY
    ]
    assert reasons(
        entry(LogStatus.FAILED, t0, next_attempt_at=later, attempts=MAX_ATTEMPTS), later
    ) == []


def test_next_wakeup() -> None:
    items = [Scheduled(sub(1), LONG_AGO), Scheduled(sub(2, at=time(9, 15)), LONG_AGO)]
    now = utc(2025, 1, 15, 4)  # 06:00 local
    assert next_wakeup(items, {}, now) == utc(2025, 1, 15, 6)
    sent = index_log([LogEntry(1, date(2025, 1, 15), LogStatus.SENT, utc(2025, 1, 15, 6))])
    assert next_wakeup(items, sent, utc(2025, 1, 15, 6, 0, 30)) == utc(2025, 1, 15, 7, 15)
    claimed = entry(LogStatus.CLAIMED, utc(2025, 1, 15, 6))
    assert next_wakeup(items[:1], claimed, utc(2025, 1, 15, 6, 1)) == utc(2025, 1, 15, 6) + (
        CLAIM_LEASE
    )
    # After today's, the next is tomorrow's.
    assert next_wakeup(items[:1], sent, utc(2025, 1, 15, 7)) == utc(2025, 1, 16, 6)
    assert next_wakeup([], {}, now) is None
